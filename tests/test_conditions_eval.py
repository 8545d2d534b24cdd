"""Evaluator: missing-value (Kleene) truth tables, arithmetic, functions; each case is
also run through the DuckDB SQL so both evaluators are pinned to the same answers."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from loyaltyrules.conditions import (
    BOOL,
    DATE,
    DECIMAL,
    DURATION,
    INT,
    STRING,
    Env,
    ExprError,
    check,
    compile_python,
    sql_value,
    to_sql,
)
from loyaltyrules.conditions.evaluate import is_birthday

FACTS = {
    "a": BOOL,
    "b": BOOL,
    "n": INT,
    "m": INT,
    "x": DECIMAL,
    "y": DECIMAL,
    "s": STRING,
    "d": DATE,
    "e": DATE,
    "customer.spend_last_year": DECIMAL,
}
PARAMS = {"k": INT, "wait": DURATION, "money": DECIMAL}
ENV = Env(FACTS, PARAMS, values={})
RANK = "rank_in_region:customer.spend_last_year"
CON = duckdb.connect()


def both(
    text: str,
    facts: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """Evaluate in Python and in DuckDB; assert they agree; return the Python value."""
    facts = facts or {}
    params = {"k": 3, "wait": timedelta(days=7), "money": Decimal("10.5"), **(params or {})}
    checked = check(text, ENV)
    assert checked.ok, checked.errors
    python = compile_python(checked)(facts, params)
    sql = to_sql(
        checked,
        lambda p: sql_value(facts.get(p), INT if p == RANK else FACTS[p]),
        lambda n: sql_value(params[n], PARAMS[n]),
    )
    got = CON.execute(f"SELECT {sql.sql(dialect='duckdb')}").fetchone()[0]  # type: ignore[index]
    expected = python.days if isinstance(python, timedelta) else python
    if isinstance(expected, bool) or expected is None:
        assert got is expected, (text, python, got)
    else:
        assert got == expected and not isinstance(got, bool), (text, python, got)
    return python


T, F, M = True, False, None
KLEENE = [(T, T), (T, F), (T, M), (F, T), (F, F), (F, M), (M, T), (M, F), (M, M)]


@pytest.mark.parametrize(("a", "b"), KLEENE)
def test_and_or_truth_tables(a: Any, b: Any) -> None:
    facts = {"a": a, "b": b}
    want_and = F if F in (a, b) else (M if M in (a, b) else T)
    want_or = T if T in (a, b) else (M if M in (a, b) else F)
    assert both("a && b", facts) is want_and
    assert both("a || b", facts) is want_or


@pytest.mark.parametrize(("a", "want"), [(T, F), (F, T), (M, M)])
def test_not(a: Any, want: Any) -> None:
    assert both("!a", {"a": a}) is want


@pytest.mark.parametrize(
    ("text", "facts", "want"),
    [
        ("n > 1", {"n": None}, None),
        ("n == n", {"n": None}, None),
        ("n + 1", {"n": None}, None),
        ("x * 2", {"x": None}, None),
        ("abs(n)", {"n": None}, None),
        ("min(n, 1)", {"n": None}, None),
        ("max(1, n)", {"n": None}, None),
        ("is_birthday(d, e)", {"d": date(2000, 1, 1), "e": None}, None),
        ("!is_birthday(d, e)", {"d": None, "e": date(2000, 3, 1)}, None),
        ("has(n)", {"n": None}, False),
        ("has(n)", {"n": 0}, True),
        ("!has(s)", {"s": None}, True),
        ("n in [1, 2]", {"n": None}, None),
        ("n in []", {"n": None}, None),
        ("n in []", {"n": 1}, False),
        ("n in [1, m]", {"n": 1, "m": None}, True),
        ("n in [2, m]", {"n": 1, "m": None}, None),
        ("n in [2, 3]", {"n": 1}, False),
        ("a ? 1 : 2", {"a": None}, None),
        ("a ? 1 : 2", {"a": False}, 2),
        ('s + "x"', {"s": None}, None),
        ("days_between(d, e)", {"d": None, "e": date(2024, 1, 1)}, None),
        ("rank_in_region(customer.spend_last_year)", {RANK: None}, None),
        ("rank_in_region(customer.spend_last_year)", {RANK: 2}, 2),
        ("false && n > 1", {"n": None}, False),
        ("true || n > 1", {"n": None}, True),
    ],
)
def test_missing_values(text: str, facts: dict[str, Any], want: Any) -> None:
    assert both(text, facts) == want


def test_holds_treats_missing_as_false() -> None:
    checked = check("n > 1", ENV, want_bool=True)
    evaluator = compile_python(checked)
    assert evaluator.holds({"n": None}, {}) is False
    assert evaluator.holds({"n": 2}, {}) is True
    assert evaluator({"n": None}) is None


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("7 / 2", 3),
        ("-7 / 2", -3),
        ("7 / -2", -3),
        ("-7 % 2", -1),
        ("7 % -2", 1),
        ("7 / 0", None),
        ("7 % 0", None),
        ("9223372036854775807 + 1", None),
        ("9223372036854775807 * -1", -9223372036854775807),
        ("7.0 / 2", Decimal("3.5")),
        ("1.0 / 3", Decimal("0.333")),
        ("-2.0 / 3", Decimal("-0.666")),
        ("1.0 / 0", None),
        ("1.0 / 0.0001", None),  # not a literal: 0.0001 is rejected; see below
        ("0.005 * 0.5", Decimal("0.003")),
        ("-0.005 * 0.5", Decimal("-0.003")),
        ("0.1 + 0.2 == 0.3", True),
        ("1 + 0.5", Decimal("1.5")),
        ("999999999999999.999 + 1", None),
        ("2.50 == 2.5", True),
        ("floor(-1.5)", -2),
        ("floor(1.999)", 1),
        ("abs(-2.5)", Decimal("2.5")),
        ("min(2, 1.5)", Decimal("1.5")),
        ("max(2, 1.5)", Decimal("2")),
        ("size([1, 2, 3])", 3),
        ("size([])", 0),
        ('"ab" + \'cd\' == "abcd"', True),
        ('"a" < "b"', True),
    ],
)
def test_arithmetic(text: str, want: Any) -> None:
    if "0.0001" in text:
        assert check(text, ENV).errors[0].code == "expr.bad-number"
        return
    assert both(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('date("2024-03-01") - 1d', date(2024, 2, 29)),
        ('date("2024-03-01") + -1d', date(2024, 2, 29)),
        ('-1d + date("2024-03-01")', date(2024, 2, 29)),
        ('date("2024-03-01") - date("2024-02-01")', timedelta(days=29)),
        ('days_between(date("2024-02-01"), date("2024-03-01"))', 29),
        ('days_between(date("2024-03-01"), date("2024-02-01"))', -29),
        ('year(date("2024-03-01")) * 100 + month(date("2024-03-01"))', 202403),
        ('day(date("2024-03-01"))', 1),
        ("params.wait + 1d", timedelta(days=8)),
        ("min(params.wait, 3d)", timedelta(days=3)),
        ('max(date("2024-01-01"), date("2023-01-01"))', date(2024, 1, 1)),
        ('date("2024-01-01") + params.wait == date("2024-01-08")', True),
    ],
)
def test_dates_and_durations(text: str, want: Any) -> None:
    assert both(text) == want


@pytest.mark.parametrize(
    ("birthday", "day", "want"),
    [
        (date(1990, 5, 17), date(2024, 5, 17), True),
        (date(1990, 5, 17), date(2024, 5, 18), False),
        (date(1992, 2, 29), date(2023, 2, 28), True),  # non-leap year: celebrated on 28 Feb
        (date(1992, 2, 29), date(2024, 2, 28), False),  # leap year: wait for the 29th
        (date(1992, 2, 29), date(2024, 2, 29), True),
        (date(1992, 2, 29), date(2023, 3, 1), False),
        (date(1992, 2, 28), date(2023, 2, 28), True),
        (date(1992, 2, 28), date(2024, 2, 29), False),
        (date(1992, 2, 29), date(2100, 2, 28), True),  # 2100 is not a leap year
    ],
)
def test_is_birthday(birthday: date, day: date, want: bool) -> None:
    assert is_birthday(birthday, day) is want
    assert both("is_birthday(d, e)", {"d": birthday, "e": day}) is want


def test_default_pack_examples() -> None:
    facts = {"x": Decimal("2350.00"), "s": "gold", "n": 90, "m": 90}
    assert both("x >= params.money", facts) is True
    assert both('s in ["gold", "diamond"]', facts) is True
    assert both("n == params.k", facts) is False


def test_int_durations_are_accepted_for_duration_params() -> None:
    checked = check("params.wait == 7d", ENV)
    assert compile_python(checked)({}, {"wait": 7}) is True


def test_compile_refuses_expressions_with_errors() -> None:
    with pytest.raises(ExprError):
        compile_python(check("nope > 1", ENV))
    with pytest.raises(ExprError):
        to_sql(check("1 +", ENV), exp.column, exp.column)


def test_sql_strings_are_literals_not_text() -> None:
    checked = check('s == "x\' OR 1=1 --"', ENV)
    sql = to_sql(checked, lambda p: exp.column(p), exp.column).sql(dialect="duckdb")
    assert sql == "s = 'x'' OR 1=1 --'"


def test_condition_wrapper() -> None:
    checked = check("n > 1", ENV, want_bool=True)
    sql = to_sql(checked, lambda p: exp.column(p), exp.column, condition=True)
    assert sql.sql(dialect="duckdb") == "COALESCE((n > 1), FALSE)"
