"""Checker: types of good expressions, every error code with exact offsets, and the
unreachable-condition lint."""

from __future__ import annotations

import pytest

from loyaltyrules.conditions import (
    BOOL,
    DATE,
    DECIMAL,
    DURATION,
    INT,
    STRING,
    ExprError,
    check,
    env_for,
    fact_paths,
    find_unreachable,
    param_names,
    parse,
)
from loyaltyrules.conditions.catalog import FUNCTIONS, TRIGGER_GROUPS, all_facts
from loyaltyrules.validation.metrics import default_metrics

PARAMS = {"threshold": DECIMAL, "days": INT, "lapse": DURATION, "tier": STRING}
METRICS = default_metrics().types()  # the pack's declared customer metrics
ENV = env_for("purchase", PARAMS, METRICS)


def errors(text: str, trigger: str = "purchase", want_bool: bool = True) -> list[ExprError]:
    return check(text, env_for(trigger, PARAMS, METRICS), want_bool=want_bool).errors


def only(text: str, trigger: str = "purchase") -> ExprError:
    found = errors(text, trigger)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "trigger", "expected"),
    [
        ("purchase.amount >= params.threshold", "purchase", BOOL),
        ('customer.tier in ["gold", "diamond"]', "purchase", BOOL),
        ("customer.days_since_last_positive_purchase == params.days", "schedule", BOOL),
        ("is_birthday(customer.birthday, as_of)", "schedule", BOOL),
        (
            "rank_in_region(customer.spend_last_year) == 1 && customer.spend_last_year > 0",
            "schedule",
            BOOL,
        ),
        ("!customer.has_address || customer.consent_mail == false", "purchase", BOOL),
        ("has(referrer.customer_id)", "first_purchase", BOOL),
        ("tier.discount_pct", "tier_ladder", DECIMAL),
        ("purchase.amount * 2", "crossing", DECIMAL),
        ("customer.points_this_year / 2", "purchase", INT),
        ("customer.points_this_year % 2", "purchase", INT),
        ("as_of + 7d", "schedule", DATE),
        ("as_of - 7d", "schedule", DATE),
        ("as_of - customer.last_purchase_date", "schedule", DURATION),
        ("as_of - customer.last_purchase_date >= params.lapse", "schedule", BOOL),
        ("min(1, 2.5)", "schedule", DECIMAL),
        ('max(as_of, date("2024-01-01"))', "schedule", DATE),
        ("floor(customer.lifetime_spend)", "schedule", INT),
        ("abs(-3)", "schedule", INT),
        ("size([1, 2, 3])", "schedule", INT),
        ('customer.region + "-" + customer.home_store', "schedule", STRING),
        ('customer.tier == "gold" ? 12 : 10.5', "schedule", DECIMAL),
        ("true ? 1 : null", "schedule", INT),
        ("customer.points_this_year in [1, 2.5, null]", "schedule", BOOL),
        ("days_between(customer.joined_on, as_of) > 365", "schedule", BOOL),
    ],
)
def test_well_typed(text: str, trigger: str, expected: object) -> None:
    result = check(text, env_for(trigger, PARAMS, METRICS))
    assert result.errors == []
    assert result.type == expected


