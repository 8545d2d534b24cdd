"""What happens after an action is emitted: escalation when overdue, routing of feedback.

`lifecycle_actions(state, start, end, config)` returns candidate actions for the
nightly run to offer to the ledger with the policies' own:

* **escalation**: a follow-up (call, message, visit) past its due_by with no outcome
  gets one task for the store manager (`action_id("escalation", id, "overdue")`);
* **routing**: an outcome whose topic is `region` gets a task for the regional office
  (role `regional_sales`), `company` one for HQ customer service (role `hq_service`)
  (`action_id("routing", id, topic)`).

Ids are deterministic and already-recorded ones are left out, so every run (and the
ledger after it) sees each task once. Settings live in loyaltyrules.toml under
`[contact_rules.escalation]` and `[contact_rules.routing]`; see docs/outcomes.md.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .ledger import action_id
from .outcomes.state import NoLedger, connect

__all__ = ["BUNDLE", "FOLLOW_UP_TYPES", "LifecycleSettings", "lifecycle_actions", "settings"]

BUNDLE = "lifecycle-1"  # these tasks come from code, not a policy set
FOLLOW_UP_TYPES = ("call", "sms", "email", "letter", "visit")
ROUTES = {"region": "regional_sales", "company": "hq_service"}
ROLES = ("store_staff", "store_manager", "regional_sales", "hq_service")
# Contact-rule statuses of actions not (or not yet) handed to anyone: never overdue.
_CLOSED = ("merged", "expired", "deferred")


@dataclass(frozen=True)
class LifecycleSettings:
    escalate: bool = True
    escalation_role: str = "store_manager"
    grace_days: int = 0  # days past due_by before escalating
    escalation_due_days: int = 1
    escalation_priority: int = 70
    route: bool = True
    routing_due_days: int = 7
    routing_priority: int = 50


def settings(config: Config | Mapping[str, Any] | None) -> LifecycleSettings:
    """The escalation and routing settings, defaults for whatever is absent.

    `config` is loyaltyrules.toml (its `[contact_rules]` table), or a contact-rules
    document as a mapping (its `escalation` and `routing` sections).
    """
    rules = _rules_section(config)
    esc, route = rules.get("escalation") or {}, rules.get("routing") or {}
    base = LifecycleSettings()
    found = LifecycleSettings(
        escalate=bool(esc.get("enabled", base.escalate)),
        escalation_role=str(esc.get("role", base.escalation_role)),
        grace_days=int(esc.get("grace_days", base.grace_days)),
        escalation_due_days=int(esc.get("due_days", base.escalation_due_days)),
        escalation_priority=int(esc.get("priority", base.escalation_priority)),
        route=bool(route.get("enabled", base.route)),
        routing_due_days=int(route.get("due_days", base.routing_due_days)),
        routing_priority=int(route.get("priority", base.routing_priority)),
    )
    if found.escalation_role not in ROLES:
        raise ValueError(f"escalation role must be one of {', '.join(ROLES)}")
    if min(found.grace_days, found.escalation_due_days, found.routing_due_days) < 0:
        raise ValueError("escalation and routing days cannot be negative")
    return found


def _rules_section(config: Config | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if isinstance(config, Config):
        return config.sections.get("contact_rules") or {}
    if not config:
        return {}
    if "escalation" in config or "routing" in config:
        return config
    return config.get("contact_rules") or {}


def lifecycle_actions(state_path: str | Path, start: dt.date, end: dt.date,
                      config: Config | Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Escalation and routing tasks for the dates start..end not yet in the ledger.

    A task's as_of is the first date in the range on which it is due to exist (the
    day after due_by plus grace, the outcome's completion date); later ones wait for
    the run that reaches their date. No ledger yet means no tasks.
    """
    rules = settings(config)
    try:
        conn = connect(state_path)
    except NoLedger:
        return []
    try:
        recorded = {r[0] for r in conn.execute(
            "SELECT action_id FROM actions WHERE policy IN ('escalation', 'routing')")}
        found = _escalations(conn, start, end, rules) if rules.escalate else []
        found += _routings(conn, start, end, rules) if rules.route else []
    finally:
        conn.close()
    return [a for a in found if a["action_id"] not in recorded]


