"""Every type has one range, for literals, params, overrides and results alike
(docs/conditions.md, "Ranges"): a constant outside it is refused when the policy is
loaded, and a value inside it evaluates identically in Python and in DuckDB."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.conditions import check
from loyaltyrules.validation.pipeline import validate_paths
from test_conditions_eval import ENV, both

BIG = 10**16
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def codes(text: str) -> list[str]:
    return [e.code for e in check(text, ENV).errors]


# -- literals refused at load -------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "1000000000000000 + 0.5",
    "true ? 1000000000000000 : 0.5",
    "min(1000000000000000, 0.5)",
    "max(0.5, -1000000000000000)",
    "x * 9223372036854775807",
])
def test_an_int_literal_used_as_a_decimal_must_fit_a_decimal(text: str) -> None:
    assert codes(text) == ["expr.out-of-range"]


@pytest.mark.parametrize(("text", "code"), [
    ("1000000000d == 1000000000d", "expr.bad-duration"),
    ("9223372036854775808", "expr.bad-number"),
    ("n < 9223372036854775808", "expr.bad-number"),
    ("--9223372036854775808", "expr.bad-number"),
    ("99999999999999999999999", "expr.bad-number"),
])
def test_literals_outside_their_type(text: str, code: str) -> None:
    assert code in codes(text)


def test_the_smallest_int_can_be_written() -> None:
    assert both("-9223372036854775808") == INT_MIN
    assert both("n == -9223372036854775808", {"n": INT_MIN}) is True
    assert both("-9223372036854775808 - 1") is None
    assert both("9223372036854775807 + 1") is None
    assert both("-(-9223372036854775807 - 1)") is None


def test_the_edges_of_a_decimal() -> None:
    assert both("999999999999999.999 + 0.001") is None
    assert both("-999999999999999.999 - 0.001") is None
    assert both("999999999999999 + 0.5") == Decimal("999999999999999.500")
    assert both("0.001 * 0.5") == Decimal("0.001")


# -- values inside the ranges agree -------------------------------------------------------
@pytest.mark.parametrize(("text", "want"), [
    ("params.k in [0.5, params.k]", True),
    ("params.k in [0.5, 10000000000000000]", True),
    ("params.k in [0.5]", False),
    ("x in [1, 10000000000000000]", None),
    ("params.k == 0.5", False),
    ("params.k > 999999999999999.999", True),
    ("params.k + 0.5", None),  # k as a decimal does not fit: missing, not an error
    ("true ? params.k : 0.5", None),
    ("min(params.k, 0.5)", None),
    ("min(params.k, 1)", 1),
])
def test_big_ints_next_to_decimals(text: str, want: Any) -> None:
    assert both(text, {"x": None}, {"k": BIG}) == want


@pytest.mark.parametrize(("text", "want"), [
    ("999999999d + 1d", None),
    ("-999999999d - 1d", None),
    ("999999999d + params.wait", None),
    ("-999999999d", timedelta(days=-999999999)),
    ('date("9999-12-31") + 1d', None),
    ('date("0001-01-01") - 1d', None),
    ('date("9999-12-31") + 999999999d', None),
    ('date("0001-01-01") - 999999999d', None),
    ('(date("9999-12-31") + 1d) - 1d', None),
    ('date("9999-12-30") + 1d', __import__("datetime").date(9999, 12, 31)),
    ('date("9999-12-31") - date("0001-01-01")', timedelta(days=3652058)),
])
def test_durations_and_dates_at_their_edges(text: str, want: Any) -> None:
    assert both(text) == want


def test_nested_date_arithmetic_stays_small() -> None:
    """SQL repeats a date result to test its range: a long chain of date arithmetic is
    too complex, and the same sum of durations added once is not."""
    start = 'date("2020-01-01")'
    assert check(start + " + 1d" * 8 + " > d", ENV).ok
    assert "expr.too-complex" in codes(start + " + 1d" * 16 + " > d")
    assert check(start + " + (" + " + ".join(["1d"] * 16) + ") > d", ENV).ok


# -- params and overrides ---------------------------------------------------------------
POLICY = """id: edges
title: Edges
version: 1
trigger: {{kind: purchase}}
params:
  p: {{type: {kind}, default: {default}, overridable: true}}
