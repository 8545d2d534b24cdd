"""Declared metrics, percentiles and ABC classes in the conditions of complaint, event
and calendar-triggered policies: the nightly run and the point of sale agree on rolling,
period and all-time metrics at a complaint's or event's moment (receipts later that day
not yet counted), and the population functions fire in the nightly run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from loyaltyrules.api import Engine
from loyaltyrules.engine.batch import evaluate
from loyaltyrules.plan import Plan, compile_paths
from loyaltyrules.sources import open_source

from _paths import PACK
from test_occasions import SLOW, _by_id, _write, both_paths, worlds

EXTRA_METRICS = """
  spend_30d:
    description: Net spend of the last 30 days.
    aggregate: sum
    of: purchase.amount
    window: 30d
  visits_90d:
    description: Days with a receipt in the last 90 days.
    aggregate: count_days
    window: 90d
  receipts_this_month:
    description: Receipts this calendar month.
    aggregate: count
    window: this_month
"""

POLICIES = {
    "complaint.yaml": """
id: complaint
title: Complaint from a recent buyer
version: 1
trigger: {kind: complaint}
conditions: ['customer.spend_30d > 0 || customer.receipts_this_month >= 2']
actions:
  - type: call
    assignee: {role: store_manager}
    window: {due_by: 24h}
""",
    "email.yaml": """
id: email
title: E-mail from a regular
version: 1
trigger: {kind: event, event: [email, inquiry]}
conditions: ['customer.visits_90d >= 2 || customer.lifetime_spend >= 4000']
actions:
  - type: email
    assignee: {role: store_manager}
    window: {due_by: 72h}
""",
    "holiday.yaml": """
id: holiday
title: Holiday greeting for this month's buyers
version: 1
trigger: {kind: schedule, every: calendar, calendar: {kind: holiday}}
conditions: ['customer.receipts_this_month >= 1 || customer.spend_30d >= 2000']
actions:
  - type: sms
    assignee: {role: store_manager}
    window: {due_by: 0d}
""",
}

SEGMENT_POLICIES = {
    "a-class-complaint.yaml": """
id: a-class-complaint
title: A-class complaint
version: 1
trigger: {kind: complaint}
conditions: ['abc_class(customer.lifetime_spend, "franchise") == "A"']
actions:
  - type: call
    assignee: {role: store_manager}
    window: {due_by: 4h}
""",
    "top-holiday.yaml": """
id: top-holiday
title: Holiday call to the top half of the region
version: 1
trigger: {kind: schedule, every: calendar, calendar: {kind: holiday}}
conditions: ['percentile_in(customer.lifetime_spend, "region") >= 50']
actions:
  - type: call
    assignee: {role: store_manager}
    window: {due_by: 0d}
""",
}


def _folder(root: Path, policies: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    pack = (PACK / "metrics.yaml").read_text()
    (root / "metrics.yaml").write_text(pack.rstrip("\n") + "\n" + EXTRA_METRICS.lstrip("\n"))
    for name, text in policies.items():
        (root / name).write_text(text.lstrip())
    return root


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return compile_paths([_folder(tmp_path_factory.mktemp("p") / "policies", POLICIES)])


@settings(max_examples=30, deadline=None, suppress_health_check=SLOW)
@given(worlds())
def test_metrics_in_occasion_conditions_agree_on_both_paths(
        plan: Plan, tmp_path_factory: pytest.TempPathFactory,
        drawn: tuple[dict[str, list[dict[str, Any]]], dt.date]) -> None:
    expected, got = both_paths(plan, tmp_path_factory.mktemp("w"), *drawn)
    assert _by_id(got) == _by_id(expected)


def test_a_complaint_sees_the_receipts_before_it_not_those_after(
        plan: Plan, tmp_path: Path) -> None:
    world: dict[str, list[dict[str, Any]]] = {
        "customers": [{"customer_id": "C1", "region": "north"},
                      {"customer_id": "C2", "region": "north"}],
        "purchases": [
            {"purchase_id": "P1", "customer_id": "C1", "store_id": "S1",
             "purchased_at": "2025-03-29T09:00:00", "amount": "50"},
            {"purchase_id": "P2", "customer_id": "C2", "store_id": "S1",
             "purchased_at": "2025-03-29T15:00:00", "amount": "50"}],
        "complaints": [
            {"complaint_id": f"K{c}", "customer_id": f"C{c}", "store_id": "S1",
             "received_at": "2025-03-29T12:00:00", "channel": "phone", "topic": "fit",
             "severity": "high"} for c in (1, 2)],
        "events": [], "calendar": [],
        "stores": [{"store_id": "S1", "region": "north", "timezone": None}],
    }
    _write(tmp_path / "data", world)
    con = open_source(tmp_path / "data", as_of_limit=dt.date(2025, 12, 31)).connection
    day = dt.date(2025, 3, 29)
    fired = evaluate(con, plan, day, day, "Asia/Seoul").actions
    # C1 bought at 09:00, before the complaint; C2 only at 15:00, after it
    assert [a["customer_id"] for a in fired if a["policy"] == "complaint"] == ["C1"]


def test_percentiles_and_classes_in_complaint_and_calendar_policies(tmp_path: Path) -> None:
    plan = compile_paths([_folder(tmp_path / "policies", SEGMENT_POLICIES)])
    spends = {"C1": "9000", "C2": "500", "C3": "300", "C4": "200"}
    world: dict[str, list[dict[str, Any]]] = {
        "customers": [{"customer_id": c, "region": "north"} for c in spends],
        "purchases": [{"purchase_id": f"P{c}", "customer_id": c, "store_id": "S1",
                       "purchased_at": "2025-03-01T10:00:00", "amount": amount}
                      for c, amount in spends.items()],
        "complaints": [{"complaint_id": f"K{c}", "customer_id": c, "store_id": "S1",
                        "received_at": "2025-03-29T10:00:00", "channel": "phone",
                        "topic": None, "severity": "high"} for c in ("C1", "C2")],
        "events": [],
        "calendar": [{"date": "2025-03-29", "name": "Spring", "kind": "holiday",
                      "region": None}],
        "stores": [{"store_id": "S1", "region": "north", "timezone": None}],
    }
    _write(tmp_path / "data", world)
    con = open_source(tmp_path / "data", as_of_limit=dt.date(2025, 12, 31)).connection
    day = dt.date(2025, 3, 29)
    fired = evaluate(con, plan, day, day, "Asia/Seoul").actions
    by_policy = {p: sorted(a["customer_id"] for a in fired if a["policy"] == p)
                 for p in ("a-class-complaint", "top-holiday")}
    # C1 alone makes more than 80% of the spend; C1 and C2 are at or above the median
    assert by_policy == {"a-class-complaint": ["C1"], "top-holiday": ["C1", "C2"]}
    engine = Engine.load(tmp_path / "policies", state=tmp_path / "state.db")
    try:  # the point of sale leaves the population functions to the nightly run
        assert set(engine.stateless.evaluator.nightly_only) == {"a-class-complaint",
                                                                 "top-holiday"}
    finally:
        engine.close()
