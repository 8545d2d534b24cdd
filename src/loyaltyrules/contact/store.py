"""The contact rules' state in the ledger: emitted history, deferred actions, decisions.

Read and written inside one ledger write transaction, so a concurrent writer cannot
slip an action between the cap counts and the decisions based on them. A run for one
store (`run --store S`) reads that store's rows only: its caps count what the store
sent (docs/postgresql.md, Stores).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..ledger import ACTION_COLUMNS, Ledger, action_row, stored_record
from ..state import Connection, dialect_of
from .decide import EMITTED, Action, Decision, Survivors
from .history import History
from .model import ContactRules

# Rows that went out to a host. Outcome statuses a host may set later stay "out".
NOT_OUT = ("deferred", "merged", "expired")
_LIFECYCLE = ("status", "status_reason", "contact_day", "deferred_to", "merged_into",
              "decided_run")
_UPSERT = (
    f"INSERT INTO actions ({', '.join(ACTION_COLUMNS)}, record, record_is_line, "
    f"created_run, {', '.join(_LIFECYCLE)}) "
    f"VALUES ({', '.join('?' * (len(ACTION_COLUMNS) + 3 + len(_LIFECYCLE)))}) "
    "ON CONFLICT (action_id) DO UPDATE SET record = excluded.record, "
    "record_is_line = excluded.record_is_line, "
    "not_before = excluded.not_before, due_by = excluded.due_by, "
    + ", ".join(f"{c} = excluded.{c}" for c in _LIFECYCLE)
    + " WHERE actions.status = 'deferred'"  # a decided action is never decided again
)
# A surviving task that later actions of its day joined: its record and due date.
_REWRITE = ("UPDATE actions SET record = ?, record_is_line = ?, due_by = ? "
            "WHERE action_id = ?")


def _among(conn: Connection, customers: Iterable[str] | None, store: str | None = None
           ) -> tuple[str, str, list[str]]:
    """An optional `AND customer_id IN (...)` (and `AND store_id = ?` for a run of one
    store), its parameters, and the prefix of the date column: for a few customers
    (checkout) SQLite's `+`, so it walks the customer index rather than every row of
    the dates (PostgreSQL's planner chooses by itself)."""
    mine, shop = of_store(store)
    if customers is None:
        return mine, "", list(shop)
    wanted = sorted(set(customers))
    return (f" AND customer_id IN ({', '.join('?' * len(wanted))}){mine}",
            dialect_of(conn).unindexed, [*wanted, *shop])


def of_store(store: str | None, column: str = "store_id") -> tuple[str, tuple[str, ...]]:
    """`AND store_id = ?` and its parameter for a run of one store; nothing for all."""
    return ("", ()) if store is None else (f" AND {column} = ?", (store,))


def load_history(conn: Connection, rules: ContactRules, start: dt.date,
                 end: dt.date, customers: Iterable[str] | None = None,
                 store: str | None = None) -> History:
    """Emissions on capped channels in every window that deciding start..end can
    touch, deferrals included (of `customers` only, when given; of `store`'s rows)."""
    channels = sorted({c.channel for c in rules.caps})
    if not channels:
        return History()
    reach = dt.timedelta(days=max(c.window_days for c in rules.caps))
    last = end + dt.timedelta(days=rules.max_deferral_days) + reach
    among, by, who = _among(conn, customers, store)
    rows = conn.execute(
        f"SELECT customer_id, type, contact_day FROM actions "
        f"WHERE type IN ({', '.join('?' * len(channels))}) "
        f"AND status NOT IN ({', '.join('?' * len(NOT_OUT))}) "
        f"AND {by}contact_day BETWEEN ? AND ?{among}",
        (*channels, *NOT_OUT, (start - reach).isoformat(), last.isoformat(), *who),
    ).fetchall()
    return History((str(c), str(t), dt.date.fromisoformat(d)) for c, t, d in rows)


def load_survivors(conn: Connection, rules: ContactRules, start: dt.date,
                   end: dt.date, customers: Iterable[str] | None = None,
                   store: str | None = None) -> Survivors:
    """The staff tasks emitted on start..end that later ones of their day may join."""
    if not rules.staff_tasks.merge:
        return Survivors()
    types = rules.staff_tasks.types
    among, by, who = _among(conn, customers, store)
    rows = conn.execute(
        f"SELECT record, contact_day FROM actions WHERE type IN ({', '.join('?' * len(types))}) "
        f"AND status NOT IN ({', '.join('?' * len(NOT_OUT))}) "
        f"AND {by}contact_day BETWEEN ? AND ?{among}",
        (*types, *NOT_OUT, start.isoformat(), end.isoformat(), *who),
    ).fetchall()
    tasks = [(json.loads(record), dt.date.fromisoformat(day)) for record, day in rows]
    return Survivors((r, day) for r, day in tasks if rules.is_staff_task(r))


def load_waiting(conn: Connection, end: dt.date, customers: Iterable[str] | None = None,
                 store: str | None = None) -> list[tuple[Action, dt.date]]:
    """Deferred actions due on or before `end`, each as generated, with its due date."""
    among, _by, who = _among(conn, customers, store)
    rows = conn.execute(
        "SELECT record, deferred_to FROM actions WHERE status = 'deferred' "
        f"AND deferred_to <= ?{among} ORDER BY deferred_to, action_id",
        (end.isoformat(), *who),
    ).fetchall()
    return [(json.loads(record), dt.date.fromisoformat(due)) for record, due in rows]


def write_decisions(conn: Connection, decisions: Iterable[Decision], run_id: str,
                    updated: Mapping[str, Action] | None = None) -> set[str]:
    """Store each final decision and the surviving tasks that actions joined; return
    the ids emitted. Every decision is of an action new to the ledger or of one
    deferred in it, read in this transaction, so each is written."""
    decisions = list(decisions)
    rows = (
        (*action_row(d.record, run_id), d.status, d.reason, d.day.isoformat(),
         d.deferred_to.isoformat() if d.deferred_to else None, d.merged_into, run_id)
        for d in decisions
    )
    conn.executemany(_UPSERT, rows)
    if updated:
        conn.executemany(_REWRITE, ((*stored_record(r), r["due_by"], r["action_id"])
                                    for r in updated.values()))
    return {d.action_id for d in decisions if d.status == EMITTED}


def ledger_state(ledger: Ledger) -> list[dict[str, Any]]:
    """Every action row with its lifecycle columns, by id (for checks and tests)."""
    columns = ("action_id", "record", *_LIFECYCLE[:-1])
    with ledger.transaction() as conn:
        rows = conn.execute(
            f"SELECT {', '.join(columns)} FROM actions ORDER BY action_id"
        ).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in rows]
