"""The outcomes table, kept in the ledger's SQLite file beside `actions`.

The ledger module owns `actions` and `runs` and their migrations; this module only
adds its own table with CREATE TABLE IF NOT EXISTS and reads `actions` by SQL, so the
two evolve independently. Connections use the ledger's pragmas (WAL, synchronous=FULL,
busy timeout) so an import, a report and the nightly run can share the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..ledger import connect_state

__all__ = ["OUTCOMES_DDL", "NoLedger", "chunks", "connect", "known_action_ids"]

OUTCOMES_DDL = """CREATE TABLE IF NOT EXISTS outcomes (
    action_id      TEXT PRIMARY KEY,
    status         TEXT NOT NULL,
    completed_at   TEXT NOT NULL,
    completed_date TEXT NOT NULL,
    sort_key       TEXT NOT NULL,
    staff_id       TEXT,
    topic          TEXT NOT NULL,
    digest         TEXT NOT NULL,
    imported_at    TEXT NOT NULL
)"""

_ID_CHUNK = 500  # below SQLite's historical 999 bound on host parameters


class NoLedger(Exception):
    """The state file is missing or holds no ledger (no `loyaltyrules run` yet)."""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open an existing ledger file and make sure the outcomes table exists."""
    db = Path(path)
    if not db.is_file():
        raise NoLedger(f"no ledger at {db}; run `loyaltyrules run` first")
    conn = connect_state(db)
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'actions'").fetchone()
        if not found:
            raise NoLedger(f"{db} holds no ledger; run `loyaltyrules run` first")
        conn.execute(OUTCOMES_DDL)
    except BaseException:
        conn.close()
        raise
    return conn


def chunks(items: Sequence[str], size: int = _ID_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def known_action_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> set[str]:
    """The subset of `ids` that the ledger's actions table holds."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    for part in chunks(wanted):
        marks = ", ".join("?" * len(part))
        query = f"SELECT action_id FROM actions WHERE action_id IN ({marks})"
        found.update(row[0] for row in conn.execute(query, tuple(part)))
    return found
