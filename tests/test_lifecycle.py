"""Escalation of overdue actions and routing of revisit feedback, called directly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from loyaltyrules.ledger import Ledger, RunRecord, action_id
from loyaltyrules.lifecycle import lifecycle_actions
from loyaltyrules.outcomes import import_outcomes
from test_outcomes import action, make_ledger, write_csv

D = dt.date


def test_escalation_and_routing(tmp_path: Path) -> None:
    overdue, answered, not_yet = action("a", due_by="2025-03-10"), action("b"), \
        action("c", due_by="2025-03-20")
    tier = action("d", kind="tier_change", due_by="2025-03-01")
    db = make_ledger(tmp_path / "s.sqlite", [overdue, answered, not_yet, tier])
    import_outcomes(db, write_csv(tmp_path / "o.csv", [
        f"{answered['action_id']},done,2025-03-12T10:00:00,E1,,region",
        f"{not_yet['action_id']},declined,2025-03-13T10:00:00,E1,,company"]), today=D(2025, 6, 1))

    found = lifecycle_actions(db, D(2025, 3, 11), D(2025, 3, 12), {})
    assert [(a["policy"], a["params"]["original_action_id"], a["as_of"], a["due_by"],
             a["assignee"]["role"]) for a in found] == [
        ("escalation", overdue["action_id"], "2025-03-11", "2025-03-12", "store_manager"),
        ("routing", answered["action_id"], "2025-03-12", "2025-03-19", "regional_sales")]
    assert found[0]["action_id"] == action_id("escalation", overdue["action_id"], "overdue")
    assert found[1]["action_id"] == action_id("routing", answered["action_id"], "region")
    assert found[0]["reason"]["trigger"] == "escalation" and found[0]["type"] == "task"

    # A later range: the company feedback is routed to HQ; recorded tasks are not repeated.
    with Ledger.open(db) as ledger:
        ledger.record_run(found, RunRecord(run_id="r2", started_at="x", bundle="t",
                                           as_of="2025-03-12"))
    later = lifecycle_actions(db, D(2025, 3, 13), D(2025, 3, 31), {})
    assert [(a["policy"], a["assignee"]["role"], a["as_of"]) for a in later] == [
        ("routing", "hq_service", "2025-03-13")]


def test_settings_from_contact_rules(tmp_path: Path) -> None:
    db = make_ledger(tmp_path / "s.sqlite", [action("a", due_by="2025-03-10")])
    rules = {"escalation": {"role": "regional_sales", "grace_days": 2, "due_days": 3}}
    assert lifecycle_actions(db, D(2025, 3, 11), D(2025, 3, 12), rules) == []
    [task] = lifecycle_actions(db, D(2025, 3, 11), D(2025, 3, 13), rules)
    assert (task["as_of"], task["due_by"], task["assignee"]) == (
        "2025-03-13", "2025-03-16", {"role": "regional_sales", "id": None})
    off = {"contact_rules": {"escalation": {"enabled": False}}}
    assert lifecycle_actions(db, D(2025, 3, 1), D(2025, 12, 31), off) == []
    assert lifecycle_actions(tmp_path / "none.sqlite", D(2025, 3, 1), D(2025, 3, 2)) == []
