"""percentile_in and abc_class: the nightly run's SQL against the design's definitions
(tests/metrics_oracle.py), over the values of both evaluators; and what the point of
sale and explain do with policies that read them.

Generated histories give ties (a few amounts), zero and negative values (returns,
month-on-month growth), missing values (no receipt in 90 days) and customers without
a home store, over regions, stores and the whole franchise.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from loyaltyrules import Engine
from loyaltyrules.cli import cli
from loyaltyrules.engine.batch import evaluate, prepare
from loyaltyrules.engine.explain import explain
from loyaltyrules.engine.segments import population
from loyaltyrules.event.evaluator import EventEvaluator
from loyaltyrules.event.view import CustomerRecord, CustomerView, Receipt
from loyaltyrules.plan import Plan, compile_paths
from loyaltyrules.sources import open_source
from test_metrics_differential import DAYS, receipts

import metrics_oracle as oracle
from _paths import PACK
from _tables import load_tables

SLOW = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
IDS = ["C1", "C2", "C3"]
# (region, home store) per customer: C3 has no home store
HOMES = {"C1": ("north", "S1"), "C2": ("north", "S2"), "C3": ("south", None)}
METRICS = ["spend_365d", "purchase_count", "month_growth", "biggest_90d", "visit_days_90d"]
PARTITIONS = ["region", "store", "franchise"]
KEYS = [f"{f}:{p}:customer.{m}" for f in ("percentile_in", "abc_class")
        for p in PARTITIONS for m in METRICS]


def _partition(cid: str, partition: str) -> str | None:
    region, store = HOMES[cid]
    return {"region": region, "store": store, "franchise": "all"}[partition]


def _expected(values: dict[str, dict[str, Any]], key: str, cid: str) -> Any:
    function, partition, path = key.split(":")
    metric = path.removeprefix("customer.")
    mine = _partition(cid, partition)
    if mine is None:
        return None
    group = [v[metric] for c, v in values.items() if _partition(c, partition) == mine]
    compute = oracle.percentile if function == "percentile_in" else oracle.abc_class
    return compute(group, values[cid][metric])


def _population_rows(con: Any, plan: Plan, dates: sqlglot.exp.Query, direct: bool
                     ) -> dict[tuple[str, dt.date], dict[str, Any]]:
    cursor = con.execute(population(plan, KEYS, dates, direct=direct).sql("duckdb"))
    names = [d[0] for d in cursor.description]
    return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def _fold_values(plan: Plan, found: list[oracle.Receipt], day: dt.date) -> dict[str, Any]:
    evaluator = EventEvaluator(plan)
    views = {c: CustomerView(c, CustomerRecord(c)) for c in IDS}
    for r in sorted(found, key=lambda r: (r.at, r.purchase_id)):
        if r.day <= day:
            receipt = Receipt(r.purchase_id, r.customer_id, r.store_id, r.at, r.amount,
                              r.staff_id)
            views[r.customer_id] = evaluator.advance(views[r.customer_id], receipt)
    return {c: evaluator.metric_values(v, day) for c, v in views.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=SLOW)
@given(found=receipts())
def test_segments_follow_the_design(edge_plan: Plan, clean_tables: list[str],
                                    found: list[oracle.Receipt]) -> None:
    customers = [(c, None, region, store, None, None, None, True, True, True, True,
                  False, False, False) for c, (region, store) in HOMES.items()]
    rows = [(r.purchase_id, r.customer_id, r.store_id, r.staff_id, r.at, r.day, r.amount,
             None, None, r.amount < 0) for r in found]
    con = load_tables(clean_tables, customers, rows, {"S1": "north", "S2": "north"})
    prepare(con, edge_plan, DAYS[0], DAYS[-1], whole=True)
    dates = sqlglot.parse_one(" UNION ALL ".join(f"SELECT DATE '{d}' AS as_of" for d in DAYS))
    # straight from the receipts (a night) and from the history tables (a long range)
    got, from_history = (_population_rows(con, edge_plan, dates, direct)  # type: ignore[arg-type]
                         for direct in (True, False))
    assert got == from_history
    for day in DAYS:
        by_design = {c: oracle.values([r for r in found if r.customer_id == c
                                       and r.day <= day], day) for c in IDS}
        folded = _fold_values(edge_plan, found, day)
        for cid in IDS:
            for key in KEYS:
                want = _expected(by_design, key, cid)
                assert got[(cid, day)][key] == want, f"{cid} {day} {key}"
                assert _expected(folded, key, cid) == want, f"point of sale {cid} {day} {key}"


def test_the_definitions_on_a_worked_example() -> None:
    """The worked example of docs/conditions.md."""
    spend = [Decimal(v) for v in ("5000", "3000", "1000", "500", "500", "0", "-200")]
    assert [oracle.abc_class(spend, m) for m in spend] == ["A", "A", "B", "B", "B", "C", "C"]
    assert [oracle.percentile(spend, m) for m in spend] == [
        Decimal("85.714"), Decimal("71.428"), Decimal("57.142"), Decimal("28.571"),
        Decimal("28.571"), Decimal("14.285"), Decimal("0")]
    assert oracle.percentile([*spend, None], None) is None


# -- policies that read them ---------------------------------------------------------------
A_CLASS = """id: a-class-thanks
title: A thank-you card for an A-class customer's purchase
version: 1
trigger: {kind: purchase}
conditions:
  - abc_class(customer.spend_365d, "store") == "A"
  - percentile_in(customer.spend_365d, "franchise") >= params.top