@pytest.mark.parametrize(
    ("text", "code", "offset", "end", "message"),
    [
        ("purchase.amout > 1", "expr.unknown-fact", 0, 14, "unknown fact 'purchase.amout'"),
        ("customer.tier.__class__ == 1", "expr.unknown-fact", 0, 23, "unknown fact"),
        ("foo", "expr.unknown-fact", 0, 3, "unknown fact 'foo'"),
        ("params.treshold > 1", "expr.unknown-param", 0, 15, "unknown parameter"),
        ("params > 1", "expr.unknown-param", 0, 6, "unknown parameter"),
        ("is_bday(as_of, as_of)", "expr.unknown-function", 0, 21, "unknown function"),
        ("is_birthday(as_of)", "expr.arity", 0, 18, "takes 2 arguments, got 1"),
        ('purchase.amount > "x"', "expr.type", 0, 21, "cannot compare decimal with string"),
        ("true < false", "expr.type", 0, 12, "bools cannot be ordered"),
        ("as_of + 1", "expr.type", 0, 9, "cannot apply '+' to date and int"),
        ("1 && true", "expr.type", 0, 1, "'&&' needs bool, got int"),
        ("!1", "expr.type", 1, 2, "'!' needs bool, got int"),
        ('-"x" == "y"', "expr.type", 0, 4, "cannot negate string"),
        ("(1 ? true : false)", "expr.type", 1, 2, "the condition of '?:' needs bool"),
        ('(true ? 1 : "a") == 1', "expr.type", 1, 15, "branches of '?:' are int and string"),
        ("purchase.amount == null", "expr.type", 0, 23, "comparing with null"),
        ("null + 1 == 1", "expr.type", 0, 8, "null in arithmetic"),
        ('1 in [1, "a"]', "expr.type", 9, 12, "list mixes int and string"),
        ("[1] == 1", "expr.type", 0, 3, "a list can only follow 'in'"),
        ("1 in 2", "expr.type", 5, 6, "'in' needs a list literal"),
        ('"a" in [1, 2]', "expr.type", 0, 13, "cannot look for string in list<int>"),
        ("has(1)", "expr.type", 4, 5, "has() takes a fact path"),
        ('year("2024") > 1', "expr.type", 0, 12, "year() does not take (string)"),
        ("date(customer.region) < as_of", "expr.type", 5, 20, "date() takes a string literal"),
        ('date("2024-02-30") < as_of', "expr.bad-date", 5, 17, "not a valid date"),
        ("rank_in_region(customer.tier) == 1", "expr.type", 15, 28, "numeric customer metric"),
        ("rank_in_region(purchase.amount) == 1", "expr.type", 15, 30, "numeric customer"),
        ('customer.tier == "platinum"', "expr.unknown-value", 17, 27, "is never 'platinum'"),
        ('customer.tier in ["gold", "platnum"]', "expr.unknown-value", 26, 35, "never"),
        ('"platinum" != customer.tier', "expr.unknown-value", 0, 10, "never"),
        ("purchase.amount", "expr.not-bool", 0, 15, "must be bool, this is decimal"),
    ],
)
def test_error_codes(text: str, code: str, offset: int, end: int, message: str) -> None:
    err = only(text)
    assert (err.code, err.offset, err.end) == (code, offset, end), err
    assert message in err.message


def test_fact_not_available_names_the_trigger() -> None:
    err = only("purchase.amount > 1", "schedule")
    assert (err.code, err.offset, err.end) == ("expr.fact-not-available", 0, 15)
    assert "schedule trigger" in err.message
    assert err.suggestion is not None and "customer.*" in err.suggestion
    assert only('referrer.tier == "gold"', "purchase").code == "expr.fact-not-available"
    assert only('tier.name == "gold"', "crossing").code == "expr.fact-not-available"


def test_suggestions() -> None:
    assert only("purchase.amout > 1").suggestion == "did you mean 'purchase.amount'?"
    assert only("params.treshold > 1").suggestion == "did you mean 'threshold'?"
    assert only("is_bday(as_of, as_of)").suggestion == "did you mean 'is_birthday'?"
    assert only('customer.tier == "glod"').suggestion == "did you mean 'gold'?"
    assert only("abs(1, 2) == 1").suggestion == "abs(int|decimal) -> same"


def test_all_errors_are_collected_in_order() -> None:
    found = errors("purchase.amout > 1 && params.nope == 2 && nope(1) && 1")
    assert [e.code for e in found] == [
        "expr.unknown-fact",
        "expr.unknown-param",
        "expr.unknown-function",
        "expr.type",
    ]
    assert [e.offset for e in found] == [0, 22, 42, 53]


def test_one_mistake_reports_once() -> None:
    # The unknown fact has type dyn, which does not cascade into a type error.
    assert len(errors("purchase.amout + 1 > as_of")) == 1


def test_syntax_errors_come_back_as_results() -> None:
    result = check("1 +", ENV)
    assert result.type is None and result.node is None
    assert [e.code for e in result.errors] == ["expr.syntax"]


def test_not_bool_only_when_asked() -> None:
    assert check("purchase.amount", ENV).errors == []
    assert check("purchase.amount", ENV, want_bool=True).errors[0].code == "expr.not-bool"


def test_too_complex_sql() -> None:
    inner = "as_of"
    for _ in range(7):
        inner = f"(is_birthday({inner}, as_of) ? as_of : as_of)"
    assert "expr.too-complex" in [e.code for e in errors(inner)]


