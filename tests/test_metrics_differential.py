"""Declared metrics, three ways: the nightly run's SQL, the point of sale's fold, and a
direct computation from the design (tests/metrics_oracle.py).

Generated histories put receipts on the edges of every window (D-N and D-N+1 for
30, 90 and 365 days), on both sides of year, quarter and month boundaries, on the same
day with tied times, with returns, zero amounts and missing associates; the metrics
are the pack's and tests/data/metrics-edges.yaml's (every aggregate, window shape and
kind of filter). Values are compared at the end of dates, and right after each receipt.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import duckdb
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyaltyrules.engine.batch import prepare
from loyaltyrules.engine.history import build_history
from loyaltyrules.engine.segments import direct_values
from loyaltyrules.engine.values import metric_values, receipt_values
from loyaltyrules.event.evaluator import EventEvaluator
from loyaltyrules.event.view import CustomerRecord, CustomerView, Receipt
from loyaltyrules.plan import Plan

import metrics_oracle as oracle
from _tables import load_tables

SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
DAYS = [dt.date(2024, 12, 31), dt.date(2025, 1, 1), dt.date(2025, 2, 28), dt.date(2025, 3, 1),
        dt.date(2025, 3, 31), dt.date(2025, 4, 1), dt.date(2025, 6, 30), dt.date(2025, 7, 1)]
EDGES = [0, 1, 29, 30, 31, 89, 90, 91, 364, 365, 366]
IDS = ["C1", "C2", "C3"]
AMOUNTS = [Decimal(v) for v in ("-250.5", "-0.001", "0", "0.001", "35.505", "120", "2000")]
TIMES = [dt.time(10, 0), dt.time(10, 0), dt.time(23, 59, 59), dt.time(0, 0, 0, 1)]


@st.composite
def receipts(draw: st.DrawFn) -> list[oracle.Receipt]:
    """Receipts on window edges of the evaluated dates, around period boundaries."""
    edge = st.builds(lambda d, k: d - dt.timedelta(days=k), st.sampled_from(DAYS),
                     st.sampled_from(EDGES))
    anywhere = st.dates(dt.date(2023, 10, 1), DAYS[-1])
    rows = draw(st.lists(st.tuples(
        st.sampled_from(IDS), st.sampled_from(["S1", "S2"]),
        st.sampled_from([None, "E1", "E2"]), edge | anywhere, st.sampled_from(TIMES),
        st.sampled_from(AMOUNTS)), max_size=25))
    order = draw(st.permutations(range(len(rows))))  # ids, so ties break either way
    return [oracle.Receipt(f"P{n:02d}", cid, store, staff, dt.datetime.combine(day, at), amount)
            for n, (cid, store, staff, day, at, amount) in zip(order, rows, strict=True)]


def _load(schema: list[str], found: list[oracle.Receipt]) -> duckdb.DuckDBPyConnection:
    customers = [(cid, None, "north", None, None, None, None, True, True, True, True,
                  False, False, False) for cid in IDS]
    rows = [(r.purchase_id, r.customer_id, r.store_id, r.staff_id, r.at, r.day, r.amount,
             None, None, r.amount < 0) for r in found]
    return load_tables(schema, customers, rows, {"S1": "north", "S2": "south"})


def _in_order(found: list[oracle.Receipt]) -> list[oracle.Receipt]:
    return sorted(found, key=lambda r: (r.at, r.purchase_id))


def _receipt(r: oracle.Receipt) -> Receipt:
    return Receipt(r.purchase_id, r.customer_id, r.store_id, r.at, r.amount, r.staff_id)


def _same(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    for name, value in want.items():
        assert got[name] == value, f"{where}: {name} is {got[name]!r}, the design says {value!r}"


def _direct(con: duckdb.DuckDBPyConnection, plan: Plan, names: list[str]
            ) -> dict[tuple[str, dt.date], dict[str, Any]]:
    """The values a short range's population reads (engine/segments.py direct_values)."""
    dates = sqlglot.parse_one(" UNION ALL ".join(f"SELECT DATE '{d}' AS as_of" for d in DAYS))
    assert isinstance(dates, sqlglot.exp.Query)
    cursor = con.execute(direct_values(plan, names, dates))
    columns = [d[0] for d in cursor.description]
    return {(row[0], row[1]): {c.removeprefix("customer."): v
                               for c, v in zip(columns, row, strict=True)}
            for row in cursor.fetchall()}


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW)
@given(found=receipts())
def test_values_at_the_end_of_a_date(edge_plan: Plan, clean_tables: list[str],
                                     found: list[oracle.Receipt]) -> None:
    con = _load(clean_tables, found)
    prepare(con, edge_plan, DAYS[0], DAYS[-1], whole=True)
    batch = metric_values(con, edge_plan, [(cid, day) for cid in IDS for day in DAYS],
                          oracle.AGGREGATE_METRICS.keys() | oracle.DERIVED.keys())
    direct = _direct(con, edge_plan, sorted(oracle.AGGREGATE_METRICS.keys()
                                            | oracle.DERIVED.keys()))
    evaluator = EventEvaluator(edge_plan)
    for cid in IDS:
        mine = [r for r in _in_order(found) if r.customer_id == cid]
        for day in DAYS:
            want = oracle.values([r for r in mine if r.day <= day], day)
            _same(batch[(cid, day)], want, f"nightly {cid} {day}")
            _same(direct[(cid, day)], want, f"straight from the receipts {cid} {day}")
            view = CustomerView(cid, CustomerRecord(cid, region="north"))
            for r in mine:
                if r.day <= day:
                    view = evaluator.advance(view, _receipt(r))
            _same(evaluator.metric_values(view, day), want, f"point of sale {cid} {day}")
    for since in (DAYS[0], DAYS[4], DAYS[-1]):  # running values only for the range's buyers
        build_history(con, DAYS[-1], edge_plan, whole=True, since=since)
        pairs = [(cid, day) for cid in IDS for day in DAYS if day >= since]
        summarised = metric_values(con, edge_plan, pairs, batch[pairs[0]].keys())
        assert summarised == {pair: batch[pair] for pair in pairs}, f"since {since}"


