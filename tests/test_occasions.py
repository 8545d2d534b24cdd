"""Calendar and date-rule schedules, complaints, host events, windows in hours and
invitations: their rules at the edges, and one meaning on the nightly run and the
per-event path (generated histories, differential)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltyrules.api import Engine
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.engine.dates import dates_in
from loyaltyrules.engine.windows import Zones, window
from loyaltyrules.event import rebuild
from loyaltyrules.model import parse_policy
from loyaltyrules.plan import Plan, compile_paths
from loyaltyrules.sources import open_source

POLICIES = {
    "holiday.yaml": """
id: holiday
title: Holiday greeting
version: 1
trigger: {kind: schedule, every: calendar, calendar: {kind: holiday}}
actions:
  - type: sms
    assignee: {role: store_staff, source: customer.staff_id, fallback: store_manager}
    window: {due_by: 0d}
    params: {occasion: calendar.name}
""",
    "monthly.yaml": """
id: monthly
title: Month end note
version: 1
trigger: {kind: schedule, every: month, on: day 31}
conditions: ["customer.purchase_count >= 1 && weekday(as_of) != 7"]
actions:
  - type: task
    assignee: {role: store_manager}
    window: {due_by: 2d}
""",
    "quarterly.yaml": """
id: quarterly
title: Quarterly gathering
version: 1
trigger: {kind: schedule, every: quarter}
conditions: ["customer.lifetime_spend >= 5000"]
actions:
  - type: invitation
    assignee: {role: store_manager}
    window: {due_by: 14d}
    invitation:
      event: '"gathering-" + (as_of + 30d < date("2025-07-01") ? "h1" : "h2")'
      date: as_of + 30d
""",
    "seats.yaml": """
id: seats
title: Gathering with seats
version: 1
trigger: {kind: schedule, every: quarter}
actions:
  - type: invitation
    assignee: {role: store_manager}
    window: {due_by: 14d}
    invitation: {event: '"seated"', date: as_of + 20d, capacity: params.seats}
params:
  seats: {type: int, default: 2}
""",
    "mothers-day.yaml": """
id: mothers-day
title: Mother's Day gift
version: 1
trigger: {kind: schedule, every: year, on: {month: 5, weekday: sunday, nth: 2}}
actions:
  - type: gift
    assignee: {role: store_manager}
    window: {not_before: -3d, due_by: 0d}
""",
    "complaint.yaml": """
id: complaint
title: Complaint reply
version: 1
trigger: {kind: complaint}
conditions: ['complaint.severity != "low" || customer.lifetime_spend > 100']
params:
  reply: {type: hours, default: 24h, overridable: true}
actions:
  - type: call
    assignee: {role: store_manager}
    window: {due_by: params.reply}
    params: {hour: complaint.hour, topic: complaint.topic}
""",
    "email.yaml": """
id: email
title: E-mail answered
version: 1
trigger: {kind: event, event: [email, Inquiry]}
actions:
  - type: email
    assignee: {role: store_staff, source: customer.last_staff_id, fallback: store_manager}
    window: {not_before: 2h, due_by: 72h}
