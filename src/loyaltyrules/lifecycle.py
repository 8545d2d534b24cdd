"""What happens after an action is emitted: escalation when overdue, routing of feedback.

* **escalation**: a follow-up (a staff task of the contact rules: a call, visit, gift
  or task of the store's staff or manager) with no outcome gets one task for the
  store manager (`action_id("escalation", id, "overdue")`) on the day it falls
  overdue: the day after its due date, plus grace days. Messages (sms, email,
  letter) are sent by the host on their day; once that day has passed they are
  stale, and a manager cannot send them late without breaking their tone, so they
  are not escalated. Escalation and routing tasks themselves are not either;
* **routing**: an outcome whose topic is `region` gets a task for the regional office
  (role `regional_sales`), `company` one for HQ customer service (role `hq_service`)
  (`action_id("routing", id, topic)`).

A run escalates exactly the follow-ups falling overdue on one of its dates, those in
the ledger and those it emits itself (`Escalations`, consulted by the contact rules
day by day), so a range and its nights escalate the same ones. Ids are
deterministic and already-recorded ones are left out. Settings live in
loyaltyrules.toml under `[contact_rules.escalation]` and `[contact_rules.routing]`;
see docs/outcomes.md.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .contact import DEFAULT_RULES, ContactRules
from .contact.store import of_store
from .ledger import action_id, known_in
from .outcomes.state import OUTCOMES_DDL, NoLedger, connect
from .state import Connection, StateStore, dialect_of

__all__ = ["BUNDLE", "Escalations", "LifecycleSettings", "escalations", "lifecycle_actions",
           "overdue_at",
           "routing_actions", "routings", "settings"]

BUNDLE = "lifecycle-1"  # these tasks come from code, not a policy set
LIFECYCLE_POLICIES = ("escalation", "routing")
ROUTES = {"region": "regional_sales", "company": "hq_service"}
ROLES = ("store_staff", "store_manager", "regional_sales", "hq_service")
# Contact-rule statuses of actions not (or not yet) handed to anyone: never overdue.
_CLOSED = ("merged", "expired", "deferred")
Action = dict[str, Any]


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


def lifecycle_actions(state: StateStore | str | Path, start: dt.date, end: dt.date,
                      config: Config | Mapping[str, Any] | None = None,
                      contact: ContactRules = DEFAULT_RULES,
                      store: str | None = None) -> list[Action]:
    """Routing tasks for start..end, and the escalations of the ledger's follow-ups
    falling overdue on those dates, not yet in the ledger (of `store`'s actions alone,
    when given). No ledger yet means no tasks. (A run also escalates what it emits
    itself: see `escalations`.)"""
    try:
        conn = connect(state)
    except NoLedger:
        return []
    try:
        overdue = escalations(conn, start, end, config, contact, store)
        found = [] if overdue is None else [
            task for day in _dates(start, end) for task in overdue.due(day)]
        return found + routings(conn, start, end, config, store)
    finally:
        conn.close()


def routing_actions(state: StateStore | str | Path, start: dt.date, end: dt.date,
                    config: Config | Mapping[str, Any] | None = None,
                    store: str | None = None) -> list[Action]:
    """The routing tasks of start..end not yet in the ledger (none without a ledger);
    of `store`'s actions alone, when given."""
    try:
        conn = connect(state)
    except NoLedger:
        return []
    try:
        return routings(conn, start, end, config, store)
    finally:
        conn.close()