params:
  top: {type: decimal, default: 50, description: Lowest percentile in the franchise.}
actions:
  - type: letter
    assignee: {role: store_staff, source: purchase.staff_id, fallback: store_manager}
    window: {due_by: 7d}
    template: cumulative-thanks-letter
"""


@pytest.fixture()
def a_class_set(tmp_path: Path) -> Path:
    policies = tmp_path / "policies"
    shutil.copytree(PACK, policies)
    (policies / "a-class-thanks.yaml").write_text(A_CLASS)  # spend_365d: the pack's
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text(
        "customer_id,region,home_store\nC1,north,S1\nC2,north,S1\nC3,north,S1\nC4,north,S1\n")
    (data / "purchases.csv").write_text(
        "purchase_id,customer_id,store_id,staff_id,purchased_at,amount\n"
        "P1,C1,S1,E1,2025-03-01T10:00:00,5000\nP2,C2,S1,E1,2025-03-01T11:00:00,3000\n"
        "P3,C3,S1,E1,2025-03-01T12:00:00,1500\nP4,C4,S1,E1,2025-03-01T13:00:00,500\n")
    return tmp_path


def test_the_nightly_run_fires_the_point_of_sale_leaves_it(a_class_set: Path) -> None:
    """A-class (store: 10,000 of 5,000 + 3,000 + 1,500 + 500 -> C1 and C2, G < 8,000)
    and at least the 50th percentile of the franchise: C1 and C2, on the day of their
    purchase. At the point of sale the policy is left to the nightly run."""
    plan = compile_paths([a_class_set / "policies"])
    source = open_source(a_class_set / "data", as_of_limit=dt.date(2025, 3, 1))
    day = dt.date(2025, 3, 1)
    fired = [a for a in evaluate(source.connection, plan, day, day).actions
             if a["policy"] == "a-class-thanks"]
    assert sorted(a["customer_id"] for a in fired) == ["C1", "C2"]
    reasons = {a["customer_id"]: a["reason"]["values"] for a in fired}
    assert reasons["C2"]["percentile_in:franchise:customer.spend_365d"] == "50.00"
    engine = Engine.load(a_class_set / "policies", state=a_class_set / "state.db")
    try:
        assert engine.stateless.evaluator.nightly_only == (
            "a-class-monthly-call", "a-class-preseason-call", "a-class-thanks",
            "a-class-thanks-card", "top-spender-flowers", "vip-gathering")
        engine.on_customer({"customer_id": "C1", "region": "north", "home_store": "S1"})
        at_checkout = engine.on_purchase({"purchase_id": "P1", "customer_id": "C1",
                                          "store_id": "S1", "staff_id": "E1",
                                          "purchased_at": "2025-03-01T10:00:00",
                                          "amount": "5000"})
        assert "a-class-thanks" not in {a["policy"] for a in at_checkout}
        assert {a["policy"] for a in at_checkout} == {"big-purchase-call", "vip-tiers"}
    finally:
        engine.close()


def test_explain_shows_the_cut_offs(a_class_set: Path) -> None:
    plan = compile_paths([a_class_set / "policies"])
    source = open_source(a_class_set / "data", as_of_limit=dt.date(2025, 3, 1))
    traces = explain(source.connection, plan, "C3", dt.date(2025, 3, 1), "a-class-thanks")
    shown = [c.shown for c in traces[0].candidates[0].conditions]
    assert shown == ['B [store: A from 3000.00, B from 1500.00] == "A"',
                     "25.00 [1 of 4 in the franchise below] >= 50.00"]
    assert [c.result for c in traces[0].candidates[0].conditions] == ["false", "false"]


def test_the_explain_command_shows_metrics_and_cut_offs(a_class_set: Path) -> None:
    result = CliRunner().invoke(cli, [
        "explain", "--data", str(a_class_set / "data"), "--policies",
        str(a_class_set / "policies"), "--customer", "C3", "--as-of", "2025-03-01",
        "--policy", "a-class-thanks"])
    assert result.exit_code == 0, result.output
    assert "metrics at the end of 2025-03-01:" in result.output
    assert "  customer.spend_365d = 1500.00" in result.output
    assert '  customer.lifetime_spend = 1500.00' in result.output
    assert 'abc_class(customer.spend_365d, "store") == "A": B [store: A from 3000.00, ' \
        'B from 1500.00] == "A" -> false' in result.output
