"""Property tests of the contact rules over generated candidate streams and histories.

The rules decide as an independent model written from docs/contact-rules.md does
(tests/contact_oracle.py); caps are never exceeded in any window, consent is never
violated, nothing is emitted past its validity, every candidate ends in exactly one of
the four states, and a range equals its nights in the ledger, less what the range
delivers too late.
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

import contact_oracle as oracle

START = dt.date(2025, 3, 1)
DAYS = 10
CUSTOMERS = ("C1", "C2", "C3")
RULES = parse_contact_rules({
    "kind": "contact-rules",
    "caps": [{"channel": "sms", "max": 1, "window": "3d"},
             {"channel": "call", "max": 1, "window": "4d"}],
    "deferral": {"max_days": "4d"},
    "calendar": {"from_table": True, "closed_weekdays": [{"weekday": "sunday", "store": "S2"}]},
})
_ids = itertools.count()


RECEIPTS = [f"R{n}" for n in range(6)]  # receipts of each day, at 10:00, 10:00, 11:00 ...


def _moment(purchase: str, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(10 + int(purchase[1:]) // 2))


@st.composite
def candidate(draw: st.DrawFn) -> dict[str, Any]:
    as_of = START + dt.timedelta(days=draw(st.integers(0, DAYS // 2)))  # crowded days
    due = as_of + dt.timedelta(days=draw(st.integers(0, 3)))
    valid = draw(st.sampled_from([None, due, due + dt.timedelta(days=2)]))
    purchase = draw(st.sampled_from([None, *RECEIPTS]))
    return {
        "action_id": f"{next(_ids):032x}", "policy": draw(st.sampled_from(["p-a", "p-b"])),
        "type": draw(st.sampled_from(["sms", "sms", "call", "visit", "letter", "tier_change"])),
        "customer_id": draw(st.sampled_from(["C1", "C1", "C2", "C3"])),  # C1: crowded
        "store_id": draw(st.sampled_from(["S1", "S2"])), "region": "north",
        "assignee": {"role": draw(st.sampled_from(["store_staff", "store_manager",
                                                   "regional_sales"])),
                     "id": draw(st.sampled_from(["E1", None]))},
        "not_before": as_of.isoformat(), "due_by": due.isoformat(),
        "valid_until": valid and valid.isoformat(), "as_of": as_of.isoformat(),
        "priority": draw(st.sampled_from([10, 50, 90])), "template": None, "params": {},
        "reason": {"trigger": "purchase" if purchase else "schedule",
                   "purchase_id": purchase and f"{purchase}-{as_of.isoformat()}"},
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
    con.execute("CREATE TABLE purchases (purchase_id VARCHAR, purchased_at TIMESTAMP)")
    con.executemany("INSERT INTO purchases VALUES (?, ?)", [
        (f"{r}-{day.isoformat()}", _moment(r, day)) for r in RECEIPTS
        for day in (START + dt.timedelta(days=n) for n in range(DAYS))])
    return con


histories = st.tuples(
    st.lists(candidate(), min_size=8, max_size=40),
    st.fixed_dictionaries({c: st.tuples(*[st.booleans()] * 4) for c in CUSTOMERS}),
    st.lists(st.integers(0, DAYS + 4), max_size=3),
)
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check_caps(emitted: list[tuple[str, str, dt.date]], rules: ContactRules) -> None:
    for cap in rules.caps:
        for customer in CUSTOMERS:
            days = [d for c, t, d in emitted if c == customer and t == cap.channel]
            for start in days:
                window = [d for d in days if start <= d < start + dt.timedelta(cap.window_days)]
                assert len(window) <= cap.max, (customer, cap, sorted(days))


COLUMNS = {"sms": 0, "call": 1, "letter": 2, "visit": 3}


def _oracle(consent: dict[str, tuple[bool, ...]], closed: list[int]) -> oracle.Model:
    closings = {START + dt.timedelta(days=d) for d in closed}
    return oracle.Model(
        consent=lambda c, channel: channel not in COLUMNS or consent[c][COLUMNS[channel]],
        closed=lambda store, day: day in closings or (store, day.weekday()) == ("S2", 6),
        caps={c.channel: (c.max, c.window_days) for c in RULES.caps},
        max_days=RULES.max_deferral_days, staff_types=RULES.staff_tasks.types,
        staff_roles=RULES.staff_tasks.roles,
        moments={f"{r}-{d.isoformat()}": _moment(r, d) for r in RECEIPTS
                 for d in (START + dt.timedelta(days=n) for n in range(DAYS))})


@SETTINGS
@given(histories, st.booleans())
def test_caps_consent_and_the_four_ends(history: Any, late: bool) -> None:
    """Nights, or a range delivered on its last date: the model's decisions, and the
    invariants of docs/contact-rules.md."""
    actions, consent, closed = history
    con = _data(consent, closed)
    rules = rules_for(RULES, con, CUSTOMERS, actions)
    end = START + dt.timedelta(days=DAYS + 6)
    delivered_on = end if late else None
    result = apply_range(START, end, actions, (), History(), rules, delivered_on=delivered_on)
    assert sum(result.counts.values()) == len(actions) == len(result.decisions)
    expected = oracle.run(_oracle(consent, closed), actions, START, end, delivered_on)
    assert {aid: (d.status, d.day, d.reason, d.deferred_to, d.merged_into)
            for aid, d in result.decisions.items()} == {
        aid: (o.status, o.day, o.reason, o.deferred_to, o.merged_into)
        for aid, o in expected.items()}
    out = []
    for decision in result.decisions.values():
        record = decision.record
        valid = record.get("valid_until")
        if decision.status == "open":
            if record["type"] in COLUMNS:
                assert consent[record["customer_id"]][COLUMNS[record["type"]]]
            out.append((record["customer_id"], record["type"], decision.day))
            if RULES.is_staff_task(record):
                assert not rules.calendar.closed(record["store_id"], "north", decision.day)
            assert valid is None or valid >= (delivered_on or decision.day).isoformat()
            assert valid is None or record["due_by"] <= valid
        if decision.status == "expired":
            assert decision.reason
            assert late or decision.reason != "stale"  # nights deliver on time
        if decision.status == "merged":
            survivor = result.decisions[str(decision.merged_into)]
            assert survivor.status == "open" and survivor.day == decision.day
            assert [m["action_id"] for m in survivor.record["reason"]["merged"]].count(
                decision.action_id) == 1
        if decision.status == "deferred":  # only past the range's end
            assert decision.deferred_to and decision.deferred_to > end
    _check_caps(out, RULES)


def _run(ledger: Ledger, con: duckdb.DuckDBPyConnection, actions: list[dict[str, Any]],
         start: dt.date, end: dt.date, name: str) -> None:
    run = RunRecord(run_id=name, started_at="t", bundle="b", as_of=start.isoformat())
    recorded(RULES, con, actions, start, end, ledger, lambda _r: run, delivered_on=end)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories)
def test_a_range_equals_its_nights(tmp_path_factory: Any, history: Any) -> None:
    """The range expires as stale (or for want of consent) what it would deliver after
    its validity, and decides the rest exactly as the nights decide it without those."""
    actions, consent, closed = history
    con = _data(consent, closed)
    folder: Path = tmp_path_factory.mktemp("contact")
    end = START + dt.timedelta(days=DAYS + 2)
    late = {a["action_id"] for a in actions
            if a["valid_until"] and a["valid_until"] < end.isoformat()}
    with Ledger.open(folder / "range.db") as ledger:
        _run(ledger, con, actions, START, end, "range")
        in_one = ledger_state(ledger)
    with Ledger.open(folder / "nights.db") as ledger:
        for n in range((end - START).days + 1):
            day = START + dt.timedelta(days=n)
            _run(ledger, con, [a for a in actions if a["as_of"] == day.isoformat()
                               and a["action_id"] not in late], day, day, f"night-{n}")
        _run(ledger, con, actions, START, end, "again")  # a re-run adds only the late ones
        assert ledger_state(ledger) == in_one
    for row in in_one:
        if row["action_id"] in late:
            assert row["status"] == "expired"
            assert row["status_reason"] == "stale" or row["status_reason"].startswith(
                "no-consent:")


def test_defaults_are_the_design() -> None:
    assert DEFAULT_RULES.caps[0].channel == "sms" and DEFAULT_RULES.caps[0].window_days == 3
    assert DEFAULT_RULES.max_deferral_days == 7 and DEFAULT_RULES.staff_tasks.merge
