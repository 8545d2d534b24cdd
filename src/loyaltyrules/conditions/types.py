"""Types of the condition language and the typing rules of its operators.

`DYN` is never written by users: it is the type of a sub-expression that already
has an error, and it is compatible with everything so one mistake reports once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Type:
    name: str
    elem: Type | None = None

    def __str__(self) -> str:
        return f"list<{self.elem}>" if self.elem is not None else self.name


BOOL = Type("bool")
INT = Type("int")
DECIMAL = Type("decimal")
STRING = Type("string")
DATE = Type("date")
DURATION = Type("duration")
NULL = Type("null")
DYN = Type("dyn")

SCALARS = {t.name: t for t in (BOOL, INT, DECIMAL, STRING, DATE, DURATION)}
NUMERIC = (INT, DECIMAL)
ORDERED = (INT, DECIMAL, STRING, DATE, DURATION)


def list_of(elem: Type) -> Type:
    return Type("list", elem)


def is_list(t: Type) -> bool:
    return t.name == "list"


def is_numeric(t: Type) -> bool:
    return t in NUMERIC


def type_named(name: str) -> Type | None:
    """The type for a param declaration's `type:` (int, decimal, ...), or None.

    An `hours` param (a window bound like 24h) reads as its number of hours, an int."""
    return INT if name == "hours" else SCALARS.get(name)


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values (ternary branches, list items), or None."""
    if a == b or b in (NULL, DYN):
        return a
    if a in (NULL, DYN):
        return b
    if is_numeric(a) and is_numeric(b):
        return DECIMAL
    return None


def comparable(a: Type, b: Type, ordering: bool) -> bool:
    """Whether `a op b` type-checks for a comparison (`ordering` = < <= > >=)."""
    if DYN in (a, b):
        return True
    if is_list(a) or is_list(b) or NULL in (a, b):
        return False
    if ordering and (a == BOOL or b == BOOL):
        return False
    return unify(a, b) is not None


def _numeric(a: Type, b: Type) -> Type | None:
    if is_numeric(a) and is_numeric(b):
        return INT if a == b == INT else DECIMAL
    return None


def _add(a: Type, b: Type) -> Type | None:
    if {a, b} == {DATE, DURATION}:
        return DATE
    if a == b and a in (DURATION, STRING):
        return a
    return _numeric(a, b)


def _sub(a: Type, b: Type) -> Type | None:
    if a == DATE and b in (DATE, DURATION):
        return DURATION if b == DATE else DATE
    if a == b == DURATION:
        return DURATION
    return _numeric(a, b)


def _mod(a: Type, b: Type) -> Type | None:
    return INT if a == b == INT else None


# Result type of each arithmetic operator, by operand types (dispatch table).
ARITHMETIC: dict[str, Callable[[Type, Type], Type | None]] = {
    "+": _add,
    "-": _sub,
    "*": _numeric,
    "/": _numeric,
    "%": _mod,
}


def arithmetic(op: str, a: Type, b: Type) -> Type | None:
    """Result type of `a op b`, DYN when an operand is DYN, None when ill-typed."""
    if DYN in (a, b):
        return DYN
    return ARITHMETIC[op](a, b)


def negate(a: Type) -> Type | None:
    if a in (DYN, DURATION) or is_numeric(a):
        return a
    return None
