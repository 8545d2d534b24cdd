"""The contact rules over one business date: each candidate emitted, deferred, merged
or expired, with a reason. Pure: the ledger is read before and written after.

Order on a day: candidates by priority (highest first), then action id; each passes
consent, then the store calendar (staff tasks), then the caps; the day's emitted
staff tasks are then merged per customer and assignee.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .calendar import StoreCalendar
from .history import History
from .model import ContactRules

Status = Literal["open", "deferred", "merged", "expired"]
EMITTED: Status = "open"
Action = dict[str, Any]
ConsentLookup = Callable[[str, str], bool]  # (customer_id, consent column) -> consent


@dataclass(frozen=True)
class Decision:
    """What the rules did with one candidate on `day`.

    `record` is the action as emitted (open, merged: dates moved by the deferral) or
    as generated (deferred, expired: the original, so a later day can move it again).
    """

    record: Action
    status: Status
    day: dt.date
    reason: str | None = None
    deferred_to: dt.date | None = None
    merged_into: str | None = None

    @property
    def action_id(self) -> str:
        return str(self.record["action_id"])


@dataclass(frozen=True)
class Rules:
    """The contact rules with what they read from the data."""

    contact: ContactRules
    consent: ConsentLookup
    calendar: StoreCalendar


def rank(action: Mapping[str, Any]) -> tuple[int, str]:
    return (-int(action["priority"]), str(action["action_id"]))


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def last_day(action: Mapping[str, Any], rules: ContactRules) -> dt.date:
    """The latest day an action may be deferred to: original not_before + max_days."""
    return _date(action["not_before"]) + dt.timedelta(days=rules.max_deferral_days)


def moved(action: Action, day: dt.date) -> Action:
    """The action as emitted on `day`: its window moved by the days it waited."""
    shift = day - _date(action["as_of"])
    if not shift:
        return dict(action)
    record = dict(action)
    for key in ("not_before", "due_by"):
        record[key] = (_date(action[key]) + shift).isoformat()
    return record


def decide_day(day: dt.date, candidates: Iterable[Action], history: History,
               rules: Rules) -> list[Decision]:
    """Every candidate's decision for `day`; emitted ones are added to `history`."""
    decisions: list[Decision] = []
    going: list[Action] = []
    for action in sorted(candidates, key=rank):
        held = _hold(day, action, history, rules)
        if held is None:
            history.add(action["customer_id"], action["type"], day)
            going.append(action)
        else:
            decisions.append(held)
    decisions.extend(_merge(day, going, history, rules.contact))
    return decisions


def _hold(day: dt.date, action: Action, history: History, rules: Rules) -> Decision | None:
    """Why the action may not go out on `day` (expired or deferred), or None."""
    channel, customer = action["type"], action["customer_id"]
    column = rules.contact.consent.get(channel)
    if column is not None and not rules.consent(customer, column):
        return Decision(action, "expired", day, f"no-consent:{channel}")
    last = last_day(action, rules.contact)
    staff = rules.contact.is_staff_task(action)
    store, region = str(action["store_id"]), str(action["region"])
    if staff and rules.calendar.closed(store, region, day):
        return _defer(action, day, rules.calendar.next_open(store, region, day, last),
                      "store-closed")
    caps = rules.contact.caps_for(channel)
    if caps and not history.allows(caps, customer, channel, day):
        later = day + dt.timedelta(days=1)
        while later <= last and not (
            history.allows(caps, customer, channel, later)
            and not (staff and rules.calendar.closed(store, region, later))
        ):
            later += dt.timedelta(days=1)
        return _defer(action, day, later if later <= last else None, f"cap:{channel}")
    return None


def _defer(action: Action, day: dt.date, to: dt.date | None, reason: str) -> Decision:
    if to is None:
        return Decision(action, "expired", day, reason)
    return Decision(action, "deferred", day, reason, deferred_to=to)


def _merge(day: dt.date, going: list[Action], history: History,
           rules: ContactRules) -> list[Decision]:
    """The day's emitted actions, staff tasks merged per customer, assignee and day.

    `going` is in rank order, so the survivor of a group is its highest priority.
    """
    groups: dict[tuple[str, str, str | None], list[Action]] = {}
    decisions: list[Decision] = []
    for action in going:
        if rules.staff_tasks.merge and rules.is_staff_task(action):
            who = action["assignee"]
            groups.setdefault((action["customer_id"], who["role"], who["id"]), []).append(action)
        else:
            decisions.append(Decision(moved(action, day), EMITTED, day))
    for survivor, *others in groups.values():
        decisions.append(Decision(_absorbing(survivor, others, day), EMITTED, day))
        for other in others:
            history.remove(other["customer_id"], other["type"], day)
            decisions.append(Decision(moved(other, day), "merged", day, "merged",
                                      merged_into=str(survivor["action_id"])))
    return decisions


def _absorbing(survivor: Action, others: list[Action], day: dt.date) -> Action:
    """The surviving task, listing every merged action in `reason.merged`; due by the
    earliest due date of them all."""
    record = moved(survivor, day)
    if not others:
        return record
    merged = [moved(o, day) for o in others]
    record["reason"] = {**record["reason"], "merged": [
        {key: o[key] for key in MERGED_FIELDS if key in o} for o in merged
    ]}
    earliest = min(_date(o["due_by"]) for o in merged)
    record["due_by"] = max(_date(record["not_before"]),
                           min(_date(record["due_by"]), earliest)).isoformat()
    return record


MERGED_FIELDS = ("action_id", "policy", "type", "due_by", "priority", "template", "params",
                 "reason")
