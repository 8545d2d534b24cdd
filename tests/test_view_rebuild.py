"""The nightly rebuild's SQL fold against the per-event fold it replaced.

For generated histories (returns, several years with gaps of one, two and more,
crossings with overrides per region and store, customers without receipts, receipts
without a customer record, ties in time), every view `rebuild` stores equals,
customer for customer, the view folded receipt by receipt with
`EventEvaluator.advance` (the reference, `python_fold` below).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltyrules import Engine
from loyaltyrules.event import rebuild
from loyaltyrules.event.evaluator import EventEvaluator
from loyaltyrules.event.facts import RECORD_FIELDS
from loyaltyrules.event.store import receipt_from_row
from loyaltyrules.event.view import UNKNOWN, CustomerRecord, CustomerView, Views
from loyaltyrules.plan import Plan, compile_paths

from _paths import PACK
from _tables import clean_schema as clean_schema_sql
from _tables import load_tables, pack_with_edge_metrics, with_crossing_notes

SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
RECEIPT_COLUMNS = ("purchase_id, customer_id, store_id, staff_id, purchased_at, amount, "
                   "currency, return_of")

@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """The pack with every kind of declared metric, crossings and overrides."""
    return compile_paths([with_crossing_notes(
        pack_with_edge_metrics(tmp_path_factory.mktemp("policies")))])


@pytest.fixture(scope="module")
def clean_schema(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """CREATE statements of the clean tables, as the sources leave them."""
    return clean_schema_sql(tmp_path_factory.mktemp("empty"))


# -- generated histories --------------------------------------------------------------
IDS = ["C1", "C2", "C3", "C4", 'C"5', "Cé6"]  # may have a record
STRANGERS = ["X1", "X2"]  # never have one
STORES = {"S1": "south", "S2": "north", "S3": None}  # S4: not in the stores table
# the years of a history: gaps of 1, 2 and 3+ years between them
YEAR_SETS = [(2019, 2020), (2018, 2020), (2020, 2024), (2018, 2019, 2020), (2019, 2021, 2022),
             (2019, 2022, 2023), (2025,)]
AMOUNTS = [Decimal(v) for v in ("-12000", "-2500.5", "-0.001", "0", "0.001", "35.505",
                                "999.999", "2000", "2999.999", "5000", "9000", "10000",
                                "12000.5", "25000")]
TIMES = [dt.time(10, 0), dt.time(10, 0), dt.time(23, 59, 59), dt.time(0, 0, 0, 1),
         dt.time(12, 30, 15, 123456)]  # repeats make ties, broken by purchase_id
DAYS = st.sampled_from([(1, 1), (12, 31), (2, 29), (6, 15)]) | st.tuples(
    st.integers(1, 12), st.integers(1, 28))


@dataclass(frozen=True)
class History:
    customers: list[tuple[Any, ...]]  # RECORD_FIELDS
    receipts: list[tuple[Any, ...]]  # purchases columns
    through: dt.date
    earlier: dt.date  # a first rebuild, as the night before


def _day(year: int, month_day: tuple[int, int]) -> dt.date:
    month, day = month_day
    return dt.date(year, month, 28 if (month, day) == (2, 29) and year % 4 else day)


@st.composite
def histories(draw: st.DrawFn) -> History:
    maybe = st.sampled_from([True, False, None])
    customers = [
        (cid, draw(st.none() | st.dates(dt.date(1950, 1, 1), dt.date(2005, 12, 31))),
         draw(st.sampled_from(["north", "south", "default", None])),
         draw(st.sampled_from([None, "S1", "S2", "S4"])),
         draw(st.none() | st.just(dt.date(2017, 5, 1))), draw(st.sampled_from([None, "C1"])),
         draw(st.sampled_from([None, "E1"])), draw(maybe), draw(maybe), draw(maybe),
         draw(maybe), draw(st.booleans()), draw(st.booleans()), draw(st.booleans()))
        for cid in draw(st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)))]
    # a few buyers and years per history, so that years follow each other often
    buyers = draw(st.lists(st.sampled_from([*IDS, *STRANGERS, None]), min_size=1,
                           max_size=4, unique=True))
    years = draw(st.sampled_from(YEAR_SETS))
    rows = draw(st.lists(st.tuples(
        st.sampled_from(buyers), st.sampled_from([*STORES, "S4"]),
        st.sampled_from([None, "E1", "E2"]), st.sampled_from(years), DAYS,
        st.sampled_from(TIMES), st.sampled_from(AMOUNTS)), max_size=30))
    numbers = draw(st.permutations(range(len(rows))))
    receipts = []
    for n, (cid, store, staff, year, month_day, time, amount) in zip(numbers, rows,
                                                                    strict=True):
        at = dt.datetime.combine(_day(year, month_day), time)
        suffix = draw(st.sampled_from(["", "", '"', "\\", "é"]))  # ids SQLite must keep
        receipts.append((f"P{n}{suffix}", cid, store, staff, at, at.date(), amount, None,
                         None, amount < 0))
    through = draw(st.just(dt.date(2025, 12, 31)) | st.builds(_day, st.sampled_from(years), DAYS))
    return History(customers, receipts, through, through - dt.timedelta(days=400))


def _tables(schema: list[str], history: History) -> duckdb.DuckDBPyConnection:
    return load_tables(schema, history.customers, history.receipts, STORES)


# -- the reference -------------------------------------------------------------------
def python_fold(con: duckdb.DuckDBPyConnection, through: dt.date, plan: Plan
                ) -> dict[str, CustomerView]:
    """Every view folded receipt by receipt in event order (the rebuild before SQL)."""
    ev = EventEvaluator(plan, dict(con.execute("SELECT store_id, region FROM stores").fetchall()))
    views = {row[0]: CustomerView(customer_id=row[0],
                                  record=CustomerRecord(**dict(zip(RECORD_FIELDS, row,
                                                                   strict=True))))
             for row in con.execute(f"SELECT {', '.join(RECORD_FIELDS)} FROM customers")
             .fetchall()}
    for row in con.execute(f"SELECT {RECEIPT_COLUMNS} FROM purchases WHERE customer_id IS "
                           "NOT NULL AND purchase_date <= $through ORDER BY purchased_at, "
                           "purchase_id", {"through": through}).fetchall():
        view = views.get(row[1]) or CustomerView(customer_id=row[1])
        views[row[1]] = ev.advance(view, receipt_from_row(row))
    return views


def _views(plan: Plan) -> Views:
    return EventEvaluator(plan).views


def _stored(state: Path, table: str = "customer_views") -> dict[str, str]:
    with sqlite3.connect(state) as conn:
        return dict(conn.execute(f"SELECT * FROM {table}").fetchall())  # our own table name


# 40 examples (was 80), as the other SQL-against-fold properties: each example runs two
# rebuilds; every metric's SQL against its fold has 120 of its own
# (tests/test_metrics_differential.py).
@settings(max_examples=40, deadline=None, suppress_health_check=SLOW)
@given(history=histories())
def test_the_sql_fold_equals_the_per_event_fold(
        plan: Plan, clean_schema: list[str], tmp_path_factory: pytest.TempPathFactory,
        history: History) -> None:
    con = _tables(clean_schema, history)
    state = tmp_path_factory.mktemp("state") / "state.db"
    rebuild(state, con, history.earlier, plan)  # the night before: swapped out below
    count = rebuild(state, con, history.through, plan, full=True)
    expected = python_fold(con, history.through, plan)
    stored = _stored(state)
    views = _views(plan)
    assert count == len(stored) == len(expected)
    assert {cid: views.from_json(text) for cid, text in stored.items()} == expected
    for cid, text in stored.items():  # the very text, but for non-ASCII left unescaped
        want = views.to_json(expected[cid])
        assert text == want if text.isascii() else json.loads(text) == json.loads(want)
    assert _stored(state, "customer_views_next") == {}
    with sqlite3.connect(state) as conn:
        seen = {pid for (pid,) in conn.execute("SELECT purchase_id FROM seen_purchases")}
    assert seen == {r[0] for r in history.receipts if r[5] <= history.through}


def test_without_crossing_policies_no_marks(clean_schema: list[str], tmp_path: Path) -> None:
    policies = tmp_path / "pack"
    shutil.copytree(PACK, policies)
    (policies / "cumulative-thanks.yaml").unlink()
    plan = compile_paths([policies])
    at = dt.datetime(2025, 3, 1, 10)
    history = History([("C1", *[None] * 6, True, True, True, True, False, False, False)],
                      [("P1", "C1", "S1", None, at, at.date(), Decimal("20000"), None, None,
                        False)], at.date(), at.date())
    con = _tables(clean_schema, history)
    rebuild(tmp_path / "state.db", con, at.date(), plan)
    views = _views(plan)
    view = views.from_json(_stored(tmp_path / "state.db")["C1"])
    assert view == python_fold(con, at.date(), plan)["C1"]
    assert view.crossed == frozenset()
    assert views.fold.value(view.metrics, "spend_this_year", at.date()) == Decimal("20000.000")


def test_an_engine_open_across_the_swap_sees_the_new_views(
        clean_schema: list[str], pack_plan: Plan, tmp_path: Path) -> None:
    """The swap renames tables under open POS connections; they follow the new ones."""
    at = dt.datetime(2025, 3, 1, 10)
    history = History([("C1", *[None] * 6, True, True, True, True, False, False, False)],
                      [("P1", "C1", "S1", None, at, at.date(), Decimal("100"), None, None,
                        False)], at.date(), at.date())
    con = _tables(clean_schema, history)
    state = tmp_path / "state.db"
    engine = Engine.load(PACK, state=state)
    try:
        receipt = {"purchase_id": "P2", "customer_id": "C1", "store_id": "S1",
                   "purchased_at": "2025-03-02T10:00:00", "amount": "50"}
        engine.on_purchase(receipt)
        for _night in range(2):  # the second swap puts the first night's table back
            rebuild(state, con, at.date(), pack_plan)
            view = engine.view("C1")
            assert view is not None and view.purchase_count == 2  # P1, and P2 replayed
            metrics = engine.metrics("C1")
            assert metrics is not None and metrics["lifetime_spend"] == Decimal("150.000")
        engine.on_purchase({**receipt, "purchase_id": "P3"})
        view = engine.view("C1")
        assert view is not None and view.purchase_count == 3
    finally:
        engine.close()


BIG_YEAR = """id: big-year
title: A call when the last 180 days reach 3,000
version: 1
trigger: {kind: purchase}
conditions:
  - customer.spend_180d >= 3000