def _dates(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


class Escalations:
    """The escalations of a run, day by day (contact.FollowUps).

    Holds the follow-ups that can fall overdue on the run's dates, by that date;
    learns of those the run emits, and of due dates moved by a merge, as it goes.
    """

    def __init__(self, rules: LifecycleSettings, contact: ContactRules,
                 follow_ups: Iterable[Action] = (), recorded: Iterable[str] = ()) -> None:
        self.rules, self.contact = rules, contact
        self._recorded = set(recorded)  # escalation ids the ledger has
        self._by_day: dict[dt.date, dict[str, Action]] = {}
        self._day_of: dict[str, dt.date] = {}
        for record in follow_ups:
            self.track(record)

    def overdue_on(self, record: Mapping[str, Any]) -> dt.date:
        """The day a follow-up falls overdue: after its due date and the grace days; a
        window in hours (due_at) on the day its time passes (the run of that day has
        seen the day end)."""
        due_at = record.get("due_at")
        if due_at:
            return dt.date.fromisoformat(str(due_at)[:10]) + dt.timedelta(
                days=self.rules.grace_days)
        due = dt.date.fromisoformat(str(record["due_by"]))
        return due + dt.timedelta(days=1 + self.rules.grace_days)

    def is_follow_up(self, record: Mapping[str, Any]) -> bool:
        return (self.contact.is_staff_task(record)
                and record["policy"] not in LIFECYCLE_POLICIES)

    def track(self, record: Action) -> None:
        if not self.is_follow_up(record):
            return
        aid = str(record["action_id"])
        if aid in self._day_of:
            self._by_day[self._day_of[aid]].pop(aid, None)
        day = self._day_of[aid] = self.overdue_on(record)
        self._by_day.setdefault(day, {})[aid] = record

    def due(self, day: dt.date) -> list[Action]:
        """The escalation tasks of the follow-ups falling overdue on `day`, once each."""
        found = []
        for aid, record in sorted(self._by_day.pop(day, {}).items()):
            del self._day_of[aid]
            task = self._task(record, day)
            if task["action_id"] not in self._recorded:
                self._recorded.add(task["action_id"])
                found.append(task)
        return found

    def now(self, records: Iterable[Mapping[str, Any]], day: dt.date) -> list[Action]:
        """Escalations dated `day` of follow-ups already overdue, once each."""
        found = []
        for record in records:
            task = self._task(record, day)
            if task["action_id"] not in self._recorded:
                self._recorded.add(task["action_id"])
                found.append(task)
        return found

    def _task(self, record: Mapping[str, Any], day: dt.date) -> Action:
        aid, rules = str(record["action_id"]), self.rules
        values = {"action.id": aid, "action.policy": record["policy"],
                  "action.type": record["type"], "action.due_by": record["due_by"],
                  "action.assignee": record["assignee"]["id"] or ""}
        if record.get("due_at"):
            values["action.due_at"] = str(record["due_at"])
        return _task(
            action_id("escalation", aid, "overdue"), "escalation", record["customer_id"],
            record["store_id"], record["region"], rules.escalation_role, day,
            rules.escalation_due_days, rules.escalation_priority,
            {"original_action_id": aid, "original_policy": record["policy"]},
            {"trigger": "escalation", "values": values})


def escalations(conn: Connection, start: dt.date, end: dt.date,
                config: Config | Mapping[str, Any] | None,
                contact: ContactRules = DEFAULT_RULES,
                store: str | None = None) -> Escalations | None:
    """The escalations of a run over start..end (None when escalation is off), from the
    ledger's follow-ups without an outcome (of `store`, when given): those falling
    overdue on these dates, and the surviving tasks of these dates, whose due date a
    merge may still move."""
    rules = settings(config)
    if not rules.escalate:
        return None
    conn.execute(OUTCOMES_DDL)  # no import yet: no outcomes
    types = contact.staff_tasks.types
    grace = dt.timedelta(days=1 + rules.grace_days)
    mine, shop = of_store(store, "a.store_id")
    query = f"""SELECT a.record FROM actions a LEFT JOIN outcomes o USING (action_id)
                WHERE o.action_id IS NULL AND a.type IN ({', '.join('?' * len(types))})
                  AND a.status NOT IN ({', '.join('?' * len(_CLOSED))})
                  AND a.policy NOT IN ('escalation', 'routing')
                  AND (a.due_by BETWEEN ? AND ? OR a.contact_day BETWEEN ? AND ?){mine}"""
    # (a due_at, in hours, falls overdue a day earlier than its due_by would)
    rows = conn.execute(query, (*types, *_CLOSED, (start - grace).isoformat(),
                                (end - grace + dt.timedelta(days=1)).isoformat(),
                                start.isoformat(), end.isoformat(), *shop))
    follow_ups = [json.loads(r[0]) for r in rows]
    ids = [action_id("escalation", str(f["action_id"]), "overdue") for f in follow_ups]
    return Escalations(rules, contact, follow_ups, known_in(conn, ids))


def overdue_at(conn: Connection, moment: dt.datetime,
               config: Config | Mapping[str, Any] | None = None,
               contact: ContactRules = DEFAULT_RULES) -> list[Action]:
    """Escalations of follow-ups whose due_at (a window in hours) has passed at
    `moment`, a store-local time, dated that day: for the point of sale, where each
    complaint or host event checks the deadlines. Times compare as store-local
    wall-clock times."""
    rules = settings(config)
    if not rules.escalate:
        return []
    conn.execute(OUTCOMES_DDL)
    types = contact.staff_tasks.types
    cutoff = moment - dt.timedelta(days=rules.grace_days)
    due_at = dialect_of(conn).json_text("a.record", "due_at")
    query = f"""SELECT a.record FROM actions a LEFT JOIN outcomes o USING (action_id)
                WHERE o.action_id IS NULL AND a.type IN ({', '.join('?' * len(types))})
                  AND a.status NOT IN ({', '.join('?' * len(_CLOSED))})
                  AND a.policy NOT IN ('escalation', 'routing')
                  AND {due_at} IS NOT NULL AND substr({due_at}, 1, 19) < ?"""
    rows = conn.execute(query, (*types, *_CLOSED, cutoff.isoformat(timespec="seconds")))
    overdue = [json.loads(r[0]) for r in rows]
    ids = [action_id("escalation", str(f["action_id"]), "overdue") for f in overdue]
    return Escalations(rules, contact, (), known_in(conn, ids)).now(overdue, moment.date())


def routings(conn: Connection, start: dt.date, end: dt.date,
             config: Config | Mapping[str, Any] | None,
             store: str | None = None) -> list[Action]:
    """Routing tasks of the outcomes completed up to `end`, not yet in the ledger (of
    `store`'s actions, when given); one completed before `start` gets as_of `start`
    (a late import still produces it)."""
    rules = settings(config)
    if not rules.route:
        return []
    conn.execute(OUTCOMES_DDL)
    mine, only = of_store(store, "a.store_id")
    query = f"""SELECT a.action_id, a.policy, a.customer_id, a.store_id, a.region,
                      o.topic, o.status, o.completed_date
               FROM outcomes o JOIN actions a USING (action_id)
               WHERE o.topic IN ('region', 'company') AND o.completed_date <= ?{mine}
               ORDER BY o.completed_date, a.action_id"""
    result = []
    for aid, policy, customer, shop, region, topic, status, done_on in conn.execute(
            query, (end.isoformat(), *only)).fetchall():
        as_of = max(dt.date.fromisoformat(done_on), start)
        values = {"action.id": aid, "action.policy": policy, "outcome.topic": topic,
                  "outcome.status": status, "outcome.completed_date": done_on}
        result.append(_task(
            action_id("routing", aid, topic), "routing", customer, shop, region,
            ROUTES[topic], as_of, rules.routing_due_days, rules.routing_priority,
            {"original_action_id": aid, "topic": topic},
            {"trigger": "routing", "values": values}))
    recorded = known_in(conn, [str(task["action_id"]) for task in result])
    return [task for task in result if task["action_id"] not in recorded]


def _task(aid: str, policy: str, customer: str, store: str, region: str, role: str,
          as_of: dt.date, due_days: int, priority: int, params: dict[str, Any],
          reason: dict[str, Any]) -> Action:
    return {
        "action_id": aid, "policy": policy, "policy_version": 1, "bundle": BUNDLE,
        "type": "task", "customer_id": customer, "store_id": store, "region": region,
        "assignee": {"role": role, "id": None}, "not_before": as_of.isoformat(),
        "due_by": (as_of + dt.timedelta(days=due_days)).isoformat(),
        "valid_until": None,  # it reports what happened: late is better than never
        "as_of": as_of.isoformat(), "priority": priority, "template": None,
        "params": params, "reason": {**reason, "purchase_id": None},
    }
