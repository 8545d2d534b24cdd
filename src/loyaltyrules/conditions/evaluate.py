"""Compiles a checked expression into nested Python closures (never `eval`).

Missing values follow SQL NULL (Kleene) logic: a comparison, arithmetic or function
of a missing value is missing (None), except `has()`; `false && missing` is false and
`true || missing` is true. At the top level, missing counts as false (`holds`).
"""

from __future__ import annotations

import calendar
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

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
from .types import DECIMAL, DURATION, INT, STRING, Type
from .values import dec_div, dec_result, int_result, parse_date, trunc_div, trunc_mod

Facts = Mapping[str, object]
Params = Mapping[str, object]
Fn = Callable[[Facts, Params], Any]

COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
INT_OPS: Mapping[str, Callable[[int, int], int | None]] = {
    "+": lambda a, b: int_result(a + b),
    "-": lambda a, b: int_result(a - b),
    "*": lambda a, b: int_result(a * b),
    "/": lambda a, b: int_result(trunc_div(a, b)) if b else None,
    "%": lambda a, b: trunc_mod(a, b) if b else None,
}
DEC_OPS: Mapping[str, Callable[[Decimal, Decimal], Decimal | None]] = {
    "+": lambda a, b: dec_result(a + b),
    "-": lambda a, b: dec_result(a - b),
    "*": lambda a, b: dec_result(a * b),
    "/": dec_div,
}


@dataclass(frozen=True)
class Evaluator:
    """A compiled condition: call it for the value (None = missing), or `holds`."""

    fn: Fn
    type: Type

    def __call__(self, facts: Facts, params: Params | None = None) -> Any:
        return self.fn(facts, params or {})

    def holds(self, facts: Facts, params: Params | None = None) -> bool:
        """True only when the value is true: missing counts as false."""
        return self.fn(facts, params or {}) is True


def to_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    return dec_result(value)


def _as_duration(value: Any) -> Any:
    return timedelta(days=value) if isinstance(value, int) else value


class PythonCompiler:
    def __init__(self, types: Mapping[Node, Type]) -> None:
        self.types = types
        self.rules: dict[type, Callable[[Any], Fn]] = {
            IntLit: self._const,
            DecimalLit: self._const,
            StringLit: self._const,
            BoolLit: self._const,
            NullLit: self._const,
            DurationLit: self._const,
            Path: self._path,
            Unary: self._unary,
            Binary: self._binary,
            Ternary: self._ternary,
            Call: self._call,
        }

    def compile(self, node: Node) -> Fn:
        return self.rules[type(node)](node)

    def coerced(self, node: Node, want: Type) -> Fn:
        """Compile `node`, converting an int to a decimal where a decimal is wanted."""
        fn = self.compile(node)
        if want == DECIMAL and self.types[node] == INT:
            return lambda f, p: to_decimal(fn(f, p))
        return fn

    def _const(self, node: Node) -> Fn:
        value = _literal_value(node)
        return lambda f, p: value

    def _path(self, node: Path) -> Fn:
        if node.path.startswith("params."):
            name = node.path[len("params.") :]
            read: Fn = lambda f, p: p.get(name)  # noqa: E731
        else:
            key = node.path
            read = lambda f, p: f.get(key)  # noqa: E731
        if self.types[node] == DURATION:
            return lambda f, p: _as_duration(read(f, p))
        return read

    def _unary(self, node: Unary) -> Fn:
        operand = self.compile(node.operand)
        if node.op == "!":
            return lambda f, p: _not(operand(f, p))
        kind = self.types[node]
        neg: Callable[[Any], Any] = (lambda v: int_result(-v)) if kind == INT else operator.neg
        return lambda f, p: _maybe(neg, operand(f, p))

    def _binary(self, node: Binary) -> Fn:
        if node.op == "&&":
            return _and(self.compile(node.left), self.compile(node.right))
        if node.op == "||":
            return _or(self.compile(node.left), self.compile(node.right))
        if node.op == "in":
            assert isinstance(node.right, ListLit)
            return _in(self.compile(node.left), [self.compile(i) for i in node.right.items])
        if node.op in COMPARE:
            op = COMPARE[node.op]
            fact, param = self._plain_path(node.left, "fact"), self._plain_path(node.right)
            if fact is not None and param is not None:
                return _fact_versus_param(op, fact, param)
            return _binop(op, self.compile(node.left), self.compile(node.right))
        return self._arithmetic(node)

    def _plain_path(self, node: Node, kind: str = "param") -> str | None:
        """The key of a fact path (kind "fact") or a params name read as it is."""
        if not isinstance(node, Path) or self.types[node] == DURATION:
            return None
        is_param = node.path.startswith("params.")
        if is_param != (kind == "param"):
            return None
        return node.path[len("params.") :] if is_param else node.path

    def _arithmetic(self, node: Binary) -> Fn:
        result = self.types[node]
        if result == DECIMAL:
            left, right = self.coerced(node.left, DECIMAL), self.coerced(node.right, DECIMAL)
            return _binop(DEC_OPS[node.op], left, right)
        left, right = self.compile(node.left), self.compile(node.right)
        if result == INT:
            return _binop(INT_OPS[node.op], left, right)
        if result == STRING:
            return _binop(operator.add, left, right)
        op = operator.add if node.op == "+" else operator.sub
        return _binop(_no_overflow(op), left, right)

    def _ternary(self, node: Ternary) -> Fn:
        want = self.types[node]
        test = self.compile(node.test)
        then, other = self.coerced(node.then, want), self.coerced(node.other, want)

        def pick(f: Facts, p: Params) -> Any:
            chosen = test(f, p)
            if chosen is None:
                return None
            return then(f, p) if chosen else other(f, p)

        return pick

    def _call(self, node: Call) -> Fn:
        return FUNCTIONS[node.name](self, node)


