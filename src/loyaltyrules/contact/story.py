"""What the contact rules did with given actions, for `explain`: the decision the ledger
recorded, else the one a run of that night would take now (read only, never written).

The decision of an action depends on the other candidates of its customer that day
(caps, merges) and on the ledger (earlier emissions, the day's surviving tasks,
deferred actions), all per customer, so the day is decided again for the customers
concerned only, exactly as a run of that one night decides it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from ..ledger import SCHEMA_VERSION, known_in
from ..state import Connection, StateStore, dialect_of
from ..state.sqlite import SqliteState
from ..statefile import as_state
from .apply import LABELS, apply_range, rules_for
from .decide import Action
from .history import History
from .model import ContactRules
from .store import load_history, load_survivors, load_waiting

_RECORDED = ("SELECT action_id, status, status_reason, contact_day, deferred_to, merged_into "
             "FROM actions WHERE action_id IN ({ids})")
Story = dict[str, Any]


@contextlib.contextmanager
def _read_only(state: StateStore | Path | None) -> Iterator[Connection | None]:
    """The ledger opened for reading, or None when there is none (nothing is created)."""
    located = None if state is None else as_state(state)
    if located is None or not located.exists():
        yield None
        return
    located.check(SCHEMA_VERSION)  # not a state: refused (statefile.UnusableState)
    conn: Connection = located.open() if not isinstance(located, SqliteState) else \
        sqlite3.connect(f"{located.path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield conn if "actions" in dialect_of(conn).tables(conn) else None
    finally:
        conn.close()


def _story(status: str, reason: str | None, day: str, deferred_to: str | None,
           merged_into: str | None, recorded: bool) -> Story:
    held = status in ("deferred", "expired")
    return {"status": LABELS.get(status, status), "reason": reason if held else None,
            "day": day, "deferred_to": deferred_to, "merged_into": merged_into,
            "recorded": recorded}


def contact_stories(contact: ContactRules, con: duckdb.DuckDBPyConnection, day: dt.date,
                    actions: Sequence[Action], day_candidates: Callable[[], list[Action]],
                    state: StateStore | Path | None, at_close: frozenset[str] = frozenset()
                    ) -> dict[str, Story]:
    """action id -> what the contact rules did (`recorded`: from the ledger) or would do
    if the night of `day` ran now. `day_candidates` gives the evaluator's actions of
    that day (called only when some action is not recorded)."""
    with _read_only(state) as conn:
        ids = [str(a["action_id"]) for a in actions]
        stories = {} if conn is None else {
            aid: _story(status, reason, on, to, into, recorded=True)
            for aid, status, reason, on, to, into in conn.execute(
                _RECORDED.format(ids=dialect_of(conn).json_ids), (json.dumps(ids),))}
        missing = {a["customer_id"] for a in actions if a["action_id"] not in stories}
        if not missing:
            return stories
        mine = [a for a in day_candidates() if a["customer_id"] in missing]
        known = set() if conn is None else known_in(conn, [a["action_id"] for a in mine])
        fresh = [a for a in mine if a["action_id"] not in known]
        waiting = [] if conn is None else load_waiting(conn, day, missing)
        history = History() if conn is None else load_history(conn, contact, day, day, missing)
        survivors = None if conn is None else load_survivors(conn, contact, day, day, missing)
    rules = rules_for(contact, con, missing, fresh, at_close)
    result = apply_range(day, day, fresh, waiting, history, rules, survivors=survivors,
                         delivered_on=day)
    for aid, d in result.decisions.items():
        if aid in ids and aid not in stories:
            stories[aid] = _story(d.status, d.reason, d.day.isoformat(),
                                  d.deferred_to.isoformat() if d.deferred_to else None,
                                  d.merged_into, recorded=False)
    return stories
