"""The outcomes table, kept in the ledger's state beside `actions`.

The ledger module owns `actions` and `runs` and their migrations; the outcomes table
is this module's, created by ledger schema 4 (the decision transactions of stores
sharing a PostgreSQL ledger read it, and must not race to create it), and by this
module with CREATE TABLE IF NOT EXISTS for older files; it reads `actions` by SQL.
Connections are the ledger's (ledger.connect_state) so an import, a report and the
nightly run can share the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..ledger import OUTCOMES_DDL, connect_state
from ..state import Connection, StateStore, dialect_of, ensure_tables
from ..statefile import as_state

__all__ = ["OUTCOMES_DDL", "NoLedger", "chunks", "connect", "known_action_ids"]


_ID_CHUNK = 500  # below SQLite's historical 999 bound on host parameters


class NoLedger(Exception):
    """The state is missing or holds no ledger (no `loyaltyrules run` yet)."""


def connect(state: StateStore | str | Path) -> Connection:
    """Open an existing ledger and make sure the outcomes table exists."""
    located = as_state(state)
    if not located.exists():
        raise NoLedger(f"no ledger at {located}; run `loyaltyrules run` first")
    conn = connect_state(located)
    try:
        if "actions" not in dialect_of(conn).tables(conn):
            raise NoLedger(f"{located} holds no ledger; run `loyaltyrules run` first")
        ensure_tables(conn, (OUTCOMES_DDL,))
    except BaseException:
        conn.close()
        raise
    return conn


def chunks(items: Sequence[str], size: int = _ID_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def known_action_ids(conn: Connection, ids: Iterable[str]) -> set[str]:
    """The subset of `ids` that the ledger's actions table holds."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    for part in chunks(wanted):
        marks = ", ".join("?" * len(part))
        query = f"SELECT action_id FROM actions WHERE action_id IN ({marks})"
        found.update(row[0] for row in conn.execute(query, tuple(part)))
    return found
