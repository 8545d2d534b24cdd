"""Parser: the tree it builds, and every syntax error code with its exact offsets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyaltyrules.conditions import ExprError, parse
from loyaltyrules.conditions.ast import (
    Binary,
    BoolLit,
    Call,
    DecimalLit,
    DurationLit,
    IntLit,
    ListLit,
    NullLit,
    Path,
    StringLit,
    Ternary,
    Unary,
)


def test_comparison_with_param() -> None:
    assert parse("purchase.amount >= params.threshold") == Binary(
        ">=", Path("purchase.amount", 0, 15), Path("params.threshold", 19, 35), 0, 35
    )


def test_list_membership() -> None:
    node = parse("customer.tier in [\"gold\", 'diamond']")
    assert node == Binary(
        "in",
        Path("customer.tier", 0, 13),
        ListLit((StringLit("gold", 18, 24), StringLit("diamond", 26, 35)), 17, 36),
        0,
        36,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", IntLit(12, 0, 2)),
        ("2000.50", DecimalLit(Decimal("2000.50"), 0, 7)),
        ("7d", DurationLit(7, 0, 2)),
        ("-3d", DurationLit(-3, 0, 3)),
        ("- 5", IntLit(-5, 0, 3)),
        ("-2.5", DecimalLit(Decimal("-2.5"), 0, 4)),
        ("true", BoolLit(True, 0, 4)),
        ("false", BoolLit(False, 0, 5)),
        ("null", NullLit(0, 4)),
        (r'"a\"b\\c\n\u00e9"', StringLit('a"b\\c\né', 0, 17)),
        ("'it''s'", None),  # two adjacent strings: a syntax error, checked below
        ("[]", ListLit((), 0, 2)),
        ("[1, 2,]", ListLit((IntLit(1, 1, 2), IntLit(2, 4, 5)), 0, 7)),
        ("as_of", Path("as_of", 0, 5)),
    ],
)
def test_literals(text: str, expected: object) -> None:
    if expected is None:
        with pytest.raises(ExprError):
            parse(text)
    else:
        assert parse(text) == expected


def test_precedence() -> None:
    # a || b && c == d + e * f   parses as   a || (b && (c == (d + (e * f))))
    node = parse("a || b && c == d + e * f")
    assert isinstance(node, Binary) and node.op == "||"
    right = node.right
    assert isinstance(right, Binary) and right.op == "&&"
    cmp = right.right
    assert isinstance(cmp, Binary) and cmp.op == "=="
    add = cmp.right
    assert isinstance(add, Binary) and add.op == "+"
    assert isinstance(add.right, Binary) and add.right.op == "*"


def test_left_associative_arithmetic() -> None:
    node = parse("a - b - c")
    assert isinstance(node, Binary) and isinstance(node.left, Binary)
    assert node.left.op == "-" and node.right == Path("c", 8, 9)


def test_unary_and_ternary() -> None:
    node = parse("!x ? -y : z ? 1 : 2")
    assert isinstance(node, Ternary)
    assert node.test == Unary("!", Path("x", 1, 2), 0, 2)
    assert node.then == Unary("-", Path("y", 6, 7), 5, 7)
    assert isinstance(node.other, Ternary)


def test_call() -> None:
    assert parse("is_birthday(customer.birthday, as_of)") == Call(
        "is_birthday", (Path("customer.birthday", 12, 29), Path("as_of", 31, 36)), 0, 37
    )
    assert parse("f()") == Call("f", (), 0, 3)


def test_unknown_attribute_is_just_a_longer_path() -> None:
    # Rejected later by the checker as an unknown fact.
    assert parse("customer.tier.__class__") == Path("customer.tier.__class__", 0, 23)


def _error(text: str) -> ExprError:
    with pytest.raises(ExprError) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "code", "offset", "end"),
    [
        ("", "expr.syntax", 0, 0),
        ("1 +", "expr.syntax", 3, 3),
        ("a b", "expr.syntax", 2, 3),
        ("(a", "expr.syntax", 2, 2),
        ("x.size()", "expr.syntax", 6, 7),
        ("f(x).y", "expr.syntax", 4, 5),
        ("x[0]", "expr.syntax", 1, 2),
        ("1 < x < 5", "expr.syntax", 6, 7),
        ("a = b", "expr.syntax", 2, 3),
        ("a & b", "expr.syntax", 2, 3),
        ("a # b", "expr.syntax", 2, 3),
        ("customer.", "expr.syntax", 9, 9),
        (r'"a\qb"', "expr.syntax", 2, 4),
        ('"abc', "expr.unterminated-string", 0, 4),
        ("x == 'abc", "expr.unterminated-string", 5, 9),
        ("7x", "expr.bad-duration", 0, 2),
        ("7days", "expr.bad-duration", 0, 5),
        ("a > 1.5d", "expr.bad-duration", 4, 8),
        ("7.", "expr.bad-number", 0, 2),
        ("1e5", "expr.bad-number", 0, 3),
        ("99999999999999999999", "expr.bad-number", 0, 20),
        ("1.2345", "expr.bad-number", 0, 6),
        ("x" * 2001, "expr.too-long", 2000, 2001),
        ("(" * 65 + "1" + ")" * 65, "expr.too-deep", 64, 65),
        ("!" * 70 + "x", "expr.too-deep", 63, 64),
    ],
)
def test_syntax_errors(text: str, code: str, offset: int, end: int) -> None:
    err = _error(text)
    assert (err.code, err.offset, err.end) == (code, offset, end), err


def test_long_operator_chain_is_too_deep() -> None:
    err = _error("+".join(["1"] * 70))
    assert err.code == "expr.too-deep"


def test_errors_carry_suggestions() -> None:
    assert _error("a = b").suggestion == "did you mean '=='?"
    assert "&&" in (_error("1 < x < 5").suggestion or "")
    assert "7d" in (_error("7days").suggestion or "")


def test_limits_are_inclusive() -> None:
    parse("(" * 63 + "1" + ")" * 63)
    parse("1 " + " " * 1997)
