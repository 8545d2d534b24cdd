"""Property tests of the contact rules over generated candidate streams and histories.

Caps are never exceeded in any window, consent is never violated, every candidate
ends in exactly one of the four states, and a range equals its nights in the ledger.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltyrules.contact import (
    DEFAULT_RULES,
    ContactRules,
    History,
    apply_range,
    ledger_state,
    parse_contact_rules,
    recorded,
    rules_for,
)
from loyaltyrules.ledger import Ledger, RunRecord

START = dt.date(2025, 3, 1)
DAYS = 10
CUSTOMERS = ("C1", "C2", "C3")
RULES = parse_contact_rules({
    "kind": "contact-rules",
    "caps": [{"channel": "sms", "max": 1, "window": "3d"},
             {"channel": "call", "max": 2, "window": "5d"}],
    "deferral": {"max_days": "4d"},
    "calendar": {"from_table": True, "closed_weekdays": [{"weekday": "sunday", "store": "S2"}]},
})
_ids = itertools.count()


@st.composite
def candidate(draw: st.DrawFn) -> dict[str, Any]:
    as_of = START + dt.timedelta(days=draw(st.integers(0, DAYS - 1)))
    due = as_of + dt.timedelta(days=draw(st.integers(0, 3)))
    return {
        "action_id": f"{next(_ids):032x}", "policy": draw(st.sampled_from(["p-a", "p-b"])),
        "type": draw(st.sampled_from(["sms", "sms", "call", "visit", "letter", "tier_change"])),
        "customer_id": draw(st.sampled_from(CUSTOMERS)),
        "store_id": draw(st.sampled_from(["S1", "S2"])), "region": "north",
        "assignee": {"role": draw(st.sampled_from(["store_staff", "store_manager",
                                                   "regional_sales"])),
                     "id": draw(st.sampled_from(["E1", None]))},
        "not_before": as_of.isoformat(), "due_by": due.isoformat(), "as_of": as_of.isoformat(),
        "priority": draw(st.integers(0, 100)), "template": None, "params": {},
        "reason": {"trigger": "schedule"},
    }


def _data(consent: dict[str, tuple[bool, bool, bool, bool]], closed: list[int]
          ) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE customers (customer_id VARCHAR, consent_sms BOOLEAN, "
                "consent_call BOOLEAN, consent_mail BOOLEAN, consent_visit BOOLEAN)")
    con.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
                    [(c, *flags) for c, flags in consent.items()])
    con.execute("CREATE TABLE calendar (date DATE, name VARCHAR, kind VARCHAR, region VARCHAR)")
    for d in closed:
        con.execute("INSERT INTO calendar VALUES (?, 'closed', 'closed', NULL)",
                    [START + dt.timedelta(days=d)])
    return con


histories = st.tuples(
    st.lists(candidate(), max_size=40),
    st.fixed_dictionaries({c: st.tuples(*[st.booleans()] * 4) for c in CUSTOMERS}),
    st.lists(st.integers(0, DAYS + 4), max_size=3),
)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check_caps(emitted: list[tuple[str, str, dt.date]], rules: ContactRules) -> None:
    for cap in rules.caps:
        for customer in CUSTOMERS:
            days = [d for c, t, d in emitted if c == customer and t == cap.channel]
            for start in days:
                window = [d for d in days if start <= d < start + dt.timedelta(cap.window_days)]
                assert len(window) <= cap.max, (customer, cap, sorted(days))


@SETTINGS
@given(histories)
def test_caps_consent_and_the_four_ends(history: Any) -> None:
    actions, consent, closed = history
    con = _data(consent, closed)
    rules = rules_for(RULES, con, CUSTOMERS)
    end = START + dt.timedelta(days=DAYS + 6)
    result = apply_range(START, end, actions, (), History(), rules)
    assert sum(result.counts.values()) == len(actions) == len(result.decisions)
    columns = {"sms": 0, "call": 1, "letter": 2, "visit": 3}
    out = []
    for decision in result.decisions.values():
        record = decision.record
        if decision.status == "open":
            if record["type"] in columns:
                assert consent[record["customer_id"]][columns[record["type"]]]
            out.append((record["customer_id"], record["type"], decision.day))
            if RULES.is_staff_task(record):
                assert not rules.calendar.closed(record["store_id"], "north", decision.day)
        if decision.status == "expired":
            assert decision.reason
        if decision.status == "deferred":  # only past the range's end
            assert decision.deferred_to and decision.deferred_to > end
    _check_caps(out, RULES)


def _run(ledger: Ledger, con: duckdb.DuckDBPyConnection, actions: list[dict[str, Any]],
         start: dt.date, end: dt.date, name: str) -> None:
    run = RunRecord(run_id=name, started_at="t", bundle="b", as_of=start.isoformat())
    recorded(RULES, con, actions, start, end, ledger, lambda _r: run)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories)
def test_a_range_equals_its_nights(tmp_path_factory: Any, history: Any) -> None:
    actions, consent, closed = history
    con = _data(consent, closed)
    folder: Path = tmp_path_factory.mktemp("contact")
    end = START + dt.timedelta(days=DAYS + 2)
    with Ledger.open(folder / "range.db") as ledger:
        _run(ledger, con, actions, START, end, "range")
        in_one = ledger_state(ledger)
    with Ledger.open(folder / "nights.db") as ledger:
        for n in range((end - START).days + 1):
            day = START + dt.timedelta(days=n)
            _run(ledger, con, [a for a in actions if a["as_of"] == day.isoformat()], day, day,
                 f"night-{n}")
        _run(ledger, con, actions, START, end, "again")  # a re-run changes nothing
        assert ledger_state(ledger) == in_one


def test_defaults_are_the_design() -> None:
    assert DEFAULT_RULES.caps[0].channel == "sms" and DEFAULT_RULES.caps[0].window_days == 3
    assert DEFAULT_RULES.max_deferral_days == 7 and DEFAULT_RULES.staff_tasks.merge
