"""Compiles a checked expression into a SQLGlot tree for DuckDB.

Same meaning as evaluate.py, NULL for missing: DuckDB's AND/OR/NOT/IN are already
Kleene. Values are DECIMAL(18,3), BIGINT, DATE, VARCHAR, BOOLEAN and, for durations,
BIGINT days. A result outside its type's range (values.py) is NULL, as it is missing
in Python. User text only ever enters as `exp.Literal` values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from sqlglot import exp

from .ast import (
    Binary,
    BoolLit,
    Call,
    DecimalLit,
    DurationLit,
    IntLit,
    ListLit,
    Node,
    NullLit,
    Path,
    StringLit,
    Ternary,
    Unary,
)
from .checker import CheckResult, population_key
from .errors import ExprError
from .types import BOOL, DATE, DECIMAL, DURATION, INT, STRING, Type
from .values import DURATION_DAYS

Resolver = Callable[[str], exp.Expression]

DEC = exp.DataType.build("DECIMAL(18,3)")
WIDE_DEC = exp.DataType.build("DECIMAL(38,3)")
HUGEINT = exp.DataType.build("HUGEINT")
BIGINT = exp.DataType.build("BIGINT")
INTEGER = exp.DataType.build("INTEGER")
# Exactly the range of a duration, +-999,999,999 days: TRY_CAST to it is the range check.
DURATION_RANGE = exp.DataType.build(f"DECIMAL({len(str(DURATION_DAYS))},0)")
DATE_TYPE = exp.DataType.build("DATE")
FIRST_DAY, LAST_DAY = "0001-01-01", "9999-12-31"
SQL_TYPES: Mapping[Type, exp.DataType] = {
    BOOL: exp.DataType.build("BOOLEAN"),
    INT: BIGINT,
    DECIMAL: DEC,
    DATE: DATE_TYPE,
    DURATION: BIGINT,
    STRING: exp.DataType.build("VARCHAR"),
}
COMPARE: Mapping[str, type[exp.Expression]] = {
    "==": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}
ARITH: Mapping[str, type[exp.Expression]] = {
    "+": exp.Add,
    "-": exp.Sub,
    "*": exp.Mul,
    "/": exp.IntDiv,
    "%": exp.Mod,
}
# Operators (AND and OR are Funcs too in SQLGlot, so test for these, not for atoms).
COMPOUND = (exp.Binary, exp.Unary, exp.In, exp.Is, exp.Connector)


def _p(node: exp.Expression) -> exp.Expression:
    """Parenthesise compound operands: SQLGlot prints trees without adding any."""
    compound = isinstance(node, COMPOUND) and not isinstance(node, exp.Paren)
    if compound or (isinstance(node, exp.Literal) and node.this.startswith("-")):
        return exp.Paren(this=node)
    return node


def _cast(node: exp.Expression, to: exp.DataType, safe: bool = False) -> exp.Expression:
    kind = exp.TryCast if safe else exp.Cast
    return kind(this=node, to=to.copy())


def _op(cls: type[exp.Expression], left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return cls(this=_p(left), expression=_p(right))


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _int_math(cls: type[exp.Expression], a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """BIGINT arithmetic done in HUGEINT: overflow gives NULL, as in Python."""
    if cls in (exp.IntDiv, exp.Mod):
        b = exp.Nullif(this=b, expression=exp.Literal.number(0))
    return _cast(_op(cls, _cast(a, HUGEINT), b), BIGINT, safe=True)


def _duration_math(cls: type[exp.Expression], a: exp.Expression, b: exp.Expression
                   ) -> exp.Expression:
    """Days + or - days, NULL outside the duration range (Python's timedelta overflows)."""
    in_range = _cast(_op(cls, _cast(a, HUGEINT), b), DURATION_RANGE, safe=True)
    return _cast(in_range, BIGINT)


def _date_math(cls: type[exp.Expression], day: exp.Expression, days: exp.Expression
               ) -> exp.Expression:
    """A date plus or minus days, NULL outside the years 1-9999 (as Python's date).

    The result is tested and returned, so it appears twice: the checker counts that in
    the expression's SQL weight."""
    moved = _op(cls, day, _cast(days, INTEGER, safe=True))
    bounds = exp.Between(this=_p(moved), low=_cast(exp.Literal.string(FIRST_DAY), DATE_TYPE),
                         high=_cast(exp.Literal.string(LAST_DAY), DATE_TYPE))
    return exp.Case(ifs=[exp.If(this=bounds, true=moved.copy())])


def _date_diff(later: exp.Expression, earlier: exp.Expression) -> exp.Expression:
    """BIGINT days; date_diff, not DATE - DATE, which Spark reads as an interval."""
    return exp.DateDiff(this=_p(later), expression=_p(earlier), unit=exp.var("DAY"))


def _dec_math(cls: type[exp.Expression], a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """DECIMAL(18,3) arithmetic: exact in DECIMAL(38,x), then rounded (NULL on overflow)."""
    if cls is exp.IntDiv:
        return _dec_div(a, b)
    return _cast(_op(cls, _cast(a, WIDE_DEC), _cast(b, WIDE_DEC)), DEC, safe=True)


def _units(value: exp.Expression) -> exp.Expression:
    return _cast(_op(exp.Mul, _cast(value, WIDE_DEC), exp.Literal.number(1000)), HUGEINT)


def _dec_div(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """a / b truncated toward zero to 3 places, in integer thousandths (DuckDB's decimal
    division would go through DOUBLE)."""
    quotient = _int_div_units(_op(exp.Mul, _units(a), exp.Literal.number(1000)), _units(b))
    scaled = _op(
        exp.Mul,
        _cast(quotient, exp.DataType.build("DECIMAL(38,0)")),
        _cast(exp.Literal.string("0.001"), exp.DataType.build("DECIMAL(4,3)")),
    )
    return _cast(scaled, DEC, safe=True)


def _int_div_units(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    return _op(exp.IntDiv, a, exp.Nullif(this=b, expression=exp.Literal.number(0)))


class SqlCompiler:
    def __init__(self, types: Mapping[Node, Type], columns: Resolver, params: Resolver) -> None:
        self.types = types
        self.columns = columns
        self.params = params

    def compile(self, node: Node) -> exp.Expression:
        if isinstance(node, Path):
            return self._path(node)
        if isinstance(node, Unary):
            return self._unary(node)
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Ternary):
            return self._ternary(node)
        if isinstance(node, Call):
            return FUNCTIONS[node.name](self, node)
        return literal(node)

    def coerced(self, node: Node, want: Type) -> exp.Expression:
        """An int where a decimal is wanted; one that does not fit is NULL (missing)."""
        if want == DECIMAL and isinstance(node, IntLit):
            return _cast(exp.Literal.string(str(node.value)), DEC, safe=True)
        sql = self.compile(node)
        if want == DECIMAL and self.types[node] == INT:
            return _cast(sql, DEC, safe=True)
        return sql

    def _path(self, node: Path) -> exp.Expression:
        if node.path.startswith("params."):
            return self.params(node.path[len("params.") :])
        return self.columns(node.path)

    def _unary(self, node: Unary) -> exp.Expression:
        operand = self.compile(node.operand)
        if node.op == "!":
            return exp.Not(this=_p(operand))
        if self.types[node] == DECIMAL:
            return exp.Neg(this=_p(operand))
        return _cast(exp.Neg(this=_p(_cast(operand, HUGEINT))), BIGINT, safe=True)

    def _binary(self, node: Binary) -> exp.Expression:
        if node.op in ("&&", "||"):
            cls = exp.And if node.op == "&&" else exp.Or
            return _op(cls, self.compile(node.left), self.compile(node.right))
        if node.op == "in":
            return self._in(node)
        if node.op in COMPARE:
            return _op(COMPARE[node.op], self.compile(node.left), self.compile(node.right))
        return self._arithmetic(node)

    def _in(self, node: Binary) -> exp.Expression:
        """`x in [a, b]` means `x == a || x == b`: numbers are compared exactly, so ints
        and decimals meet in DECIMAL(38,3), which holds both (no item is converted to
        DECIMAL(18,3), where a big int would not fit)."""
        assert isinstance(node.right, ListLit)
        subject = self.compile(node.left)
        items = [self.compile(item) for item in node.right.items]
        numbers = {self.types[n] for n in (node.left, *node.right.items)} & {INT, DECIMAL}
        if len(numbers) == 2:
            subject = _cast(subject, WIDE_DEC)
            items = [_cast(item, WIDE_DEC) for item in items]
        if not items:  # x in [] is false, or missing when x is missing
            return exp.Case(
                ifs=[exp.If(this=exp.Is(this=_p(subject), expression=exp.Null()), true=exp.Null())],
                default=exp.false(),
            )
        return exp.In(this=_p(subject), expressions=items)

    def _arithmetic(self, node: Binary) -> exp.Expression:
        result = self.types[node]
        cls = ARITH[node.op]
        if result == DECIMAL:
            left, right = self.coerced(node.left, DECIMAL), self.coerced(node.right, DECIMAL)
            return _dec_math(cls, left, right)
        left, right = self.compile(node.left), self.compile(node.right)
        if result == STRING:
            return exp.DPipe(this=_p(left), expression=_p(right), safe=True)
        if result == DATE:  # DuckDB adds INTEGER (not BIGINT) days to a DATE
            if self.types[node.left] == DURATION:
                left, right = right, left
            return _date_math(cls, left, right)
        if result == DURATION and self.types[node.left] == DATE:
            return _date_diff(left, right)
        if result == DURATION:
            return _duration_math(cls, left, right)
        return _int_math(cls, left, right)

    def _ternary(self, node: Ternary) -> exp.Expression:
        want = self.types[node]
        return exp.Case(
            this=_p(self.compile(node.test)),
            ifs=[
                exp.If(this=exp.true(), true=self.coerced(node.then, want)),
                exp.If(this=exp.false(), true=self.coerced(node.other, want)),
            ],
        )


# -- functions (dispatch table) ------------------------------------------------
SqlBuilder = Callable[[SqlCompiler, Call], exp.Expression]


def _has(c: SqlCompiler, node: Call) -> exp.Expression:
    return exp.Not(this=exp.Is(this=_p(c.compile(node.args[0])), expression=exp.Null()))


def _is_birthday(c: SqlCompiler, node: Call) -> exp.Expression:
    birthday, day = c.compile(node.args[0]), c.compile(node.args[1])

    def part(cls: type[exp.Expression], value: exp.Expression, n: int) -> exp.Expression:
        return exp.EQ(this=cls(this=value.copy()), expression=exp.Literal.number(n))

    def same(cls: type[exp.Expression]) -> exp.Expression:
        return exp.EQ(this=cls(this=birthday.copy()), expression=cls(this=day.copy()))

    missing = exp.Or(
        this=exp.Is(this=_p(birthday.copy()), expression=exp.Null()),
        expression=exp.Is(this=_p(day.copy()), expression=exp.Null()),
    )
    feb29_on_28 = exp.and_(
        part(exp.Month, birthday, 2),
        part(exp.Day, birthday, 29),
        part(exp.Month, day, 2),
        part(exp.Day, day, 28),
        part(exp.Day, exp.LastDay(this=day.copy()), 28),
    )
    return exp.Case(
        ifs=[
            exp.If(this=missing, true=exp.Null()),
            exp.If(this=exp.and_(same(exp.Month), same(exp.Day)), true=exp.true()),
        ],
        default=feb29_on_28,
    )


def _days_between(c: SqlCompiler, node: Call) -> exp.Expression:
    return _date_diff(c.compile(node.args[1]), c.compile(node.args[0]))


def _part(cls: type[exp.Expression]) -> SqlBuilder:
    return lambda c, node: cls(this=c.compile(node.args[0]))


def _date(c: SqlCompiler, node: Call) -> exp.Expression:
    return _cast(exp.Literal.string(node.args[0].value), DATE_TYPE)  # type: ignore[union-attr]


def _size(c: SqlCompiler, node: Call) -> exp.Expression:
    return exp.Literal.number(len(node.args[0].items))  # type: ignore[union-attr]


def _floor(c: SqlCompiler, node: Call) -> exp.Expression:
    arg = c.compile(node.args[0])
    if c.types[node.args[0]] == INT:
        return arg
    return _cast(exp.Floor(this=arg), BIGINT)


def _abs(c: SqlCompiler, node: Call) -> exp.Expression:
    arg = c.compile(node.args[0])
    if c.types[node] == INT:
        return _cast(exp.Abs(this=_cast(arg, HUGEINT)), BIGINT, safe=True)
    return exp.Abs(this=arg)


def _extreme(order: str) -> SqlBuilder:
    """min/max that are NULL when either side is (LEAST/GREATEST skip NULLs); each
    argument appears once, so nesting does not blow up the SQL."""

    def build(c: SqlCompiler, node: Call) -> exp.Expression:
        want = c.types[node]
        pair = exp.Array(expressions=[c.coerced(a, want) for a in node.args])
        ordered = _fn(
            "list_sort", pair, exp.Literal.string(order), exp.Literal.string("NULLS FIRST")
        )
        return _fn("list_extract", ordered, exp.Literal.number(1))

    return build


def _population(c: SqlCompiler, node: Call) -> exp.Expression:
    """rank_in_region, percentile_in, abc_class: columns the batch computes over every
    customer (engine/segments.py), read by their key."""
    key = population_key(node)
    assert key is not None  # checked: a metric path (and a partition literal)
    return c.columns(key)


FUNCTIONS: Mapping[str, SqlBuilder] = {
    "has": _has,
    "is_birthday": _is_birthday,
    "days_between": _days_between,
    "year": _part(exp.Year),
    "month": _part(exp.Month),
    "day": _part(exp.Day),
    "weekday": lambda c, node: _fn("isodow", c.compile(node.args[0])),
    "date": _date,
    "size": _size,
    "floor": _floor,
    "abs": _abs,
    "min": _extreme("ASC"),
    "max": _extreme("DESC"),
    "rank_in_region": _population,
    "percentile_in": _population,
    "abc_class": _population,
}


def literal(node: Node) -> exp.Expression:
    """A literal node as a typed SQL literal."""
    if isinstance(node, NullLit):
        return exp.Null()
    if isinstance(node, BoolLit):
        return exp.true() if node.value else exp.false()
    if isinstance(node, StringLit):
        return exp.Literal.string(node.value)
    if isinstance(node, DecimalLit):
        return _cast(exp.Literal.string(str(node.value)), DEC)
    if isinstance(node, DurationLit):
        return exp.Literal.number(node.days)
    if isinstance(node, IntLit):
        number = exp.Literal.number(node.value)
        return number if abs(node.value) < 2**31 else _cast(number, BIGINT)
    raise TypeError(f"not a literal: {node!r}")


def sql_value(value: object, type_: Type) -> exp.Expression:
    """A Python value (e.g. a resolved param) as a typed SQL literal; None is NULL."""
    if value is None:
        return _cast(exp.Null(), SQL_TYPES.get(type_, exp.DataType.build("VARCHAR")))
    if type_ == BOOL:
        return exp.true() if value else exp.false()
    if type_ == DURATION:
        days = value.days if isinstance(value, timedelta) else value
        return _cast(exp.Literal.number(days), BIGINT)
    if type_ == DATE and isinstance(value, date):
        return _cast(exp.Literal.string(value.isoformat()), DATE_TYPE)
    if type_ == DECIMAL:
        return _cast(exp.Literal.string(str(Decimal(value))), DEC)  # type: ignore[arg-type]
    if type_ == INT:
        return _cast(exp.Literal.number(int(value)), BIGINT)  # type: ignore[call-overload]
    return exp.Literal.string(str(value))


def to_sql(
    checked: CheckResult, columns: Resolver, params: Resolver, *, condition: bool = False
) -> exp.Expression:
    """The SQL for a checked expression. `columns` maps a fact path (or a
    `rank_in_region:customer.<metric>` key) to a column, `params` a param name (without
    `params.`) to an expression. `condition=True` wraps it so missing counts as false."""
    if checked.errors or checked.node is None:
        raise checked.errors[0] if checked.errors else ExprError("expr.syntax", "no tree", 0)
    sql = SqlCompiler(checked.types, columns, params).compile(checked.node)
    if condition:
        return exp.Coalesce(this=_p(sql), expressions=[exp.false()])
    return sql
