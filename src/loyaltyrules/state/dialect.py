"""The few things SQLite and PostgreSQL spell differently, in one place.

Everything else the state modules write is SQL both accept: `?` placeholders (the
PostgreSQL connection turns them into psycopg's `%s`), `INSERT ... ON CONFLICT`,
partial indexes, `ALTER TABLE ... RENAME`. What differs:

| | SQLite | PostgreSQL |
|---|---|---|
| a write transaction | `BEGIN IMMEDIATE`: the file's write lock | `BEGIN`, advisory locks (below) |
| the schema version | `PRAGMA user_version` | the `schema_version` table |
| insertion order | `rowid` | a `seq` identity column |
| ids of a JSON array parameter | `json_each(?)` | `json_array_elements_text(?)` |
| a text field of a JSON column | `json_extract(c, '$.a.b')` | `CAST(c AS json) #>> '{a,b}'` |
| the tables there are | `sqlite_master` | `pg_class` of the current schema |

A migration step that must differ is a `Variant`; `Dialect.pick` chooses its text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .base import Busy, Connection

__all__ = ["POSTGRESQL", "SQLITE", "Dialect", "Variant", "dialect_of"]


class Variant(NamedTuple):
    """One step of a migration, spelled for each dialect (one statement or several)."""

    sqlite: str | tuple[str, ...]
    postgresql: str | tuple[str, ...]


@dataclass(frozen=True)
class Dialect:
    name: str
    insertion_order: str  # the column that orders rows as they were inserted
    json_ids: str  # a SELECT of one column, `value`, from a JSON array of text parameter
    unindexed: str  # before a column: SQLite's `+` keeps it from using the column's index

    def pick(self, step: str | Variant) -> tuple[str, ...]:
        """The statements of one migration step in this dialect."""
        text = step if isinstance(step, str) else \
            step.sqlite if self.name == "sqlite" else step.postgresql
        return (text,) if isinstance(text, str) else text

    def json_text(self, column: str, *keys: str) -> str:
        """A text field of a JSON text column (keys are our own constants)."""
        if self.name == "sqlite":
            return f"json_extract({column}, '$.{'.'.join(keys)}')"
        return f"(CAST({column} AS json) #>> '{{{','.join(keys)}}}')"

    def begin(self, conn: Connection, keys: Sequence[str], whole: bool, wait: bool) -> None:
        """Start a write transaction (see transaction() in state/__init__.py)."""
        if self.name == "sqlite":
            if not wait:  # restored by waiting()
                conn.execute("PRAGMA busy_timeout = 0")  # BEGIN fails at once if locked
            conn.execute("BEGIN IMMEDIATE")
            return
        conn.execute("BEGIN")
        if not wait:
            conn.execute("SET LOCAL lock_timeout = '1ms'")  # a row lock: Busy, not a wait
        # the ledger's lock first, then each key in order: no two writers wait in a cycle
        names = [":write"] if whole else [":write", *(f":write:{k}" for k in sorted(set(keys)))]
        calls = [_LOCK_ALL if whole else _LOCK_SHARED] + [_LOCK_ONE] * (len(names) - 1)
        if not wait:
            calls = [call.replace("pg_advisory", "pg_try_advisory") for call in calls]
        taken = conn.execute("SELECT " + ", ".join(calls), names).fetchone()
        if any(value is False for value in taken):  # only a try can say False
            conn.execute("ROLLBACK")
            raise Busy("the state is being written by another connection")

    def waiting(self, conn: Connection) -> None:
        """After a transaction begun with wait=False: waits as usual again."""
        if self.name == "sqlite":
            conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS:d}")

    def is_busy(self, err: BaseException) -> bool:
        """Whether `err` says a lock was held elsewhere (nothing was done)."""
        if self.name == "sqlite":
            if not isinstance(err, sqlite3.OperationalError):
                return False
            code = getattr(err, "sqlite_errorcode", None)  # Python 3.11+
            return code & 0xFF == _SQLITE_BUSY if isinstance(code, int) else "locked" in str(err)
        return getattr(err, "sqlstate", None) == _LOCK_NOT_AVAILABLE

    def schema_version(self, conn: Connection) -> int:
        if self.name == "sqlite":
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        if "schema_version" not in self.tables(conn):
            return 0
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def set_schema_version(self, conn: Connection, version: int) -> None:
        """Inside the migration's transaction."""
        if self.name == "sqlite":
            # PRAGMA does not take parameters; the value is our own integer.
            conn.execute(f"PRAGMA user_version = {version:d}")
            return
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    def tables(self, conn: Connection) -> set[str]:
        if self.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            query = ("SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
                     "AND relnamespace = current_schema()::regnamespace")
        return {str(row[0]) for row in conn.execute(query)}

    def columns(self, conn: Connection, table: str) -> set[str]:
        if self.name == "sqlite":
            return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}
        return {str(row[0]) for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?", (table,))}


SQLITE_BUSY_TIMEOUT_MS = 30_000
_SQLITE_BUSY = 5  # the primary result code; sqlite3.SQLITE_BUSY from Python 3.11
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout ran out

# Advisory locks are per database: a key names the schema too, so two ledgers in one
# database (a schema each) never wait for each other.
_KEY = "hashtextextended(current_schema() || ?, 0)"
_LOCK_ALL = _LOCK_ONE = f"pg_advisory_xact_lock({_KEY})"
_LOCK_SHARED = f"pg_advisory_xact_lock_shared({_KEY})"

SQLITE = Dialect("sqlite", "rowid", "SELECT value FROM json_each(?)", "+")
POSTGRESQL = Dialect("postgresql", "seq",
                     "SELECT json_array_elements_text(CAST(? AS json)) AS value", "")


def dialect_of(conn: Connection) -> Dialect:
    """The dialect of a state connection (a plain sqlite3 connection is SQLite)."""
    if isinstance(conn, sqlite3.Connection):
        return SQLITE
    dialect = getattr(conn, "dialect", None)
    return dialect if isinstance(dialect, Dialect) else SQLITE
