"""The contact rules at the point of sale: one moment decided inside the event's own
transaction on the state file, with the nightly run's meaning (docs/contact-rules.md,
At the point of sale).

A receipt is one moment of its day: its actions are decided together by priority,
against the ledger as it stands (earlier emissions for the caps, the day's surviving
tasks for merges). `on_day` is a customer's close of the day: the day's schedules and
the customer's deferred actions due by then. Decisions are written as the nightly
run writes them, so it finds them and keeps them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from ..ledger import known_in
from ..state import Connection
from .calendar import Closure, StoreCalendar, build_calendar
from .decide import Action, ConsentLookup, Decision, Known, Rules, decide_moment
from .model import ContactRules
from .store import load_history, load_survivors, load_waiting, write_decisions

# The `calendar` table's closings as the last nightly run saw them (event/rebuild.py).
CLOSURES_DDL = "CREATE TABLE IF NOT EXISTS view_closures (region TEXT, date TEXT NOT NULL)"


def saved_calendar(conn: Connection, rules: ContactRules) -> StoreCalendar:
    """The store calendar of the contact rules file, with the saved table closings."""
    rows = conn.execute("SELECT region, date FROM view_closures").fetchall() \
        if rules.calendar.from_table else []
    table = [Closure(region=region, date=dt.date.fromisoformat(day)) for region, day in rows]
    return build_calendar(rules.calendar, table)


def decide_at_checkout(conn: Connection, contact: ContactRules, consent: ConsentLookup,
                       day: dt.date, actions: Sequence[Action], run_id: str, *,
                       closing: Iterable[str] = ()) -> list[Decision]:
    """Decide and record the actions of one moment on `day` that the ledger lacks.

    `closing`: customers whose day this moment closes (on_day); their deferred
    actions due by `day` are decided with the others.
    """
    recorded = known_in(conn, [str(a["action_id"]) for a in actions])
    fresh = [a for a in actions if str(a["action_id"]) not in recorded]
    closing = sorted(set(closing))
    waiting = [a for a, _due in load_waiting(conn, day, closing)] if closing else []
    candidates = fresh + waiting
    if not candidates:
        return []
    customers = {str(a["customer_id"]) for a in candidates}
    known = Known(load_history(conn, contact, day, day, customers),
                  load_survivors(conn, contact, day, day, customers))
    rules = Rules(contact, consent, saved_calendar(conn, contact))
    decisions = decide_moment(day, candidates, known, rules, day)
    write_decisions(conn, decisions, run_id, known.survivors.updated)
    return decisions
