"""The state store: the ledger, the outbox, the outcomes and the point of sale's views.

    statefile.locate(value) -> StateStore     a SQLite file, or a PostgreSQL database
    ledger.connect_state(state) -> Connection checked, then opened
    transaction(conn, *keys) -> a write transaction, all or nothing

The modules that keep state (ledger.py, contact/store.py, delivery/, outcomes/,
event/store.py, lifecycle.py, reports/) write one set of queries for both backends;
`dialect_of(conn)` answers for the few differences (state/dialect.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from .base import SYNC_MODES, Busy, Connection, Cursor, StateStore, UnusableState
from .dialect import POSTGRESQL, SQLITE, Dialect, Variant, dialect_of

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "SYNC_MODES",
    "Busy",
    "Connection",
    "Cursor",
    "Dialect",
    "StateStore",
    "UnusableState",
    "Variant",
    "dialect_of",
    "ensure_tables",
    "transaction",
    "upsert",
]


@contextmanager
def transaction(conn: Connection, *keys: str, whole: bool = False,
                wait: bool = True) -> Iterator[Connection]:
    """One write transaction: commit on success, else roll back.

    SQLite takes the file's write lock first (`BEGIN IMMEDIATE`), so what is read
    inside cannot be changed by another writer before the commit. PostgreSQL takes
    the ledger's advisory lock, shared, and one of its own for each key (`store:S`,
    `customer:C`): writers with a key in common wait for each other, the others write
    at once, their rows kept apart by the ledger's keys; `whole` takes the ledger's
    lock alone, waiting for every writer. With `wait=False` a lock held elsewhere
    raises Busy at once, having done nothing.
    """
    dialect = dialect_of(conn)
    try:
        dialect.begin(conn, keys, whole, wait)
        yield conn
        conn.execute("COMMIT")
    except BaseException as err:
        if conn.in_transaction:  # SQLite may have rolled back already
            conn.execute("ROLLBACK")
        if not wait and dialect.is_busy(err):
            raise Busy("the state is being written by another connection") from None
        raise
    finally:
        if not wait:
            dialect.waiting(conn)


_CREATES = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)


def ensure_tables(conn: Connection, statements: Sequence[str]) -> None:
    """Run `CREATE TABLE IF NOT EXISTS` statements when a table they create is missing,
    in a transaction that waits for every writer (two PostgreSQL sessions creating
    the same table at once would collide)."""
    wanted = {name for statement in statements for name in _CREATES.findall(statement)}
    if wanted <= dialect_of(conn).tables(conn):
        return
    with transaction(conn, whole=True):
        for statement in statements:
            conn.execute(statement)


def upsert(table: str, columns: Sequence[str], key: str) -> str:
    """`INSERT ... ON CONFLICT (key) DO UPDATE` of every other column: a row written
    whole, new or not (SQLite's INSERT OR REPLACE, in the SQL both dialects speak)."""
    others = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))}) ON CONFLICT ({key}) DO UPDATE SET {others}")