# -- Kleene logic and missing-value propagation --------------------------------
def _not(value: Any) -> Any:
    return None if value is None else not value


def _maybe(fn: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else fn(value)


def _binop(op: Callable[[Any, Any], Any], left: Fn, right: Fn) -> Fn:
    def apply(f: Facts, p: Params) -> Any:
        a = left(f, p)
        if a is None:
            return None
        b = right(f, p)
        return None if b is None else op(a, b)

    return apply


def _fact_versus_param(op: Callable[[Any, Any], Any], key: str, name: str) -> Fn:
    """`fact <op> params.name`, the commonest condition (`purchase.amount >=
    params.threshold`), as one closure: the same result as _binop over two reads."""

    def compare(f: Facts, p: Params) -> Any:
        a = f.get(key)
        if a is None:
            return None
        b = p.get(name)
        return None if b is None else op(a, b)

    return compare


def _no_overflow(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Date arithmetic outside years 1..9999 is missing."""

    def safe(a: Any, b: Any) -> Any:
        try:
            return op(_as_duration(a), _as_duration(b))
        except OverflowError:
            return None

    return safe


def _kleene(decisive: bool) -> Callable[[Fn, Fn], Fn]:
    """`&&` (decisive False) and `||` (decisive True) in three-valued logic: the
    decisive value wins even over missing; otherwise missing stays missing."""

    def combine(left: Fn, right: Fn) -> Fn:
        def both(f: Facts, p: Params) -> Any:
            a = left(f, p)
            if a is decisive:
                return decisive
            b = right(f, p)
            if b is decisive:
                return decisive
            return None if a is None or b is None else not decisive

        return both

    return combine


_and = _kleene(False)
_or = _kleene(True)


def _in(subject: Fn, items: list[Fn]) -> Fn:
    def member(f: Facts, p: Params) -> Any:
        value = subject(f, p)
        if value is None:
            return None
        unknown = False
        for item in items:
            candidate = item(f, p)
            if candidate is None:
                unknown = True
            elif candidate == value:
                return True
        return None if unknown else False

    return member


# -- functions (dispatch table) ------------------------------------------------
def is_birthday(birthday: date, day: date) -> bool:
    """Month and day match; a 29 February birthday falls on 28 February in other years."""
    if (birthday.month, birthday.day) == (day.month, day.day):
        return True
    return (birthday.month, birthday.day, day.month, day.day) == (2, 29, 2, 28) and (
        not calendar.isleap(day.year)
    )


def _unary_fn(fn: Callable[[Any], Any]) -> Callable[[PythonCompiler, Call], Fn]:
    def build(c: PythonCompiler, node: Call) -> Fn:
        arg = c.compile(node.args[0])
        return lambda f, p: _maybe(fn, arg(f, p))

    return build


def _binary_fn(fn: Callable[[Any, Any], Any]) -> Callable[[PythonCompiler, Call], Fn]:
    def build(c: PythonCompiler, node: Call) -> Fn:
        want = c.types[node]
        return _binop(fn, c.coerced(node.args[0], want), c.coerced(node.args[1], want))

    return build


def _has(c: PythonCompiler, node: Call) -> Fn:
    arg = c.compile(node.args[0])
    return lambda f, p: arg(f, p) is not None


def _date(c: PythonCompiler, node: Call) -> Fn:
    arg = node.args[0]
    value = parse_date(arg.value) if isinstance(arg, StringLit) else None
    return lambda f, p: value


def _size(c: PythonCompiler, node: Call) -> Fn:
    count = len(node.args[0].items)  # type: ignore[union-attr]
    return lambda f, p: count


def _abs(c: PythonCompiler, node: Call) -> Fn:
    arg = c.compile(node.args[0])
    if c.types[node] == INT:
        return lambda f, p: _maybe(lambda v: int_result(abs(v)), arg(f, p))
    return lambda f, p: _maybe(abs, arg(f, p))


def _population(c: PythonCompiler, node: Call) -> Fn:
    """rank_in_region, percentile_in, abc_class: computed over every customer by whoever
    lays out the facts (the batch's columns), read here under their key."""
    key = population_key(node)
    assert key is not None  # checked: a metric path (and a partition literal)
    return lambda f, p: f.get(key)


FUNCTIONS: Mapping[str, Callable[[PythonCompiler, Call], Fn]] = {
    "has": _has,
    "is_birthday": _binary_fn(is_birthday),
    "days_between": _binary_fn(lambda a, b: (b - a).days),
    "year": _unary_fn(lambda d: d.year),
    "month": _unary_fn(lambda d: d.month),
    "day": _unary_fn(lambda d: d.day),
    "weekday": _unary_fn(lambda d: d.isoweekday()),
    "date": _date,
    "size": _size,
    "floor": _unary_fn(math.floor),
    "abs": _abs,
    "min": _binary_fn(min),
    "max": _binary_fn(max),
    "rank_in_region": _population,
    "percentile_in": _population,
    "abc_class": _population,
}


def _literal_value(node: Node) -> object:
    if isinstance(node, NullLit):
        return None
    if isinstance(node, DurationLit):
        return timedelta(days=node.days)
    return node.value  # type: ignore[union-attr]


def compile_python(checked: CheckResult) -> Evaluator:
    """An Evaluator for a checked expression; raises its first ExprError if it has any."""
    if checked.errors or checked.node is None or checked.type is None:
        raise checked.errors[0] if checked.errors else ExprError("expr.syntax", "no tree", 0)
    fn = PythonCompiler(checked.types).compile(checked.node)
    return Evaluator(fn, checked.type)


__all__ = ["Evaluator", "compile_python", "is_birthday"]
