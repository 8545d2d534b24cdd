"""The contact rules' state in the ledger: emitted history, deferred actions, decisions.

Read and written inside one ledger write transaction, so a concurrent writer cannot
slip an action between the cap counts and the decisions based on them.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from ..ledger import ACTION_COLUMNS, Ledger, action_row
from .decide import EMITTED, Action, Decision
from .history import History
from .model import ContactRules

# Rows that went out to a host. Outcome statuses a host may set later stay "out".
NOT_OUT = ("deferred", "merged", "expired")
_LIFECYCLE = ("status", "status_reason", "contact_day", "deferred_to", "merged_into",
              "decided_run")
_UPSERT = (
    f"INSERT INTO actions ({', '.join(ACTION_COLUMNS)}, record, created_run, "
    f"{', '.join(_LIFECYCLE)}) "
    f"VALUES ({', '.join('?' * (len(ACTION_COLUMNS) + 2 + len(_LIFECYCLE)))}) "
    "ON CONFLICT (action_id) DO UPDATE SET record = excluded.record, "
    "not_before = excluded.not_before, due_by = excluded.due_by, "
    + ", ".join(f"{c} = excluded.{c}" for c in _LIFECYCLE)
    + " WHERE actions.status = 'deferred'"  # a decided action is never decided again
)


def load_history(conn: sqlite3.Connection, rules: ContactRules, start: dt.date,
                 end: dt.date) -> History:
    """Emissions on capped channels in every window that can touch start..end."""
    channels = sorted({c.channel for c in rules.caps})
    if not channels:
        return History()
    reach = dt.timedelta(days=max(c.window_days for c in rules.caps))
    rows = conn.execute(
        f"SELECT customer_id, type, contact_day FROM actions "
        f"WHERE type IN ({', '.join('?' * len(channels))}) "
        f"AND status NOT IN ({', '.join('?' * len(NOT_OUT))}) "
        "AND contact_day BETWEEN ? AND ?",
        (*channels, *NOT_OUT, (start - reach).isoformat(), (end + reach).isoformat()),
    ).fetchall()
    return History((str(c), str(t), dt.date.fromisoformat(d)) for c, t, d in rows)


def load_waiting(conn: sqlite3.Connection, end: dt.date) -> list[tuple[Action, dt.date]]:
    """Deferred actions due on or before `end`, each as generated, with its due date."""
    rows = conn.execute(
        "SELECT record, deferred_to FROM actions WHERE status = 'deferred' "
        "AND deferred_to <= ? ORDER BY deferred_to, action_id", (end.isoformat(),)
    ).fetchall()
    return [(json.loads(record), dt.date.fromisoformat(due)) for record, due in rows]


def write_decisions(conn: sqlite3.Connection, decisions: Iterable[Decision],
                    run_id: str) -> set[str]:
    """Store each final decision; return the ids this run emitted."""
    rows = (
        (*action_row(d.record, run_id), d.status, d.reason, d.day.isoformat(),
         d.deferred_to.isoformat() if d.deferred_to else None, d.merged_into, run_id)
        for d in decisions
    )
    conn.executemany(_UPSERT, rows)
    found = conn.execute(
        "SELECT action_id FROM actions WHERE decided_run = ? AND status = ?",
        (run_id, EMITTED),
    )
    return {r[0] for r in found}


def ledger_state(ledger: Ledger) -> list[dict[str, Any]]:
    """Every action row with its lifecycle columns, by id (for checks and tests)."""
    columns = ("action_id", "record", *_LIFECYCLE[:-1])
    with ledger.transaction() as conn:
        rows = conn.execute(
            f"SELECT {', '.join(columns)} FROM actions ORDER BY action_id"
        ).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in rows]