""",
}


def _policies(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in POLICIES.items():
        (folder / name).write_text(text.lstrip())
    return folder


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return compile_paths([_policies(tmp_path_factory.mktemp("p") / "policies")])


# -- date rules ------------------------------------------------------------------------
def _schedule(text: str) -> Any:
    doc = {"id": "x-x", "title": "t", "version": 1, "trigger": json.loads(text),
           "actions": [{"type": "task", "assignee": {"role": "store_manager"},
                        "window": {"due_by": "0d"}}]}
    return parse_policy(doc).trigger


def test_mothers_day_is_the_second_sunday_of_may() -> None:
    rule = _schedule('{"kind": "schedule", "every": "year", '
                     '"on": {"month": 5, "weekday": "sunday", "nth": 2}}')
    assert dates_in(rule, dt.date(2024, 1, 1), dt.date(2026, 12, 31)) == [
        dt.date(2024, 5, 12), dt.date(2025, 5, 11), dt.date(2026, 5, 10)]


def test_last_weekday_and_days_past_a_months_end() -> None:
    last = _schedule('{"kind": "schedule", "every": "month", '
                     '"on": {"weekday": "friday", "nth": -1}}')
    assert dates_in(last, dt.date(2025, 1, 1), dt.date(2025, 3, 31)) == [
        dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 28)]
    day31 = _schedule('{"kind": "schedule", "every": "month", "on": "day 31"}')
    assert dates_in(day31, dt.date(2024, 2, 1), dt.date(2024, 4, 30)) == [
        dt.date(2024, 2, 29), dt.date(2024, 3, 31), dt.date(2024, 4, 30)]
    quarter = _schedule('{"kind": "schedule", "every": "quarter"}')
    assert dates_in(quarter, dt.date(2025, 1, 2), dt.date(2025, 12, 31)) == [
        dt.date(2025, 4, 1), dt.date(2025, 7, 1), dt.date(2025, 10, 1)]


@pytest.mark.parametrize("trigger", [
    '{"kind": "schedule", "every": "month"}',
    '{"kind": "schedule", "every": "month", "on": "01-01"}',
    '{"kind": "schedule", "every": "year", "on": "day 1"}',
    '{"kind": "schedule", "every": "year", "on": {"weekday": "sunday", "nth": 2}}',
    '{"kind": "schedule", "every": "quarter", "on": "day 1"}',
    '{"kind": "schedule", "every": "calendar"}',
    '{"kind": "schedule", "every": "day", "calendar": {"kind": "holiday"}}',
    '{"kind": "schedule", "every": "calendar", "calendar": {}}',
])
def test_schedule_shapes_that_do_not_fit(trigger: str) -> None:
    with pytest.raises(ValueError):
        _schedule(trigger)


# -- hours -----------------------------------------------------------------------------
def test_hours_count_elapsed_time_in_the_stores_zone() -> None:
    zones = Zones({"S1": "Europe/Berlin"}, None)
    at = dt.datetime(2025, 3, 29, 10, 0)  # clocks go forward that night: 23 hours
    fields = window(at.date(), at, (0, False), (24, True), zones.of("S1"))
    assert fields == {"not_before": "2025-03-29", "due_by": "2025-03-30",
                      "due_at": "2025-03-30T11:00:00+02:00"}
    plain = window(at.date(), at, (2, True), (24, True), zones.of("nowhere"))
    assert plain == {"not_before": "2025-03-29", "due_by": "2025-03-30",
                     "due_at": "2025-03-30T10:00:00"}
    days = window(at.date(), at, (0, False), (7, False), zones.of("S1"))
    assert days == {"not_before": "2025-03-29", "due_by": "2025-04-05"}


# -- data ------------------------------------------------------------------------------
IDS = ["C1", "C2", "C3", "C4"]
DAYS = [dt.date(2025, 3, 28), dt.date(2025, 3, 29), dt.date(2025, 3, 30),
        dt.date(2025, 3, 31), dt.date(2025, 4, 1), dt.date(2025, 5, 11)]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[dict[str, list[dict[str, Any]]], dt.date]:
    customers = [{"customer_id": c, "region": draw(st.sampled_from(["north", "south"])),
                  "staff_id": draw(st.sampled_from([None, "E1"]))}
                 for c in IDS[:draw(st.integers(1, len(IDS)))]]
    ids = [c["customer_id"] for c in customers]
    evaluated = draw(st.sampled_from(DAYS))
    day = st.sampled_from([evaluated, evaluated, evaluated, *DAYS, dt.date(2025, 1, 15)])
    moment = st.builds(lambda d, h, m: dt.datetime.combine(d, dt.time(h, m)), day,
                       st.integers(0, 23), st.sampled_from([0, 30]))
    amounts = st.sampled_from(["50", "2000", "4000", "-100"])
    purchases = [{"purchase_id": f"P{i}", "customer_id": draw(st.sampled_from(ids)),
                  "store_id": draw(st.sampled_from(["S1", "S2"])),
                  "staff_id": draw(st.sampled_from([None, "E2"])),
                  "purchased_at": draw(moment).isoformat(), "amount": draw(amounts)}
                 for i in range(draw(st.integers(0, 8)))]
    complaints = [{"complaint_id": f"K{i}", "customer_id": draw(st.sampled_from(ids)),
                   "store_id": draw(st.sampled_from([None, "S1", "S2"])),
                   "received_at": draw(moment).isoformat(), "channel": "phone",
                   "topic": draw(st.sampled_from([None, "fit"])),
                   "severity": draw(st.sampled_from(["low", "high"]))}
                  for i in range(draw(st.integers(0, 4)))]
    events = [{"event_id": f"E{i}", "kind": draw(st.sampled_from(["email", "inquiry", "rsvp"])),
               "customer_id": draw(st.sampled_from(ids)), "store_id": "S1",
               "occurred_at": draw(moment).isoformat(), "attributes": '{"subject": "size"}'}
              for i in range(draw(st.integers(0, 4)))]
    calendar = [{"date": d, "name": n, "kind": k, "region": r} for d, n, k, r in draw(
        st.lists(st.tuples(st.sampled_from([d.isoformat() for d in DAYS]),
                           st.sampled_from(["Lunar New Year", "Spring"]),
                           st.sampled_from(["holiday", "Holiday", "season"]),
                           st.sampled_from([None, "north", "south"])), max_size=4))]
    stores = [{"store_id": "S1", "region": "north", "timezone": "Europe/Berlin"},
              {"store_id": "S2", "region": "south", "timezone": None}]
    return {"customers": customers, "purchases": purchases, "complaints": complaints,
            "events": events, "calendar": calendar, "stores": stores}, evaluated


def _write(folder: Path, world: dict[str, list[dict[str, Any]]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in world.items():
        if rows:
            (folder / f"{table}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if not world["purchases"]:
        (folder / "purchases.csv").write_text(
            "purchase_id,customer_id,store_id,purchased_at,amount\n")


def _by_id(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(actions, key=lambda a: a["action_id"])


SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=30, deadline=None, suppress_health_check=SLOW)
@given(worlds())
def test_the_nightly_run_and_the_per_event_path_agree(
        plan: Plan, tmp_path_factory: pytest.TempPathFactory,
        drawn: tuple[dict[str, list[dict[str, Any]]], dt.date]) -> None:
    expected, got = both_paths(plan, tmp_path_factory.mktemp("w"), *drawn)
    seats = [a for a in expected if a["policy"] == "seats"]
    assert len(seats) <= 2 * len({a["store_id"] for a in seats})
    assert _by_id(got) == _by_id([a for a in expected if a["policy"] != "seats"])


def both_paths(plan: Plan, folder: Path, world: dict[str, list[dict[str, Any]]],
               day: dt.date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The day's actions of the nightly run, and those the point of sale fired replaying
    the day on views rebuilt up to the day before."""
    _write(folder / "data", world)
    source = open_source(folder / "data", as_of_limit=dt.date(2025, 12, 31))
    con = source.connection
    expected = evaluate(con, plan, day, day, "Asia/Seoul").actions
    state = folder / "state.db"
    rebuild(state, con, day - dt.timedelta(days=1), plan, "Asia/Seoul")
    engine = Engine.load(plan_dir(plan), state=state)
    try:
        return expected, _replay(engine, world, day)
    finally:
        engine.close()