@settings(max_examples=60, deadline=None, suppress_health_check=SLOW)
@given(found=receipts())
def test_values_right_after_each_receipt(edge_plan: Plan, clean_tables: list[str],
                                         found: list[oracle.Receipt]) -> None:
    con = _load(clean_tables, found)
    prepare(con, edge_plan, DAYS[-1], DAYS[-1], whole=True)
    names = oracle.AGGREGATE_METRICS.keys() | oracle.DERIVED.keys()
    batch = receipt_values(con, edge_plan, names)
    evaluator = EventEvaluator(edge_plan)
    ordered = _in_order(found)
    views = {cid: CustomerView(cid, CustomerRecord(cid, region="north")) for cid in IDS}
    for i, r in enumerate(ordered):
        views[r.customer_id] = evaluator.advance(views[r.customer_id], _receipt(r))
        so_far = [o for o in ordered[: i + 1] if o.customer_id == r.customer_id]
        want = oracle.values(so_far, r.day)
        _same(batch[r.purchase_id], want, f"nightly after {r.purchase_id}")
        _same(evaluator.metric_values(views[r.customer_id], r.day), want,
              f"point of sale after {r.purchase_id}")


def test_a_rolling_window_holds_the_longest_window_of_days(edge_plan: Plan) -> None:
    """The view keeps a day bucket per day a receipt counted, for the longest window of
    the accumulator only: its state is bounded by the window, not by the history."""
    evaluator = EventEvaluator(edge_plan)
    view = CustomerView("C1", CustomerRecord("C1"))
    start = dt.datetime(2023, 1, 1, 10)
    for n in range(800):
        at = start + dt.timedelta(days=n)
        view = evaluator.advance(view, Receipt(f"P{n}", "C1", "S1", at, Decimal("1")))
    fold = evaluator.views.fold
    day = (start + dt.timedelta(days=799)).date()
    for acc, state in zip(fold.accs, view.metrics, strict=True):
        if acc.shape == "days":
            assert len(state) == acc.keep  # 365 for spend_365d's accumulator
            assert state[0][0] == day.toordinal() - acc.keep + 1
    assert evaluator.metric_values(view, day)["spend_365d"] == Decimal("365")
    assert evaluator.metric_values(view, day + dt.timedelta(days=300))["spend_365d"] == \
        Decimal("65")


def test_the_pack_declares_the_metrics_of_its_policies(edge_plan: Plan) -> None:
    """Every metric the oracle knows is declared, with the type the design implies."""
    declared = edge_plan.metrics.types()
    assert set(oracle.AGGREGATE_METRICS) | set(oracle.DERIVED) <= set(declared)
    assert str(declared["visit_days_90d"]) == "int"
    assert str(declared["spend_365d"]) == "decimal"
    assert str(declared["first_e1_date_this_year"]) == "date"
    assert str(declared["last_staff_30d"]) == "string"
