"""Type-checks an expression against an Env and collects every error at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import did_you_mean
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
    children,
    walk,
)
from .catalog import (
    ABC_CLASSES,
    FUNCTIONS,
    PARTITIONS,
    RANK_PREFIX,
    SEGMENT_FUNCTIONS,
    Env,
    Function,
    segment_key,
    trigger_summary,
)
from .errors import ExprError
from .parser import parse
from .types import (
    BOOL,
    DATE,
    DECIMAL,
    DURATION,
    DYN,
    INT,
    NULL,
    STRING,
    Type,
    arithmetic,
    comparable,
    is_list,
    is_numeric,
    list_of,
    negate,
    unify,
)
from .values import INT_MAX, decimal_fits, parse_date

# SQL repeats the arguments of some functions; bound the size of the generated SQL.
SQL_REPEATS = {"is_birthday": 6}
MAX_SQL_WEIGHT = 20_000
ORDERING = {"<", "<=", ">", ">="}
ARITHMETIC_OPS = {"+", "-", "*", "/", "%"}
LITERAL_TYPES: Mapping[type, Type] = {
    IntLit: INT,
    DecimalLit: DECIMAL,
    StringLit: STRING,
    BoolLit: BOOL,
    NullLit: NULL,
    DurationLit: DURATION,
}


@dataclass(frozen=True)
class CheckResult:
    """The type of a checked expression (None if it did not parse) and all its errors."""

    type: Type | None
    errors: list[ExprError]
    node: Node | None = None
    types: Mapping[Node, Type] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class Checker:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.errors: list[ExprError] = []
        self.types: dict[Node, Type] = {}
        # Each rule takes its own node class: dispatch is by type(node).
        self.rules: dict[type, Callable[[Any], Type]] = {
            ListLit: self._bare_list,
            Path: self._path,
            Unary: self._unary,
            Binary: self._binary,
            Ternary: self._ternary,
            Call: self._call,
        }

    def error(self, code: str, message: str, node: Node, suggestion: str | None = None) -> Type:
        self.errors.append(ExprError(code, message, node.start, node.end, suggestion))
        return DYN

    def visit(self, node: Node) -> Type:
        literal = LITERAL_TYPES.get(type(node))
        result = literal if literal is not None else self.rules[type(node)](node)
        if isinstance(node, IntLit) and node.value > INT_MAX:
            self.error("expr.bad-number", f"integer {node.value} is out of range", node,
                       f"integers are {-INT_MAX - 1} to {INT_MAX}")
        self.types[node] = result
        return result

    def check_coercions(self, root: Node) -> None:
        """An int constant used as a decimal must fit a decimal: both evaluators would
        otherwise find it missing (or, in SQL, fail to convert it)."""
        for node in walk(root):
            for operand in decimal_operands(node, self.types):
                if isinstance(operand, IntLit) and not decimal_fits(operand.value):
                    self.error("expr.out-of-range",
                               f"{operand.value} is used as a decimal here, and decimals are "
                               "below 10^15 (15 digits before the point)", operand,
                               "use a smaller number, or keep the whole expression int")

    # -- names ---------------------------------------------------------------
    def _path(self, node: Path) -> Type:
        if node.path == "params" or node.path.startswith("params."):
            return self._param(node)
        found = self.env.facts.get(node.path)
        if found is not None:
            return found
        if node.path in self.env.catalog:
            where = f"a {self.env.trigger} trigger" if self.env.trigger else "this context"
            hint = trigger_summary(self.env.trigger) if self.env.trigger else None
            return self.error(
                "expr.fact-not-available",
                f"{node.path} is not available for {where}",
                node,
                f"this trigger has {hint}" if hint else None,
            )
        known = [*self.env.facts, *(f"params.{p}" for p in self.env.params)]
        return self.error(
            "expr.unknown-fact",
            f"unknown fact {node.path!r}",
            node,
            did_you_mean(node.path, known),
        )

    def _param(self, node: Path) -> Type:
        name = node.path[len("params.") :]
        found = self.env.params.get(name)
        if found is not None:
            return found
        declared = ", ".join(sorted(self.env.params)) or "none"
        return self.error(
            "expr.unknown-param",
            f"unknown parameter {node.path!r} (declared: {declared})",
            node,
            did_you_mean(name, self.env.params) or "declare it under params:",
        )

    # -- operators -----------------------------------------------------------
    def _bare_list(self, node: ListLit) -> Type:
        self._list(node)
        return self.error("expr.type", "a list can only follow 'in' or be passed to size()", node)

    def _list(self, node: ListLit) -> Type:
        elem = NULL
        for item in node.items:
            item_type = self.visit(item)
            common = unify(elem, item_type)
            if common is None:
                self.error("expr.type", f"list mixes {elem} and {item_type}", item)
                return list_of(DYN)
            elem = common
        result = list_of(elem)
        self.types[node] = result
        return result

    def _unary(self, node: Unary) -> Type:
        operand = self.visit(node.operand)
        if node.op == "!":
            return self._want_bool(operand, node.operand, "'!'")
        result = negate(operand)
        if result is None:
            return self.error("expr.type", f"cannot negate {operand}", node)
        return result

    def _want_bool(self, got: Type, node: Node, what: str) -> Type:
        if got in (BOOL, DYN):
            return BOOL
        self.error("expr.type", f"{what} needs bool, got {got}", node)
        return BOOL

    def _binary(self, node: Binary) -> Type:
        if node.op in ("&&", "||"):
            self._want_bool(self.visit(node.left), node.left, f"'{node.op}'")
            self._want_bool(self.visit(node.right), node.right, f"'{node.op}'")
            return BOOL
        if node.op == "in":
            return self._in(node)
        left, right = self.visit(node.left), self.visit(node.right)
        if node.op in ("==", "!=") or node.op in ORDERING:
            return self._compare(node, left, right)
        if NULL in (left, right):
            return self.error(
                "expr.type", f"null in arithmetic is always missing ('{node.op}')", node
            )
        result = arithmetic(node.op, left, right)
        if result is None:
            return self.error("expr.type", f"cannot apply '{node.op}' to {left} and {right}", node)
        return result

    def _compare(self, node: Binary, left: Type, right: Type) -> Type:
        if NULL in (left, right):
            return self.error(
                "expr.type",
                "comparing with null is always missing",
                node,
                "use has(x) or !has(x) to test for a missing value",
            )
        if not comparable(left, right, node.op in ORDERING):
            message = f"cannot compare {left} with {right}"
            if left == right == BOOL:
                message = f"bools cannot be ordered with '{node.op}'"
            return self.error("expr.type", message, node)
        self._known_value(node.left, node.right)
        self._known_value(node.right, node.left)
        return BOOL

    def _known_value(self, subject: Node, value: Node) -> None:
        if not isinstance(value, StringLit):
            return
        if isinstance(subject, Path):
            name, allowed = subject.path, self.env.values.get(subject.path)
        elif isinstance(subject, Call) and subject.name == "abc_class":
            name, allowed = "abc_class()", frozenset(ABC_CLASSES)
        else:
            return
        if allowed is not None and value.value not in allowed:
            self.error(
                "expr.unknown-value",
                f"{name} is never {value.value!r}; it is one of " + ", ".join(sorted(allowed)),
                value,
                did_you_mean(value.value, allowed),
            )

    def _in(self, node: Binary) -> Type:
        left = self.visit(node.left)
        if not isinstance(node.right, ListLit):
            self.visit(node.right)
            return self.error("expr.type", "'in' needs a list literal [a, b, ...]", node.right)
        elem = self._list(node.right).elem or DYN
        if left == NULL:
            return self.error("expr.type", "testing null with 'in' is always missing", node)
        if elem not in (NULL, DYN) and not comparable(left, elem, False):
            return self.error("expr.type", f"cannot look for {left} in list<{elem}>", node)
        for item in node.right.items:
            self._known_value(node.left, item)
        return BOOL

    def _ternary(self, node: Ternary) -> Type:
        self._want_bool(self.visit(node.test), node.test, "the condition of '?:'")
        then, other = self.visit(node.then), self.visit(node.other)
        common = unify(then, other)
        if common is None:
            return self.error("expr.type", f"the branches of '?:' are {then} and {other}", node)
        return common

    # -- calls ---------------------------------------------------------------
    def _call(self, node: Call) -> Type:
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            for arg in node.args:
                self.visit(arg)
            return self.error(
                "expr.unknown-function",
                f"unknown function {node.name}()",
                node,
                did_you_mean(node.name, FUNCTIONS),
            )
        args = [self._list(a) if isinstance(a, ListLit) else self.visit(a) for a in node.args]
        if len(args) != fn.arity:
            plural = "s" if fn.arity != 1 else ""
            return self.error(
                "expr.arity",
                f"{fn.name}() takes {fn.arity} argument{plural}, got {len(args)}",
                node,
                fn.signature,
            )
        if fn.shape is not None and not self._shape_ok(fn, node):
            return DYN
        return self._overload(fn, node, args)

    def _overload(self, fn: Function, node: Call, args: list[Type]) -> Type:
        if DYN in args:
            return fn.overloads[-1][1] if len({o[1] for o in fn.overloads}) == 1 else DYN
        for params, result in fn.overloads:
            if all(_accepts(p, a) for p, a in zip(params, args, strict=True)):
                return result
        got = ", ".join(str(a) for a in args)
        return self.error("expr.type", f"{fn.name}() does not take ({got})", node, fn.signature)

    def _shape_ok(self, fn: Function, node: Call) -> bool:
        arg = node.args[0]
        if fn.shape == "path" and not isinstance(arg, Path):
            self.error("expr.type", "has() takes a fact path such as customer.birthday", arg)
            return False
        if fn.shape == "string-literal":
            return self._date_literal(arg)
        if fn.shape in ("customer-metric", "segment"):
            return self._metric_arg(fn, node)
        return True

    def _metric_arg(self, fn: Function, node: Call) -> bool:
        """A numeric customer metric (and for a segment, a partition name)."""
        if not self.env.segments:
            self.error("expr.population", f"{fn.name}() needs every customer's value on the "
                       "date; a metric cannot use it", node, "use it in a policy condition")
            return False
        arg = node.args[0]
        metric = isinstance(arg, Path) and arg.path.startswith("customer.")
        if not (metric and is_numeric(self.types.get(arg, DYN))):
            self.error("expr.type", f"{fn.name}() takes a numeric customer metric such as "
                       "customer.spend_last_year", arg, fn.signature)
            return False
        if fn.shape != "segment":
            return True
        partition = node.args[1]
        if not isinstance(partition, StringLit):
            self.error("expr.type", f'{fn.name}() takes the partition as a string literal: '
                       '"region", "store" or "franchise"', partition)
            return False
        if partition.value not in PARTITIONS:
            self.error("expr.unknown-value", f"{partition.value!r} is not a partition; one of "
                       + ", ".join(PARTITIONS), partition,
                       did_you_mean(partition.value, PARTITIONS))
            return False
        return True

    def _date_literal(self, arg: Node) -> bool:
        if not isinstance(arg, StringLit):
            self.error("expr.type", 'date() takes a string literal such as "2024-12-31"', arg)
            return False
        if parse_date(arg.value) is None:
            self.error("expr.bad-date", f"{arg.value!r} is not a valid date (YYYY-MM-DD)", arg)
            return False
        return True


def decimal_operands(node: Node, types: Mapping[Node, Type]) -> tuple[Node, ...]:
    """The operands of `node` that are converted to decimal when it is evaluated: both
    sides of decimal arithmetic, the branches of a decimal `?:`, min/max arguments."""
    if types.get(node) != DECIMAL:
        return ()
    if isinstance(node, Binary) and node.op in ARITHMETIC_OPS:
        operands: tuple[Node, ...] = (node.left, node.right)
    elif isinstance(node, Ternary):
        operands = (node.then, node.other)
    elif isinstance(node, Call) and node.name in ("min", "max"):
        operands = node.args
    else:
        return ()
    return tuple(o for o in operands if types.get(o) == INT)


def _accepts(param: Type, arg: Type) -> bool:
    if param in (DYN, arg) or arg == DYN:
        return True
    if param == DECIMAL and arg == INT:
        return True
    return is_list(param) and is_list(arg)


def sql_weight(node: Node, types: Mapping[Node, Type] | None = None) -> int:
    """Roughly how many SQL nodes `node` compiles to (some functions repeat arguments,
    and date arithmetic repeats its result to test its range)."""
    weights: dict[int, int] = {}
    for current in reversed(walk(node)):
        repeat = SQL_REPEATS.get(current.name, 1) if isinstance(current, Call) else 1
        if isinstance(current, Binary) and types and types.get(current) == DATE:
            repeat = 2
        kids = [weights[id(child)] for child in children(current)]
        weights[id(current)] = 1 + repeat * sum(kids)
    return weights[id(node)]


def check(expr: str | Node, env: Env, *, want_bool: bool = False) -> CheckResult:
    """Parse (if given text) and type-check; every error is returned, none raised.

    `want_bool` marks a condition: its type must be bool (`expr.not-bool`).
    """
    try:
        node = parse(expr) if isinstance(expr, str) else expr
    except ExprError as err:
        return CheckResult(None, [err])
    checker = Checker(env)
    result = checker.visit(node)
    checker.check_coercions(node)
    if want_bool and result not in (BOOL, DYN):
        checker.error("expr.not-bool", f"a condition must be bool, this is {result}", node)
    if sql_weight(node, checker.types) > MAX_SQL_WEIGHT:
        checker.error("expr.too-complex", "expression is too complex to compile", node)
    errors = sorted(set(checker.errors), key=ExprError.key)
    return CheckResult(result, errors, node, checker.types)


def population_key(node: Node) -> str | None:
    """The synthetic fact key a population function call reads, if `node` is one:
    `rank_in_region:customer.m`, or `percentile_in:<partition>:customer.m` and the like."""
    if not isinstance(node, Call) or not node.args or not isinstance(node.args[0], Path):
        return None
    path = node.args[0].path
    if node.name == "rank_in_region":
        return RANK_PREFIX + path
    if node.name in SEGMENT_FUNCTIONS and len(node.args) == 2:
        partition = node.args[1]
        if isinstance(partition, StringLit):
            return segment_key(node.name, partition.value, path)
    return None


__all__ = ["CheckResult", "Checker", "check", "decimal_operands", "population_key",
           "sql_weight"]