def plan_dir(plan: Plan) -> Path:
    return Path(plan.policies[0].source).parent


def _replay(engine: Engine, world: dict[str, list[dict[str, Any]]], day: dt.date
            ) -> list[dict[str, Any]]:
    """The day's receipts, complaints and events in time order, then the schedules."""
    moments: list[tuple[str, int, str, dict[str, Any]]] = []
    for kind, stamp in (("purchases", "purchased_at"), ("complaints", "received_at"),
                        ("events", "occurred_at")):
        for row in world[kind]:
            if dt.datetime.fromisoformat(row[stamp]).date() == day:
                moments.append((row[stamp], 0 if kind == "purchases" else 1, kind, row))
    found: list[dict[str, Any]] = []
    calls = {"purchases": engine.on_purchase, "complaints": engine.on_complaint,
             "events": engine.on_event}
    for _at, _order, kind, row in sorted(moments, key=lambda m: m[:2]):
        found += [d["action"] for d in calls[kind](row).decisions]
    for customer in world["customers"]:
        found += [d["action"] for d in engine.on_day(customer["customer_id"], day).decisions]
    # every action the day fired, once (a deferred one is decided again when the day
    # closes), whatever the contact rules then did with it
    return list({a["action_id"]: a for a in reversed(found)}.values())


