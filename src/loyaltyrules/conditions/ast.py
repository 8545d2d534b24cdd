"""The syntax tree of a condition.

Every node records `start`/`end`: character offsets into the expression text, so
any later stage (checker, unreachable-condition lint) can point at the exact span.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Union

# ruff: noqa: UP007 -- a runtime alias: `X | Y` of classes needs Python 3.10 anyway,
# but Union keeps the alias readable when spread over lines.


@dataclass(frozen=True)
class IntLit:
    value: int
    start: int
    end: int


@dataclass(frozen=True)
class DecimalLit:
    value: Decimal
    start: int
    end: int


@dataclass(frozen=True)
class StringLit:
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class BoolLit:
    value: bool
    start: int
    end: int


@dataclass(frozen=True)
class NullLit:
    start: int
    end: int


@dataclass(frozen=True)
class DurationLit:
    """`7d`: a whole number of days (negative ones are written `-7d`)."""

    days: int
    start: int
    end: int


@dataclass(frozen=True)
class ListLit:
    items: tuple[Node, ...]
    start: int
    end: int


@dataclass(frozen=True)
class Path:
    """A fact path such as `customer.tier`, `as_of` or `params.threshold`."""

    path: str
    start: int
    end: int


@dataclass(frozen=True)
class Unary:
    op: str  # "!" or "-"
    operand: Node
    start: int
    end: int


@dataclass(frozen=True)
class Binary:
    op: str  # "||" "&&" "==" "!=" "<" "<=" ">" ">=" "in" "+" "-" "*" "/" "%"
    left: Node
    right: Node
    start: int
    end: int


@dataclass(frozen=True)
class Ternary:
    test: Node
    then: Node
    other: Node
    start: int
    end: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    start: int
    end: int


Literal = Union[IntLit, DecimalLit, StringLit, BoolLit, NullLit, DurationLit]
Node = Union[
    IntLit,
    DecimalLit,
    StringLit,
    BoolLit,
    NullLit,
    DurationLit,
    ListLit,
    Path,
    Unary,
    Binary,
    Ternary,
    Call,
]


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of a node, left to right."""
    if isinstance(node, ListLit):
        return node.items
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Ternary):
        return (node.test, node.then, node.other)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(node: Node) -> list[Node]:
    """All nodes of a tree in pre-order, without recursion (trees may be deep)."""
    out: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(children(current)))
    return out


def depth(node: Node) -> tuple[int, Node]:
    """The nesting depth of a tree and its deepest node, without recursion."""
    best = (1, node)
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        if level > best[0]:
            best = (level, current)
        stack.extend((child, level + 1) for child in children(current))
    return best