actions:
  - type: call
    assignee: {role: store_staff}
    window: {due_by: 7d}
    template: big-purchase-call
"""
# A view as stored before metrics were declared (its running values by name).
OLD_VIEW = ('{"crossed":[],"customer_id":"C1","first_purchase_date":"2025-03-01",'
            '"last_positive_date":"2025-03-01","last_positive_staff":null,'
            '"last_positive_store":"S1","last_purchase_date":"2025-03-01",'
            '"last_purchased_at":"2025-03-01T10:00:00","last_receipt_store":"S1",'
            '"last_year_max_points":0,"last_year_spend":"0.000","lifetime_spend":"2500.000",'
            '"purchase_count":1,"record":null,"spend_this_year":"2500.000","year":2025,'
            '"year_before_max_points":0,"year_max_points":2500}')


def test_views_of_other_metrics_wait_for_the_rebuild(
        clean_schema: list[str], tmp_path: Path) -> None:
    """HQ adds a metric: views stored before lack its state. The point of sale leaves
    the policies reading it to the nightly run until the rebuild fills it in; the
    others go on. A view stored before metrics were declared is the same case."""
    state = tmp_path / "state.db"
    receipt = {"purchase_id": "P1", "customer_id": "C1", "store_id": "S1",
               "purchased_at": "2025-03-01T10:00:00", "amount": "2500"}
    engine = Engine.load(PACK, state=state)
    engine.on_customer({"customer_id": "C1", "region": "south"})
    engine.on_purchase(receipt)
    engine.close()
    policies = tmp_path / "b"
    shutil.copytree(PACK, policies)
    (policies / "big-year.yaml").write_text(BIG_YEAR)
    with (policies / "metrics.yaml").open("a") as out:
        out.write("  spend_180d: {aggregate: sum, of: purchase.amount, window: 180d, "
                  "where: purchase.amount > 0}\n")
    plan = compile_paths([policies])
    engine = Engine.load(policies, state=state)
    try:
        second = {**receipt, "purchase_id": "P2", "purchased_at": "2025-03-02T10:00:00",
                  "amount": "1000"}
        fired = engine.on_purchase(second).decisions  # spend_180d unknown: nothing
        assert [d["action"]["policy"] for d in fired] == []
        metrics = engine.metrics("C1")
        assert metrics is not None and "spend_180d" not in metrics
        assert metrics["lifetime_spend"] == Decimal("3500.000")
        at = dt.datetime(2025, 3, 1, 10)
        rows = [(pid, "C1", "S1", None, when, when.date(), Decimal(amount), None, None, False)
                for pid, when, amount in (("P1", at, "2500"),
                                          ("P2", at + dt.timedelta(days=1), "1000"))]
        con = load_tables(clean_schema, [("C1", *[None] * 13)], rows, STORES)
        rebuild(state, con, dt.date(2025, 3, 2), plan)
        metrics = engine.metrics("C1")
        assert metrics is not None and metrics["spend_180d"] == Decimal("3500.000")
        third = {**second, "purchase_id": "P3", "purchased_at": "2025-03-03T10:00:00"}
        fired = engine.on_purchase(third).decisions  # decided: emitted, or not (consent)
        assert [d["action"]["policy"] for d in fired] == ["big-year"]
    finally:
        engine.close()
    old = _views(plan).from_json(OLD_VIEW)
    assert old.purchase_count == 1 and old.last_positive_store == "S1"
    assert old.metrics and all(s is UNKNOWN for s in old.metrics) and old.ladder is UNKNOWN