def test_examples_of_each_occasion(plan: Plan, tmp_path: Path) -> None:
    world = {
        "customers": [{"customer_id": "C1", "region": "north", "staff_id": "E1"},
                      {"customer_id": "C2", "region": "south"}],
        "purchases": [{"purchase_id": "P1", "customer_id": "C1", "store_id": "S1",
                       "purchased_at": "2025-03-01T10:00:00", "amount": "6000"}],
        "complaints": [{"complaint_id": "K1", "customer_id": "C1", "store_id": "S1",
                        "received_at": "2025-03-29T10:00:00", "channel": "phone",
                        "topic": "fit", "severity": "high"}],
        "events": [{"event_id": "E1", "kind": "EMAIL", "customer_id": "C2", "store_id": "S2",
                    "occurred_at": "2025-03-29T23:30:00", "attributes": "{}"}],
        "calendar": [{"date": "2025-03-29", "name": "Spring", "kind": "holiday",
                      "region": "north"},
                     {"date": "2025-03-29", "name": "Spring", "kind": "season", "region": None}],
        "stores": [{"store_id": "S1", "region": "north", "timezone": "Europe/Berlin"},
                   {"store_id": "S2", "region": "south", "timezone": None}],
    }
    _write(tmp_path / "data", world)
    con = open_source(tmp_path / "data", as_of_limit=dt.date(2025, 12, 31)).connection
    actions = evaluate(con, plan, dt.date(2025, 3, 29), dt.date(2025, 4, 1)).actions
    fired = {(a["policy"], a["customer_id"], a["as_of"]): a for a in actions}
    holiday = fired[("holiday", "C1", "2025-03-29")]
    assert holiday["params"] == {"occasion": "Spring"}
    assert ("holiday", "C2", "2025-03-29") not in fired  # a northern holiday only
    complaint = fired[("complaint", "C1", "2025-03-29")]
    assert complaint["due_at"] == "2025-03-30T11:00:00+02:00"  # 24 hours, clocks forward
    assert complaint["reason"]["complaint_id"] == "K1"
    assert complaint["params"] == {"hour": 10, "topic": "fit"}
    email = fired[("email", "C2", "2025-03-29")]
    assert (email["not_before"], email["due_by"], email["due_at"]) == (
        "2025-03-30", "2025-04-01", "2025-04-01T23:30:00")  # S2 has no zone, nor the source
    assert fired[("monthly", "C1", "2025-03-31")]["due_by"] == "2025-04-02"
    gathering = fired[("quarterly", "C1", "2025-04-01")]
    assert gathering["invitation"] == {"event_id": "gathering-h1", "date": "2025-05-01",
                                       "capacity": None}
    assert fired[("seats", "C1", "2025-04-01")]["invitation"]["capacity"] == 2
    assert ("quarterly", "C2", "2025-04-01") not in fired


def test_missing_tables_warn_and_fire_nothing(plan: Plan, tmp_path: Path) -> None:
    from loyaltyrules.nightly import missing_tables

    assert missing_tables(plan, frozenset({"customers", "purchases"})) == [
        "complaint: no complaints table", "email: no events table", "holiday: no calendar table"]
    assert missing_tables(plan, frozenset({"calendar", "complaints", "events"})) == []