def _escalations(conn: sqlite3.Connection, start: dt.date, end: dt.date,
                 rules: LifecycleSettings) -> list[dict[str, Any]]:
    types = ", ".join("?" * len(FOLLOW_UP_TYPES))
    closed = ", ".join("?" * len(_CLOSED))
    query = f"""SELECT a.action_id, a.policy, a.type, a.customer_id, a.store_id, a.region,
                       a.due_by, json_extract(a.record, '$.assignee.id')
                FROM actions a LEFT JOIN outcomes o USING (action_id)
                WHERE o.action_id IS NULL AND a.type IN ({types})
                  AND a.status NOT IN ({closed}) AND a.due_by <= ?
                ORDER BY a.due_by, a.action_id"""
    # Only follow-ups already overdue when the run starts: a run never escalates what
    # it emits itself, so re-running a range adds nothing (the next run escalates it).
    last_due = min(end - dt.timedelta(days=1 + rules.grace_days), start - dt.timedelta(days=1))
    rows = conn.execute(query, (*FOLLOW_UP_TYPES, *_CLOSED, last_due.isoformat()))
    result = []
    for aid, policy, kind, customer, store, region, due_by, assignee in rows:
        first = dt.date.fromisoformat(due_by) + dt.timedelta(days=1 + rules.grace_days)
        if first > end:
            continue
        as_of = max(first, start)
        values = {"action.id": aid, "action.policy": policy, "action.type": kind,
                  "action.due_by": due_by, "action.assignee": assignee or ""}
        result.append(_task(
            action_id("escalation", aid, "overdue"), "escalation", customer, store, region,
            rules.escalation_role, as_of, rules.escalation_due_days, rules.escalation_priority,
            {"original_action_id": aid, "original_policy": policy},
            {"trigger": "escalation", "values": values}))
    return result


def _routings(conn: sqlite3.Connection, start: dt.date, end: dt.date,
              rules: LifecycleSettings) -> list[dict[str, Any]]:
    query = """SELECT a.action_id, a.policy, a.customer_id, a.store_id, a.region,
                      o.topic, o.status, o.completed_date
               FROM outcomes o JOIN actions a USING (action_id)
               WHERE o.topic IN ('region', 'company') AND o.completed_date <= ?
               ORDER BY o.completed_date, a.action_id"""
    result = []
    for aid, policy, customer, store, region, topic, status, done_on in conn.execute(
            query, (end.isoformat(),)):
        as_of = max(dt.date.fromisoformat(done_on), start)
        values = {"action.id": aid, "action.policy": policy, "outcome.topic": topic,
                  "outcome.status": status, "outcome.completed_date": done_on}
        result.append(_task(
            action_id("routing", aid, topic), "routing", customer, store, region,
            ROUTES[topic], as_of, rules.routing_due_days, rules.routing_priority,
            {"original_action_id": aid, "topic": topic},
            {"trigger": "routing", "values": values}))
    return result


def _task(aid: str, policy: str, customer: str, store: str, region: str, role: str,
          as_of: dt.date, due_days: int, priority: int, params: dict[str, Any],
          reason: dict[str, Any]) -> dict[str, Any]:
    return {
        "action_id": aid, "policy": policy, "policy_version": 1, "bundle": BUNDLE,
        "type": "task", "customer_id": customer, "store_id": store, "region": region,
        "assignee": {"role": role, "id": None}, "not_before": as_of.isoformat(),
        "due_by": (as_of + dt.timedelta(days=due_days)).isoformat(),
        "as_of": as_of.isoformat(), "priority": priority, "template": None,
        "params": params, "reason": {**reason, "purchase_id": None},
    }
