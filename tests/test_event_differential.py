"""The per-event path against the nightly run: for generated histories, a day's
receipts fed one by one give exactly the actions (ids, fields, params, reasons) the
nightly run gives for that day's purchase-driven policies, and through `Engine` end in
the same statuses (emitted, deferred, merged, expired) as the nightly run over that
day, with consent, caps, a store calendar and merges in play."""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from loyaltyrules import api
from loyaltyrules.api import Engine, StatelessEngine
from loyaltyrules.contact import ledger_state
from loyaltyrules.contact.model import WEEKDAYS
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.event import rebuild
from loyaltyrules.event.view import CustomerView
from loyaltyrules.ledger import Ledger
from loyaltyrules.nightly import run_range
from loyaltyrules.plan import Plan, compile_paths
from loyaltyrules.sources import open_source
from test_pack_properties import END, IDS, START, _load, histories

from _paths import PACK
from pack_oracle import Customer, Receipt

PURCHASE_DRIVEN = {"purchase", "first_purchase", "crossing", "upgrade"}
SCHEDULED = {"schedule", "downgrade"}
SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
DAYS = [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]


@pytest.fixture(scope="module", autouse=True)
def _each_folder_compiled_once() -> Iterator[None]:
    """`Engine.load` validates and compiles its folder at every example; a folder does
    not change within this module, so its plan (immutable) is compiled once. Loading a
    folder is tested where it is the subject (tests/test_event_api.py, test_validate_*);
    here the subject is what the engine decides."""
    plans: dict[tuple[Path, ...], Plan] = {}

    def compiled(paths: Sequence[Path]) -> Plan:
        key = tuple(paths)
        if key not in plans:
            plans[key] = compile_paths(list(paths))
        return plans[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "compile_paths", compiled)
        yield