def test_seats_go_to_the_highest_lifetime_spend(plan: Plan, tmp_path: Path) -> None:
    spends = {"C1": "100", "C2": "900", "C3": "500", "C4": "900"}
    world: dict[str, list[dict[str, Any]]] = {
        "customers": [{"customer_id": c} for c in spends],
        "purchases": [{"purchase_id": f"P{c}", "customer_id": c, "store_id": "S1",
                       "purchased_at": "2025-02-01T10:00:00", "amount": a}
                      for c, a in spends.items()],
        "complaints": [], "events": [], "calendar": [], "stores": []}
    _write(tmp_path / "data", world)
    con = open_source(tmp_path / "data", as_of_limit=dt.date(2025, 12, 31)).connection
    actions = evaluate(con, plan, dt.date(2025, 4, 1), dt.date(2025, 4, 1)).actions
    assert sorted(a["customer_id"] for a in actions if a["policy"] == "seats") == ["C2", "C4"]
    assert Decimal(spends["C3"]) < Decimal(spends["C2"])


# -- deadlines in hours ------------------------------------------------------------------
def _reply_and_later(engine: Engine) -> tuple[Any, Any]:
    engine.on_customer({"customer_id": "C1", "region": "north"})
    first = engine.on_complaint({"complaint_id": "K1", "customer_id": "C1", "store_id": "S1",
                                 "received_at": "2025-03-29T10:00:00", "severity": "high"})
    later = engine.on_complaint({"complaint_id": "K2", "customer_id": "C1", "store_id": "S1",
                                 "received_at": "2025-03-30T10:30:00", "severity": "high"})
    return first, later


def test_an_unanswered_complaint_escalates_at_the_next_pos_call(plan: Plan, tmp_path: Path
                                                                ) -> None:
    from loyaltyrules.lifecycle import lifecycle_actions

    state = tmp_path / "state.db"
    engine = Engine.load(plan_dir(plan), state=state)
    try:
        first, later = _reply_and_later(engine)
        assert engine.on_complaint({"complaint_id": "K1", "customer_id": "C1",
                                    "received_at": "2025-03-29T10:00:00"}) == []  # seen
    finally:
        engine.close()
    (reply,) = first
    assert reply["due_at"] == "2025-03-30T10:00:00"
    escalation = next(a for a in later if a["policy"] == "escalation")
    assert escalation["params"]["original_action_id"] == reply["action_id"]
    assert (escalation["as_of"], escalation["assignee"]["role"]) == ("2025-03-30",
                                                                    "store_manager")
    # K2's reply, a task for the same manager and customer that day, merged into it
    second = next(d for d in later.decisions if d["action"]["policy"] == "complaint")
    assert second["status"] == "merged"
    # the nightly run finds the escalation recorded: nothing twice
    assert lifecycle_actions(state, dt.date(2025, 3, 30), dt.date(2025, 3, 31)) == []


def test_the_nightly_run_escalates_a_passed_due_time_and_an_outcome_stops_it(
        plan: Plan, tmp_path: Path) -> None:
    import sqlite3

    from loyaltyrules.lifecycle import lifecycle_actions
    from loyaltyrules.outcomes.state import OUTCOMES_DDL

    state = tmp_path / "state.db"
    engine = Engine.load(plan_dir(plan), state=state)
    try:
        engine.on_customer({"customer_id": "C1", "region": "north"})
        (reply,) = engine.on_complaint({"complaint_id": "K1", "customer_id": "C1",
                                        "received_at": "2025-03-29T10:00:00",
                                        "severity": "high"})
    finally:
        engine.close()
    assert lifecycle_actions(state, dt.date(2025, 3, 29), dt.date(2025, 3, 29)) == []
    (task,) = lifecycle_actions(state, dt.date(2025, 3, 30), dt.date(2025, 3, 30))
    assert task["params"]["original_action_id"] == reply["action_id"]
    assert task["reason"]["values"]["action.due_at"] == "2025-03-30T10:00:00"
    with sqlite3.connect(state) as conn:
        conn.execute(OUTCOMES_DDL)
        conn.execute("INSERT INTO outcomes VALUES (?, 'done', '2025-03-30T09:00:00', "
                     "'2025-03-30', '', NULL, 'none', '', '')", (reply["action_id"],))
    assert lifecycle_actions(state, dt.date(2025, 3, 30), dt.date(2025, 3, 30)) == []


