"""An independent model of the contact rules, written from docs/contact-rules.md.

Plain Python over plain lists, sharing no code with loyaltyrules.contact: the property
tests compare the two on generated candidates. It knows consent, validity (stale),
merging into the day's surviving staff task, store closings, caps over every window
containing a day, deferral within the limit, and the order of a day's decisions
(receipts in event order, then the close of the day; priority within a moment).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

DAY = dt.timedelta(days=1)
Action = dict[str, Any]


@dataclass
class Outcome:
    status: str  # open, deferred, merged, expired
    day: dt.date
    reason: str | None = None
    deferred_to: dt.date | None = None
    merged_into: str | None = None


@dataclass
class Model:
    consent: Callable[[str, str], bool]  # (customer, channel) -> may we?
    closed: Callable[[str, dt.date], bool]  # (store, day) -> closed?
    caps: Mapping[str, tuple[int, int]]  # channel -> (max, window days)
    max_days: int
    staff_types: tuple[str, ...]
    staff_roles: tuple[str, ...]
    moments: Mapping[str, dt.datetime]  # purchase id -> purchased_at
    sent: list[tuple[str, str, dt.date]] = field(default_factory=list)  # emitted contacts
    survivors: dict[tuple[str, str, str | None, dt.date], str] = field(default_factory=dict)

    def staff(self, a: Action) -> bool:
        return a["type"] in self.staff_types and a["assignee"]["role"] in self.staff_roles

    def fits(self, customer: str, channel: str, day: dt.date) -> bool:
        """One more on `day` keeps every window containing `day` within the cap."""
        if channel not in self.caps:
            return True
        most, width = self.caps[channel]
        days = [d for c, t, d in self.sent if (c, t) == (customer, channel)]
        for first in (day - DAY * k for k in range(width)):
            if sum(first <= d < first + DAY * width for d in days) + 1 > most:
                return False
        return True

    def order(self, a: Action, day: dt.date) -> tuple[Any, ...]:
        pid = a["reason"].get("purchase_id")
        at = self.moments.get(pid) if pid and a["as_of"] == day.isoformat() else None
        moment = (0, at, pid) if at else (1, dt.datetime.max, "")
        return (*moment, -a["priority"], a["action_id"])

    def decide(self, a: Action, day: dt.date, delivery: dt.date) -> Outcome:
        customer, channel = a["customer_id"], a["type"]
        valid = a.get("valid_until")
        if not self.consent(customer, channel):
            return Outcome("expired", day, f"no-consent:{channel}")
        if valid is not None and dt.date.fromisoformat(valid) < delivery:
            return Outcome("expired", day, "stale")
        key = (customer, a["assignee"]["role"], a["assignee"]["id"], day)
        if self.staff(a) and key in self.survivors:
            return Outcome("merged", day, "merged", merged_into=self.survivors[key])
        last = dt.date.fromisoformat(a["not_before"]) + DAY * self.max_days
        if valid is not None:
            last = min(last, dt.date.fromisoformat(valid))
        store = a["store_id"]

        def open_on(d: dt.date) -> bool:
            return not (self.staff(a) and self.closed(store, d))

        if not open_on(day):
            later = next((d for d in _days(day + DAY, last) if open_on(d)), None)
            return _wait(day, later, "store-closed")
        if not self.fits(customer, channel, day):
            later = next((d for d in _days(day + DAY, last)
                          if self.fits(customer, channel, d) and open_on(d)), None)
            return _wait(day, later, f"cap:{channel}")
        self.sent.append((customer, channel, day))
        if self.staff(a):
            self.survivors[key] = a["action_id"]
        return Outcome("open", day)


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + DAY * n for n in range((last - first).days + 1)]


def _wait(day: dt.date, later: dt.date | None, reason: str) -> Outcome:
    if later is None:
        return Outcome("expired", day, reason)
    return Outcome("deferred", day, reason, deferred_to=later)


def run(model: Model, actions: list[Action], start: dt.date, end: dt.date,
        delivered_on: dt.date | None = None) -> dict[str, Outcome]:
    """Every action's final outcome over start..end."""
    final: dict[str, Outcome] = {}
    waiting: dict[str, tuple[Action, dt.date]] = {}
    for day in _days(start, end):
        due = [a for a, d in waiting.values() if d <= day]
        fresh = [a for a in actions if a["as_of"] == day.isoformat()]
        for a in sorted(due + fresh, key=lambda a: model.order(a, day)):
            waiting.pop(a["action_id"], None)
            outcome = final[a["action_id"]] = model.decide(a, day, delivered_on or day)
            if outcome.status == "deferred":
                assert outcome.deferred_to is not None
                waiting[a["action_id"]] = (a, outcome.deferred_to)
    return final