def _sorted(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(actions, key=lambda a: a["action_id"])


def _nightly(con: Any, plan: Plan, day: dt.date, triggers: set[str] = PURCHASE_DRIVEN
             ) -> list[dict[str, Any]]:
    actions = evaluate(con, plan, day, day).actions
    return _sorted([a for a in actions if a["reason"]["trigger"] in triggers
                    and a["policy"] not in NIGHTLY_ONLY])


# a rank, seats shared by a store's customers, ABC classes: the nightly run's alone
NIGHTLY_ONLY = {"top-spender-flowers", "vip-gathering", "a-class-thanks-card",
                "a-class-monthly-call", "a-class-preseason-call"}


def _day_receipts(con: Any, day: dt.date) -> list[dict[str, Any]]:
    cur = con.execute(
        "SELECT purchase_id, customer_id, store_id, staff_id, purchased_at, amount "
        "FROM purchases WHERE purchase_date = $d ORDER BY purchased_at, purchase_id", {"d": day})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _stateless(engine: StatelessEngine, store: Engine, receipts: list[dict[str, Any]],
               views: dict[str, CustomerView | None]) -> list[dict[str, Any]]:

    def view(cid: str | None) -> CustomerView | None:
        if cid is None:
            return None
        if cid not in views:
            views[cid] = store.view(cid)
        return views[cid]

    found: list[dict[str, Any]] = []
    for receipt in receipts:
        mine = view(receipt["customer_id"])
        referrer = view(mine.record.referred_by) if mine and mine.record else None
        actions, views[receipt["customer_id"]] = engine.on_purchase(receipt, mine, referrer)
        found += actions  # the evaluator's candidates, before the contact rules
    return sorted(found, key=lambda a: a["action_id"])


def _on(day: dt.date, ids: list[str]) -> st.SearchStrategy[list[Receipt]]:
    """Extra receipts on the evaluated day, big ones likely (crossings, tiers)."""
    amounts = [Decimal(v) for v in ("-3000", "0", "35.50", "2000", "5000", "9999.99",
                                    "10000", "25000", "60000")]
    times = st.builds(lambda h, m: dt.datetime.combine(day, dt.time(h, m)),
                      st.integers(9, 12), st.sampled_from([0, 30]))
    one = st.tuples(st.sampled_from(ids), times, st.sampled_from(amounts))
    return st.lists(one, max_size=6).map(lambda rows: [
        Receipt(f"Q{i}", cid, at, amount) for i, (cid, at, amount) in enumerate(rows)])


@settings(max_examples=25, deadline=None, suppress_health_check=SLOW)
@given(histories(), st.data())
def test_a_day_event_by_event_equals_the_nightly_run(
        pack_plan: Plan, tmp_path_factory: Any,
        history: tuple[list[Customer], list[Receipt]], data: st.DataObject) -> None:
    customers, receipts = history
    day = data.draw(st.sampled_from(DAYS))
    receipts = receipts + data.draw(_on(day, [c.customer_id for c in customers]))
    folder: Path = tmp_path_factory.mktemp("h")
    con = _load(folder, customers, receipts)
    state = folder / "state.db"
    rebuild(state, con, day - dt.timedelta(days=1), pack_plan)
    expected = _nightly(con, pack_plan, day)
    todays = _day_receipts(con, day)
    engine = Engine.load(PACK, state=state, stores={})
    try:
        views: dict[str, CustomerView | None] = {}
        assert _stateless(engine.stateless, engine, todays, views) == expected
        # schedules from the end-of-day views equal the nightly run's (ranks aside)
        schedules = []
        for customer in customers:
            view = views.get(customer.customer_id) or engine.view(customer.customer_id)
            assert view is not None
            schedules += engine.stateless.on_day(view, day)
        assert _sorted(schedules) == _nightly(con, pack_plan, day, SCHEDULED)
        decided = [d["action"] for r in todays for d in engine.on_purchase(r).decisions]
        if todays:  # a receipt sent again counts once
            assert engine.on_purchase(todays[0]).decisions == []
    finally:
        engine.close()
    assert sorted(a["action_id"] for a in decided) == sorted({a["action_id"] for a in expected})


NORTH = """kind: override
target: {region: north}
policies:
  big-purchase-call: {params: {threshold: 1500, call_after: 2d, due_days: 3d, keep_days: 12d}}
  cumulative-thanks: {params: {threshold: 9000}}
  vip-tiers: {params: {silver_points: 4000}}
"""
STORE = """kind: override
target: {store: S2}
policies:
  big-purchase-call: {params: {threshold: 3000}}
  cumulative-thanks: {params: {threshold: 12000.5}}
"""


@settings(max_examples=10, deadline=None, suppress_health_check=SLOW)
@given(histories(), st.data())
def test_overrides_and_stores_agree_too(tmp_path_factory: Any,
                                        history: tuple[list[Customer], list[Receipt]],
                                        data: st.DataObject) -> None:
    """Params per scope: a receipt's store, the store's region, else the customer's."""
    folder: Path = tmp_path_factory.mktemp("o")
    policies = folder / "policies"
    shutil.copytree(PACK, policies)
    (policies / "overrides").mkdir()
    (policies / "overrides" / "north.yaml").write_text(NORTH)
    (policies / "overrides" / "s2.yaml").write_text(STORE)
    call = policies / "big-purchase-call.yaml"  # a validity of its own, per scope
    call.write_text(call.read_text().replace("      due_by: params.due_days\n", (
        "      due_by: params.due_days\n      valid_until: params.keep_days\n")).replace(
        "params:\n", "params:\n  keep_days: {type: duration, default: 10d, overridable: true,"
        " description: How long the call stays worth making.}\n", 1))
    plan = compile_paths([policies])
    customers, receipts = history
    day = data.draw(st.sampled_from(DAYS))
    receipts = receipts + data.draw(_on(day, [c.customer_id for c in customers]))
    stores = data.draw(st.lists(st.sampled_from(["S1", "S2", "S3"]), min_size=len(receipts),
                                max_size=len(receipts)))
    con = _load(folder, customers, receipts)
    con.execute("CREATE OR REPLACE TABLE stores AS SELECT * FROM (VALUES "
                "('S1', 'south'), ('S2', 'north'), ('S3', NULL)) AS s(store_id, region)")
    for receipt, store in zip(receipts, stores, strict=True):
        con.execute("UPDATE purchases SET store_id = ? WHERE purchase_id = ?",
                    [store, receipt.purchase_id])
    state = folder / "state.db"
    rebuild(state, con, day - dt.timedelta(days=1), plan)
    engine = Engine.load(policies, state=state)
    try:
        views: dict[str, CustomerView | None] = {}
        got = _stateless(engine.stateless, engine, _day_receipts(con, day), views)
    finally:
        engine.close()
    assert got == _nightly(con, plan, day)


CONTACT = """kind: contact-rules
caps:
  - {channel: sms, max: 1, window: 3d}
  - {channel: call, max: 1, window: 2d}
  - {channel: letter, max: 1, window: 5d}
  - {channel: tier_change, max: 1, window: 1d}
deferral: {max_days: 4d}
staff_tasks: {types: [call, letter, task], merge: true}
calendar:
  from_table: false
  closed_weekdays: [%s]
"""
CONSENTS = ("consent_sms", "consent_call", "consent_mail", "consent_visit")


@functools.cache
def _strict_pack(folder: Path, closed: str | None) -> tuple[Path, Plan]:
    """The pack with tight caps (tier changes too), letters merged as staff tasks, and
    its stores closed on one weekday."""
    policies = folder / f"pack-{closed}"
    shutil.copytree(PACK, policies)
    weekday = f"{{weekday: {closed}}}" if closed else ""
    (policies / "contact-rules.yaml").write_text(CONTACT % weekday, encoding="utf-8")
    return policies, compile_paths([policies])


def _copy(state: Path, to: Path) -> Path:
    with closing(sqlite3.connect(state)) as source, closing(sqlite3.connect(to)) as target:
        source.backup(target)
    return to


def _decisions(state: Path) -> dict[str, dict[str, Any]]:
    with Ledger.open(state) as ledger:
        return {r["action_id"]: r for r in ledger_state(ledger)}


@settings(max_examples=15, deadline=None, suppress_health_check=SLOW)
@given(histories(), st.data())
def test_a_days_receipts_at_the_till_end_as_the_nightly_run_ends_them(
        tmp_path_factory: Any, history: tuple[list[Customer], list[Receipt]],
        data: st.DataObject) -> None:
    """The night before is run; then the day's receipts go one by one through `Engine`
    and the night closes the day, on one state; the nightly run alone over that day, on
    a copy: every decision (status, reason, dates, merges, record) is the same, and
    each answer at the till says what the ledger says."""
    customers, receipts = history
    day = data.draw(st.sampled_from(DAYS))
    receipts = receipts + data.draw(_on(day, [c.customer_id for c in customers]))
    closed = data.draw(st.sampled_from([None, WEEKDAYS[day.weekday()], "sunday"]))
    policies, plan = _strict_pack(tmp_path_factory.getbasetemp(), closed)
    folder: Path = tmp_path_factory.mktemp("c")
    _load(folder, customers, receipts)
    source = open_source(folder, as_of_limit=END)
    for customer in IDS[:len(customers)]:
        flags = data.draw(st.tuples(*[st.booleans()] * 4), label=f"consent of {customer}")
        source.connection.execute(
            f"UPDATE customers SET {', '.join(f'{c} = ?' for c in CONSENTS)} "
            "WHERE customer_id = ?", [*flags, customer])
    before = folder / "before.db"
    run_range(plan, source, START - dt.timedelta(days=10), day - dt.timedelta(days=1), before)
    till, night = _copy(before, folder / "till.db"), _copy(before, folder / "night.db")

    engine = Engine.load(policies, state=till)
    try:
        answers = [d for r in _day_receipts(source.connection, day)
                   for d in engine.on_purchase(r).decisions]
    finally:
        engine.close()
    run_range(plan, source, day, day, till)  # the close of the day
    run_range(plan, source, day, day, night)
    assert _decisions(till) == _decisions(night)
    ledger = _decisions(night)
    for answer in answers:
        event(f"at the till: {answer['status']} {answer['reason'] or ''}".strip())
        row = ledger[answer["action"]["action_id"]]
        status = "open" if answer["status"] == "emitted" else answer["status"]
        assert (status, answer["deferred_to"], answer["merged_into"]) == (
            row["status"], row["deferred_to"], row["merged_into"])
        assert answer["reason"] == (row["status_reason"] if status in ("deferred", "expired")
                                    else None)
