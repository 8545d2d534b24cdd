"""The contact rules over a range of business dates, one date after the other.

Candidates of a date D: the actions generated for D (as_of == D) that the ledger
does not know yet, the escalations of follow-ups falling overdue on D, and the
actions deferred earlier and due on or before D. A range therefore gives the same
decisions as its nights run one by one, for every action still worth doing on the
day the range is delivered (docs/contact-rules.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb

from .calendar import build_calendar, table_closures
from .decide import (
    EMITTED,
    Action,
    ConsentLookup,
    Decision,
    Known,
    Rules,
    Survivors,
    decide_day,
)
from .history import History
from .model import ContactRules

STATUSES = ("emitted", "deferred", "merged", "expired")
LABELS = {"open": "emitted", "deferred": "deferred", "merged": "merged", "expired": "expired"}


@dataclass
class ContactResult:
    """The final decision of every candidate of a run (one per action id)."""

    decisions: dict[str, Decision] = field(default_factory=dict)
    # surviving tasks recorded before the run that actions joined: id -> new record
    updated: dict[str, Action] = field(default_factory=dict)

    @property
    def emitted(self) -> list[Action]:
        out = [d for d in self.decisions.values() if d.status == EMITTED]
        out.sort(key=lambda d: (d.day, d.record["as_of"], d.record["policy"],
                                d.record["customer_id"], d.action_id))
        return [d.record for d in out]

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(LABELS[d.status] for d in self.decisions.values())
        return {status: found[status] for status in STATUSES}

    @property
    def reasons(self) -> dict[str, int]:
        """Deferral and expiry reasons with their counts (`cap:sms`, `no-consent:call`, ...)."""
        found = Counter(f"{LABELS[d.status]} {d.reason}" for d in self.decisions.values()
                        if d.status in ("deferred", "expired"))
        return dict(sorted(found.items()))


def decision_json(decision: Decision) -> dict[str, Any]:
    """What the rules did with an action, as a host reads it: its status (emitted,
    deferred, merged, expired), the reason (deferred, expired), the new date
    (deferred), the task it joined (merged) and the action record."""
    held = decision.status in ("deferred", "expired")
    return {
        "status": LABELS[decision.status],
        "reason": decision.reason if held else None,
        "deferred_to": decision.deferred_to.isoformat() if decision.deferred_to else None,
        "merged_into": decision.merged_into,
        "action": decision.record,
    }


def _days(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    for offset in range((end - start).days + 1):
        yield start + dt.timedelta(days=offset)


class FollowUps(Protocol):
    """Escalations as the days go by (lifecycle.Escalations): `due(day)` gives the
    escalations of the follow-ups falling overdue that day, `track(record)` learns of
    a follow-up emitted, or whose due date changed, on the way."""

    def due(self, day: dt.date) -> list[Action]: ...

    def track(self, record: Action) -> None: ...


def apply_range(start: dt.date, end: dt.date, new: Iterable[Action],
                waiting: Iterable[tuple[Action, dt.date]], history: History,
                rules: Rules, *, survivors: Survivors | None = None,
                delivered_on: dt.date | None = None,
                follow_ups: FollowUps | None = None) -> ContactResult:
    """Decide every date from start to end in order.

    `new`: generated actions not yet in the ledger; `waiting`: deferred actions with
    the date they are due. `history` and `survivors` hold earlier emissions and gain
    this run's. `delivered_on`: the day the outputs reach the host (a run: its last
    date), against which validity is judged; None delivers each date on itself.
    """
    by_day: dict[dt.date, list[Action]] = {}
    for action in new:
        by_day.setdefault(_as_date(action["as_of"]), []).append(action)
    pending = {str(a["action_id"]): (a, due) for a, due in waiting}
    known = Known(history, survivors or Survivors())
    result = ContactResult()
    for day in _days(start, end):
        due_now = [a for a, due in pending.values() if due <= day]
        for action in due_now:
            del pending[str(action["action_id"])]
        seen = {str(a["action_id"]) for a in due_now}
        fresh = by_day.get(day, []) + (follow_ups.due(day) if follow_ups else [])
        fresh = [a for a in fresh if str(a["action_id"]) not in seen]
        today = decide_day(day, [*due_now, *_unique(fresh)], known, rules,
                           max(day, delivered_on or day))
        for decision in today:
            result.decisions.pop(decision.action_id, None)  # keep them in decision order
            result.decisions[decision.action_id] = decision
            if decision.deferred_to is not None:
                pending[decision.action_id] = (decision.record, decision.deferred_to)
        if follow_ups is not None:
            for record in [d.record for d in today if d.status == EMITTED] + list(
                    known.survivors.updated.values()):
                follow_ups.track(record)
    result.updated = known.survivors.updated
    return result


def _unique(actions: list[Action]) -> list[Action]:
    return list({str(a["action_id"]): a for a in reversed(actions)}.values())[::-1]


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


CONSENT_COLUMNS = ("consent_sms", "consent_call", "consent_mail", "consent_visit")


def consent_flags(con: duckdb.DuckDBPyConnection, customers: Iterable[str]
                  ) -> dict[str, dict[str, bool]]:
    """customer -> consent column -> value, for the customers named (unknown: absent)."""
    wanted = sorted(set(customers))
    if not wanted:
        return {}
    rows = con.execute(
        f"SELECT customer_id, {', '.join(CONSENT_COLUMNS)} FROM customers "
        "WHERE customer_id IN (SELECT unnest(CAST(? AS VARCHAR[])))", [wanted]
    ).fetchall()
    return {str(r[0]): {c: bool(v) for c, v in zip(CONSENT_COLUMNS, r[1:], strict=True)}
            for r in rows}


def consent_lookup(con: duckdb.DuckDBPyConnection, customers: Iterable[str]) -> ConsentLookup:
    """Consent from the customers table: read at once for `customers`, on demand for any
    other (an escalation's customer); an unknown customer consents to nothing."""
    flags: dict[str, Mapping[str, bool]] = dict(consent_flags(con, customers))

    def lookup(customer: str, column: str) -> bool:
        if customer not in flags:
            flags[customer] = consent_flags(con, [customer]).get(customer, {})
        return flags[customer].get(column, False)

    return lookup


def receipt_moments(con: duckdb.DuckDBPyConnection, actions: Iterable[Action]
                    ) -> dict[str, dt.datetime]:
    """purchase_id -> purchased_at of the receipts that fired `actions`: the moments of
    a day's decisions."""
    wanted = sorted({str(p) for a in actions if (p := a["reason"].get("purchase_id"))})
    if not wanted:
        return {}
    rows = con.execute(
        "SELECT purchase_id, min(purchased_at) FROM purchases "
        "WHERE purchase_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) GROUP BY purchase_id",
        [wanted]).fetchall()
    return {str(pid): at for pid, at in rows}


def rules_for(contact: ContactRules, con: duckdb.DuckDBPyConnection,
              customers: Iterable[str], actions: Iterable[Action] = (),
              at_close: frozenset[str] = frozenset()) -> Rules:
    """The rules bound to the run's data: consent flags, the store calendar, and the
    moments of the receipts that fired `actions` (but those of the policies
    `at_close`: Rules)."""
    calendar = build_calendar(contact.calendar,
                              table_closures(con) if contact.calendar.from_table else ())
    return Rules(contact, consent_lookup(con, customers), calendar,
                 receipt_moments(con, actions), at_close)