def test_catalog_per_trigger() -> None:
    schedule = env_for("schedule", metrics=METRICS).facts
    assert "customer.tier" in schedule and "as_of" in schedule
    assert not any(p.startswith(("purchase.", "referrer.", "tier.")) for p in schedule)
    for trigger in ("crossing", "tier_ladder", "first_purchase", "purchase"):
        assert "purchase.amount" in env_for(trigger, metrics=METRICS).facts
    assert "referrer.lifetime_spend" in env_for("first_purchase", metrics=METRICS).facts
    assert "tier.previous" in env_for("tier_ladder", metrics=METRICS).facts
    assert set(TRIGGER_GROUPS) == {
        "purchase",
        "first_purchase",
        "crossing",
        "tier_ladder",
        "schedule",
        "complaint",
        "event",
    }
    assert "calendar.name" in schedule and "complaint.severity" in env_for("complaint").facts
    assert "event.kind" in env_for("event").facts and "event.kind" not in schedule
    assert all_facts(METRICS)["customer.points_this_year"] == INT
    assert set(FUNCTIONS) >= {"has", "is_birthday", "rank_in_region", "min", "max", "date"}


def test_fact_paths_and_params() -> None:
    node = parse(
        "rank_in_region(customer.spend_last_year) == 1 && purchase.amount >= params.threshold"
        " && has(customer.birthday)"
    )
    assert fact_paths(node) == {
        "rank_in_region:customer.spend_last_year",
        "purchase.amount",
        "customer.birthday",
    }
    assert param_names(node) == {"threshold"}


def test_error_to_diagnostic() -> None:
    from loyaltyrules.diagnostics import Location

    err = only("purchase.amout > 1")
    diag = err.diagnostic(Location("p.yaml", 12, 5))
    assert (diag.code, str(diag.location)) == ("expr.unknown-fact", "p.yaml:12:5")
    assert str(only("1 > purchase.amout").diagnostic(Location("p.yaml", 12, 5)).location) == (
        "p.yaml:12:9"
    )


# -- unreachable conditions --------------------------------------------------------
def unreachable(text: str) -> list[tuple[int, int, str]]:
    result = check(text, ENV, want_bool=True)
    assert result.node is not None
    return find_unreachable(result.node, result.types)


@pytest.mark.parametrize(
    ("text", "offset", "end", "message"),
    [
        ("false", 0, 5, "literally false"),
        ("customer.consent_sms && false", 24, 29, "literally false"),
        ("customer.tier in []", 0, 19, "list is empty"),
        (
            "purchase.amount >= 100 && purchase.amount < 50",
            0,
            46,
            "purchase.amount >= 100 && purchase.amount < 50",
        ),
        ("customer.purchase_count == 1 && customer.purchase_count == 2", 0, 60, "can never"),
        ("customer.purchase_count > 1 && customer.purchase_count < 2", 0, 58, "can never"),
        ("100 <= purchase.amount && purchase.amount < 100", 0, 47, "can never"),
        ("purchase.amount >= 5 && purchase.amount <= 5 && purchase.amount != 5", 0, 68, "never"),
        ('customer.tier == "gold" && customer.tier in ["silver", "diamond"]', 0, 65, "never"),
        ("customer.consent_sms == true && customer.consent_sms != true", 0, 60, "never"),
        ('as_of < date("2024-01-01") && as_of > date("2025-01-01")', 0, 56, "never"),
        ("as_of - customer.joined_on > 5d && 1 > 0 && as_of - customer.joined_on < 2d", -1, -1, ""),
    ],
)
def test_unreachable(text: str, offset: int, end: int, message: str) -> None:
    found = unreachable(text)
    if offset < 0:
        assert found == []  # not a fact path: not analysed
        return
    assert len(found) == 1, found
    assert found[0][:2] == (offset, end)
    assert message in found[0][2]


@pytest.mark.parametrize(
    "text",
    [
        "purchase.amount >= 100 && purchase.amount < 150",
        "purchase.amount > 1 && purchase.amount < 2",  # decimal: 1.5 fits
        "customer.purchase_count >= 1 && customer.purchase_count <= 1",
        "purchase.amount >= 100 || purchase.amount < 50",
        'customer.tier == "gold" && customer.region == "north"',
        "customer.consent_sms != true && customer.consent_sms != false && true",
    ][:-1],
)
def test_reachable(text: str) -> None:
    assert unreachable(text) == []


def test_bool_excluded_both_ways_is_unreachable() -> None:
    assert unreachable("customer.consent_sms != true && customer.consent_sms != false")