conditions:
  - {condition}
actions:
  - type: call
    assignee: {{role: store_staff}}
    window: {{due_by: 7d}}
"""
OVERRIDE = """kind: override
target: {{region: north}}
policies:
  edges: {{params: {{p: {value}}}}}
"""
CONDITIONS = {"int": "customer.purchase_count < params.p",
              "decimal": "purchase.amount < params.p",
              "duration": "purchase.date + params.p > as_of"}
OUT_OF_RANGE = [
    ("int", "99999999999999999999999"),
    ("int", "9223372036854775808"),
    ("int", "-9223372036854775809"),
    ("decimal", "1000000000000000"),
    ("decimal", "12.3456"),
    ("decimal", "-1000000000000000.5"),
    ("duration", "1000000000d"),
    ("duration", "-1000000000d"),
]
IN_RANGE = [
    ("int", str(INT_MAX)), ("int", str(INT_MIN)), ("decimal", "999999999999999.999"),
    ("decimal", "-999999999999999.999"), ("duration", "999999999d"),
    ("duration", "-999999999d"),
]


def _write(folder: Path, kind: str, default: str, override: str | None = None) -> Path:
    (folder / "edges.yaml").write_text(
        POLICY.format(kind=kind, default=default, condition=CONDITIONS[kind]), encoding="utf-8")
    if override is not None:
        (folder / "overrides").mkdir()
        (folder / "overrides" / "north.yaml").write_text(OVERRIDE.format(value=override),
                                                         encoding="utf-8")
    return folder


@pytest.mark.parametrize(("kind", "value"), OUT_OF_RANGE)
def test_a_param_default_outside_its_type_is_refused(tmp_path: Path, kind: str, value: str
                                                     ) -> None:
    errors = validate_paths([_write(tmp_path, kind, value)]).errors
    assert [(d.code, d.location.line) for d in errors] == [("param.default", 6)]
    assert "out of range" in errors[0].message


@pytest.mark.parametrize(("kind", "value"), OUT_OF_RANGE)
def test_an_override_outside_its_type_is_refused(tmp_path: Path, kind: str, value: str
                                                 ) -> None:
    default = {"int": "1", "decimal": "1", "duration": "1d"}[kind]
    errors = validate_paths([_write(tmp_path, kind, default, value)]).errors
    assert [(d.code, d.location.line) for d in errors] == [("override.out-of-bounds", 4)]


@pytest.mark.parametrize(("kind", "value"), IN_RANGE)
def test_values_at_the_edges_validate(tmp_path: Path, kind: str, value: str) -> None:
    assert validate_paths([_write(tmp_path, kind, value, value)]).errors == []


def test_validate_refuses_a_param_beyond_64_bits_with_exit_1(tmp_path: Path) -> None:
    folder = _write(tmp_path, "int", "99999999999999999999999")
    result = CliRunner().invoke(cli, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "[param.default]" in result.output and "out of range" in result.output


def test_a_window_stays_within_ten_years(tmp_path: Path) -> None:
    """An action's due date must be a date: 999,999,999 days after D is none (the night
    crashed on it), so window bounds are at most 3650d, overridden or not."""
    policy = POLICY.format(kind="duration", default="7d", condition=CONDITIONS["duration"])
    policy = policy.replace("due_by: 7d", "due_by: params.p")
    (tmp_path / "edges.yaml").write_text(policy, encoding="utf-8")
    (tmp_path / "overrides").mkdir()
    override = tmp_path / "overrides" / "north.yaml"
    override.write_text(OVERRIDE.format(value="3651d"), encoding="utf-8")
    errors = validate_paths([tmp_path]).errors
    assert [(d.code, d.location.line) for d in errors] == [("override.out-of-bounds", 4)]
    assert "at most 3650d" in errors[0].message
    override.write_text(OVERRIDE.format(value="3650d"), encoding="utf-8")
    assert validate_paths([tmp_path]).errors == []
