"""The contact rules over a range of business dates, one date after the other.

Candidates of a date D: the actions generated for D (as_of == D) that the ledger
does not know yet, plus the actions deferred earlier and due on or before D. A
range therefore gives the same decisions as its nights run one by one.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from .calendar import build_calendar, table_closures
from .decide import EMITTED, Action, Decision, Rules, decide_day
from .history import History
from .model import ContactRules

STATUSES = ("emitted", "deferred", "merged", "expired")
_LABEL = {"open": "emitted", "deferred": "deferred", "merged": "merged", "expired": "expired"}


@dataclass
class ContactResult:
    """The final decision of every candidate of a run (one per action id)."""

    decisions: dict[str, Decision] = field(default_factory=dict)

    @property
    def emitted(self) -> list[Action]:
        out = [d for d in self.decisions.values() if d.status == EMITTED]
        out.sort(key=lambda d: (d.day, d.record["as_of"], d.record["policy"],
                                d.record["customer_id"], d.action_id))
        return [d.record for d in out]

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(_LABEL[d.status] for d in self.decisions.values())
        return {status: found[status] for status in STATUSES}

    @property
    def reasons(self) -> dict[str, int]:
        """Deferral and expiry reasons with their counts (`cap:sms`, `no-consent:call`, ...)."""
        found = Counter(f"{_LABEL[d.status]} {d.reason}" for d in self.decisions.values()
                        if d.status in ("deferred", "expired"))
        return dict(sorted(found.items()))


def _days(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    for offset in range((end - start).days + 1):
        yield start + dt.timedelta(days=offset)


def apply_range(start: dt.date, end: dt.date, new: Iterable[Action],
                waiting: Iterable[tuple[Action, dt.date]], history: History,
                rules: Rules) -> ContactResult:
    """Decide every date from start to end in order.

    `new`: generated actions not yet in the ledger; `waiting`: deferred actions with
    the date they are due. `history` holds earlier emissions and gains this run's.
    """
    by_day: dict[dt.date, list[Action]] = {}
    for action in new:
        by_day.setdefault(_as_date(action["as_of"]), []).append(action)
    pending = {str(a["action_id"]): (a, due) for a, due in waiting}
    result = ContactResult()
    for day in _days(start, end):
        due_now = [a for a, due in pending.values() if due <= day]
        for action in due_now:
            del pending[str(action["action_id"])]
        seen = {str(a["action_id"]) for a in due_now}
        fresh = [a for a in by_day.get(day, []) if str(a["action_id"]) not in seen]
        for decision in decide_day(day, [*due_now, *_unique(fresh)], history, rules):
            result.decisions.pop(decision.action_id, None)  # keep them in decision order
            result.decisions[decision.action_id] = decision
            if decision.deferred_to is not None:
                pending[decision.action_id] = (decision.record, decision.deferred_to)
    return result


def _unique(actions: list[Action]) -> list[Action]:
    return list({str(a["action_id"]): a for a in reversed(actions)}.values())[::-1]


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def consent_lookup(con: duckdb.DuckDBPyConnection, customers: Iterable[str]
                   ) -> Mapping[str, Mapping[str, bool]]:
    """customer -> consent column -> value, for the customers named (unknown: no consent)."""
    wanted = sorted(set(customers))
    if not wanted:
        return {}
    columns = ("consent_sms", "consent_call", "consent_mail", "consent_visit")
    rows = con.execute(
        f"SELECT customer_id, {', '.join(columns)} FROM customers "
        "WHERE customer_id IN (SELECT unnest(CAST(? AS VARCHAR[])))", [wanted]
    ).fetchall()
    return {str(r[0]): {c: bool(v) for c, v in zip(columns, r[1:], strict=True)} for r in rows}


def rules_for(contact: ContactRules, con: duckdb.DuckDBPyConnection,
              customers: Iterable[str]) -> Rules:
    """The rules bound to the run's data: consent flags and the store calendar."""
    flags = consent_lookup(con, customers)
    calendar = build_calendar(contact.calendar,
                              table_closures(con) if contact.calendar.from_table else ())
    return Rules(contact, lambda customer, column: flags.get(customer, {}).get(column, False),
                 calendar)
