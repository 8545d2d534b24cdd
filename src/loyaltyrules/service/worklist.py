"""A store's work for one day, read from the ledger: what the work page lists.

A day's tasks are the store's actions out (handed to the store: not deferred, merged
or expired) on that day or in the LOOKBACK days before, still worth doing on the day
(`valid_until` on or after it, or none), and either without an outcome (open) or with
one completed on the day or later (recorded, shown as such). Overdue ones (due before
the day) stay listed until their validity ends.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..contact.store import NOT_OUT
from ..outcomes import connect
from ..state import Dialect, StateStore, dialect_of

__all__ = ["LOOKBACK", "Owner", "WorkItem", "owner_of", "work_of"]

LOOKBACK = 30  # days: how far back an unfinished task is still looked for
def _query(dialect: Dialect) -> str:
    return f"""
SELECT a.record, o.status FROM actions AS a LEFT JOIN outcomes AS o USING (action_id)
WHERE a.contact_day BETWEEN ? AND ? AND a.store_id = ?
  AND a.status NOT IN ({", ".join("?" * len(NOT_OUT))})
  AND (o.action_id IS NULL OR o.completed_date >= ?)
  AND coalesce({dialect.json_text("a.record", "valid_until")}, '9999-12-31') >= ?
ORDER BY a.contact_day, a.action_id"""


@dataclass(frozen=True)
class WorkItem:
    record: dict[str, Any]
    outcome: str | None  # the status recorded (on the day or since), None while open


def work_of(state: StateStore | str | Path, store_id: str, day: dt.date) -> list[WorkItem]:
    """The store's tasks of `day` (see the module doc), oldest first."""
    first = (day - dt.timedelta(days=LOOKBACK)).isoformat()
    params = (first, day.isoformat(), store_id, *NOT_OUT, day.isoformat(), day.isoformat())
    conn = connect(state)
    try:
        rows = conn.execute(_query(dialect_of(conn)), params).fetchall()
    finally:
        conn.close()
    return [WorkItem(json.loads(record), status) for record, status in rows]


class Owner(NamedTuple):
    store_id: str
    staff_id: str | None  # the assignee's id (None: a role as a whole)
    type: str  # the action's type: which outcomes the page offers


def owner_of(state: StateStore | str | Path, action_id: str) -> Owner | None:
    """Whose an action is: its store, assignee and type (None: no such action)."""
    conn = connect(state)
    try:
        assignee = dialect_of(conn).json_text("record", "assignee", "id")
        row = conn.execute(f"SELECT store_id, {assignee}, type FROM actions "
                           "WHERE action_id = ?", (action_id.strip().lower(),)).fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    return Owner(str(row[0]), None if row[1] is None else str(row[1]), str(row[2]))