def test_validate_with_data_names_an_unknown_calendar_kind(plan: Plan, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from loyaltyrules.cli import cli

    data = tmp_path / "data"
    _write(data, {"customers": [{"customer_id": "C1"}], "purchases": [], "complaints": [],
                  "events": [], "stores": [],
                  "calendar": [{"date": "2025-02-10", "name": "Lunar New Year",
                                "kind": "Holday", "region": None}]})
    result = CliRunner().invoke(cli, ["validate", str(plan_dir(plan)), "--data", str(data)])
    assert result.exit_code == 1, result.output
    assert "holiday.yaml:4:61: error [calendar.unknown-kind]" in result.output
    assert "did you mean 'holday'" in result.output


def test_the_run_writes_due_at_and_invitations_to_the_host(plan: Plan, tmp_path: Path) -> None:
    """What the host receives: the JSON Lines and CSV files of `run`."""
    import csv

    from click.testing import CliRunner

    from loyaltyrules.cli import cli

    world = {
        "customers": [{"customer_id": "C1", "region": "north"}],
        "purchases": [{"purchase_id": "P1", "customer_id": "C1", "store_id": "S1",
                       "purchased_at": "2025-03-01T10:00:00", "amount": "6000"}],
        "complaints": [{"complaint_id": "K1", "customer_id": "C1", "store_id": "S1",
                        "received_at": "2025-04-02T10:00:00", "severity": "high"}],
        "events": [], "calendar": [],
        "stores": [{"store_id": "S1", "region": "north", "timezone": "Europe/Berlin"}]}
    _write(tmp_path / "data", world)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "run", "--as-of", "2025-04-01", "--through", "2025-04-02", "--data",
        str(tmp_path / "data"), "--policies", str(plan_dir(plan)), "--state",
        str(tmp_path / "s.db"), "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for f in sorted(out.glob("actions-*.jsonl"))
             for x in f.read_text().splitlines()]
    reply = next(a for a in lines if a["policy"] == "complaint")
    assert reply["due_at"] == "2025-04-03T10:00:00+02:00"
    assert reply["reason"]["complaint_id"] == "K1"
    invited = next(a for a in lines if a["policy"] == "quarterly")
    assert invited["invitation"]["event_id"] == "gathering-h1"
    rows = [r for f in sorted(out.glob("actions-*.csv"))
            for r in csv.DictReader(f.read_text(encoding="utf-8-sig").splitlines())]
    row = next(r for r in rows if r["policy"] == "complaint")
    assert (row["due_at"], row["reason_row_id"]) == ("2025-04-03T10:00:00+02:00", "K1")
    assert "warning: policy email: no events table in the data, so it never fires" \
        in result.output


def test_explain_shows_complaints_and_calendar_days(plan: Plan, tmp_path: Path) -> None:
    from loyaltyrules.engine.explain import explain

    world = {
        "customers": [{"customer_id": "C1", "region": "north"}],
        "purchases": [], "events": [], "stores": [],
        "complaints": [{"complaint_id": "K1", "customer_id": "C1",
                        "received_at": "2025-03-29T10:00:00", "severity": "low"}],
        "calendar": [{"date": "2025-03-29", "name": "Spring", "kind": "holiday",
                      "region": None}]}
    _write(tmp_path / "data", world)
    con = open_source(tmp_path / "data", as_of_limit=dt.date(2025, 12, 31)).connection
    traces = {t.policy: t for t in explain(con, plan, "C1", dt.date(2025, 3, 29))}
    (complaint,) = traces["complaint"].candidates
    assert complaint.subject == "K1" and not complaint.fired  # low severity, no spend
    assert complaint.conditions[0].result == "false"
    assert traces["holiday"].fired
    assert traces["email"].not_triggered == [
        "no host event of these kinds for this customer on this date"]
