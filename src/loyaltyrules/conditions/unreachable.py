"""Finds conditions that can never hold (code `policy.unreachable`), where detectable:
literal `false`, `x in []`, and contradictory constant bounds on one fact path within
one `&&` chain, e.g. `purchase.amount >= 100 && purchase.amount < 50`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .ast import (
    Binary,
    BoolLit,
    Call,
    DecimalLit,
    DurationLit,
    IntLit,
    ListLit,
    Node,
    Path,
    StringLit,
)
from .types import INT, Type
from .values import parse_date

CODE = "policy.unreachable"
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
Value = tuple[str, object]  # (kind, value): kinds never mix in a well-typed expression
Finding = tuple[int, int, str]


def _constant(node: Node) -> Value | None:
    if isinstance(node, (IntLit, DecimalLit)):
        return ("num", Decimal(node.value))
    if isinstance(node, StringLit):
        return ("str", node.value)
    if isinstance(node, BoolLit):
        return ("bool", node.value)
    if isinstance(node, DurationLit):
        return ("dur", node.days)
    if isinstance(node, Call) and node.name == "date" and len(node.args) == 1:
        arg = node.args[0]
        parsed = parse_date(arg.value) if isinstance(arg, StringLit) else None
        return ("date", parsed) if parsed is not None else None
    return None


def _render(value: Value) -> str:
    kind, raw = value
    if kind == "str":
        return repr(raw)
    if kind == "bool":
        return "true" if raw else "false"
    if kind == "dur":
        return f"{raw}d"
    if isinstance(raw, date):
        return f'date("{raw.isoformat()}")'
    return str(raw)


@dataclass
class Bounds:
    """What the conjuncts seen so far allow for one fact path."""

    is_int: bool
    lower: tuple[object, bool] | None = None  # (value, inclusive)
    upper: tuple[object, bool] | None = None
    allowed: set[object] | None = None
    excluded: set[object] = field(default_factory=set)
    said: list[str] = field(default_factory=list)
    start: int = 0

    def add(self, op: str, value: object) -> None:
        if op == "==":
            self.allow({value})
        elif op == "!=":
            self.excluded.add(value)
        elif op in ("<", "<="):
            self.upper = _tighter(self.upper, (value, op == "<="), upper=True)
        else:
            self.lower = _tighter(self.lower, (value, op == ">="), upper=False)

    def allow(self, values: set[object]) -> None:
        self.allowed = values if self.allowed is None else self.allowed & values

    def impossible(self) -> bool:
        if self.allowed is not None:
            return not any(self._fits(v) for v in self.allowed)
        lo, hi = self._int_bounds() if self.is_int else (self.lower, self.upper)
        if lo is None or hi is None:
            return False
        (low, low_in), (high, high_in) = lo, hi
        if low > high:  # type: ignore[operator]
            return True
        if low == high:
            return not (low_in and high_in) or low in self.excluded
        return False

    def _int_bounds(self) -> tuple[tuple[object, bool] | None, tuple[object, bool] | None]:
        """For an int fact, `x > 1 && x < 2` is empty: make the bounds inclusive."""
        lo = hi = None
        if self.lower is not None:
            value, inclusive = self.lower
            low = math.ceil(value) if inclusive else math.floor(value) + 1  # type: ignore[call-overload]
            lo = (Decimal(low), True)
        if self.upper is not None:
            value, inclusive = self.upper
            high = math.floor(value) if inclusive else math.ceil(value) - 1  # type: ignore[call-overload]
            hi = (Decimal(high), True)
        return lo, hi

    def _fits(self, value: object) -> bool:
        if value in self.excluded:
            return False
        if self.lower is not None:
            low, inclusive = self.lower
            if value < low or (value == low and not inclusive):  # type: ignore[operator]
                return False
        if self.upper is not None:
            high, inclusive = self.upper
            if value > high or (value == high and not inclusive):  # type: ignore[operator]
                return False
        return True


def _tighter(
    old: tuple[object, bool] | None, new: tuple[object, bool], upper: bool
) -> tuple[object, bool]:
    if old is None:
        return new
    if old[0] == new[0]:
        return (old[0], old[1] and new[1])
    keep_old = old[0] < new[0] if upper else old[0] > new[0]  # type: ignore[operator]
    return old if keep_old else new


def conjuncts(node: Node) -> list[Node]:
    """The operands of a top-level `a && b && c` chain, left to right."""
    if isinstance(node, Binary) and node.op == "&&":
        return conjuncts(node.left) + conjuncts(node.right)
    return [node]


def _constraint(node: Node) -> tuple[Path, str, list[Value]] | None:
    """`path op constant` (either way round) or `path in [constants]`."""
    if not isinstance(node, Binary) or node.op not in (*FLIP, "in"):
        return None
    if node.op == "in":
        if not isinstance(node.left, Path) or not isinstance(node.right, ListLit):
            return None
        values = [_constant(item) for item in node.right.items]
        if any(v is None for v in values):
            return None
        return node.left, "in", [v for v in values if v is not None]
    left, right = _constant(node.left), _constant(node.right)
    if isinstance(node.left, Path) and right is not None:
        return node.left, node.op, [right]
    if isinstance(node.right, Path) and left is not None:
        return node.right, FLIP[node.op], [left]
    return None


def find_unreachable(node: Node, types: Mapping[Node, Type] | None = None) -> list[Finding]:
    """(offset, end, message) for each part of `node` that makes it never hold."""
    found: list[Finding] = []
    paths: dict[str, Bounds | None] = {}
    for part in conjuncts(node):
        if isinstance(part, BoolLit) and not part.value:
            found.append((part.start, part.end, "the condition is literally false"))
        elif _is_empty_in(part):
            found.append((part.start, part.end, "'in []' never holds: the list is empty"))
        else:
            _track(part, paths, types or {}, found)
    return found


def _is_empty_in(part: Node) -> bool:
    return (
        isinstance(part, Binary)
        and part.op == "in"
        and isinstance(part.right, ListLit)
        and not part.right.items
    )


def _track(
    part: Node,
    paths: dict[str, Bounds | None],
    types: Mapping[Node, Type],
    found: list[Finding],
) -> None:
    constraint = _constraint(part)
    if constraint is None:
        return
    path, op, values = constraint
    kinds = {kind for kind, _ in values}
    if len(kinds) > 1 or (path.path in paths and paths[path.path] is None):
        return
    bounds = paths.get(path.path)
    if bounds is None:
        bounds = Bounds(is_int=types.get(path) == INT, start=part.start)
        if kinds == {"bool"}:
            bounds.allowed = {True, False}
        paths[path.path] = bounds
    raw = [value for _, value in values]
    if op == "in":
        bounds.allow(set(raw))
        bounds.said.append(f"{path.path} in [{', '.join(_render(v) for v in values)}]")
    else:
        bounds.add(op, raw[0])
        bounds.said.append(f"{path.path} {op} {_render(values[0])}")
    if bounds.impossible():
        message = "can never hold: " + " && ".join(bounds.said)
        found.append((bounds.start, part.end, message))
        paths[path.path] = None  # report each fact once
