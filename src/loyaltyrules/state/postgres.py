"""The state in a PostgreSQL database: HQ's one ledger for many stores, through psycopg 3.

    --state postgresql://loyalty@db.example/loyalty
    --state 'postgresql://loyalty@db/hq?options=-csearch_path%3Dledger'   (a schema of its own)

The tables are those of the SQLite file, in the connection's current schema (the
first of its search_path that exists), created and migrated by the same steps; the
schema version is the `schema_version` table, read before anything is written. A
write transaction takes advisory locks instead of SQLite's one write lock
(state/dialect.py), so stores write at once and each store's writers wait for each
other; the run lock is an advisory lock held by a connection of its own for the
whole run, released by the server when its holder's connection ends (a killed run
included). psycopg is an optional extra: `pip install 'loyaltyrules[postgres]'`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..runlock import POLL, RunLockTimeout
from .base import SYNC_MODES, Cursor, UnusableState
from .dialect import POSTGRESQL, Dialect
from .sqlite import NOT_STATE, STATE_TABLES

if TYPE_CHECKING:
    import psycopg

__all__ = ["INSTALL", "PgConnection", "PostgresState"]

INSTALL = "pip install 'loyaltyrules[postgres]'"
CONNECT_TIMEOUT = 10  # seconds: an unreachable server is reported, not waited for forever
COPY_FROM = 1000  # rows from which executemany of an INSERT goes through COPY
# the state modules' inserts: INSERT INTO t (c, ...) VALUES (?, ...) and what follows
_INSERT = re.compile(r"INSERT INTO (\w+) \(([\w, ]+)\)\s+VALUES \(\?(?:, \?)*\)(.*)\Z", re.DOTALL)


# Text compares byte by byte, as in SQLite and DuckDB (an id's order, a purchase's
# place among those of the same second), not by the database's locale: every text
# column the state modules create is COLLATE "C".
_TABLE_DDL = re.compile(r"^\s*(CREATE (TEMP |TEMPORARY )?TABLE|ALTER TABLE)", re.IGNORECASE)
_TEXT = re.compile(r"\bTEXT\b")


@functools.lru_cache(maxsize=4096)
def _psycopg_sql(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (outside string literals), `%` as `%%`, and
    text columns created byte-ordered (above)."""
    if _TABLE_DDL.match(sql):
        sql = _TEXT.sub('TEXT COLLATE "C"', sql)
    out, quoted = [], False
    for char in sql:
        if char == "'":
            quoted = not quoted
        out.append("%%" if char == "%" else "%s" if char == "?" and not quoted else char)
    return "".join(out)


class PgConnection:
    """A psycopg connection that takes the state modules' SQL (`?` placeholders).

    In autocommit mode: the state modules issue BEGIN and COMMIT themselves, as on
    SQLite, so a statement outside a transaction is committed at once."""

    dialect: Dialect = POSTGRESQL

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self.raw.execute(_psycopg_sql(sql), parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        rows = list(parameters)
        insert = _INSERT.match(sql)
        if insert is None or len(rows) < COPY_FROM:
            cursor = self.raw.cursor()
            cursor.executemany(_psycopg_sql(sql), rows)
            return cursor
        return self._copy_insert(insert, rows)

    def _copy_insert(self, insert: re.Match[str], rows: list[Sequence[Any]]) -> Cursor:
        """Many rows of `INSERT INTO t (c, ...) VALUES (?, ...) [ON CONFLICT ...]`: COPY
        into a temporary table, then one INSERT ... SELECT with the same conflict
        clause (2 to 3 times faster than a statement per row). Rows go in the order
        given, so of an id repeated the first is kept, as with one statement each."""
        table, columns, tail = insert.group(1), insert.group(2), insert.group(3)
        self.raw.execute("DROP TABLE IF EXISTS pg_temp.lr_incoming")
        self.raw.execute(f"CREATE TEMP TABLE lr_incoming AS SELECT {columns} FROM {table} "
                         "WITH NO DATA")
        cursor = self.raw.cursor()
        with cursor.copy(f"COPY lr_incoming ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # WHERE true: SQLite's grammar needs it before ON CONFLICT; harmless here
        cursor.execute(_psycopg_sql(f"INSERT INTO {table} ({columns}) SELECT {columns} "
                                    f"FROM lr_incoming WHERE true{tail}"))
        self.raw.execute("DROP TABLE pg_temp.lr_incoming")
        return cursor

    def close(self) -> None:
        self.raw.close()


@dataclass(frozen=True)
class PostgresState:
    url: str
    kind: str = "postgresql"

    def __str__(self) -> str:
        """The URL without its password (nor any query parameter that may hold one)."""
        parts = urlsplit(self.url)
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"

    def connect(self, name: str = "loyaltyrules") -> PgConnection:
        """A new autocommit connection; UnusableState when the server cannot be used."""
        try:
            import psycopg
        except ImportError:
            raise UnusableState("state.no-driver", f"a PostgreSQL state needs psycopg: "
                                f"{INSTALL}", str(self)) from None
        try:
            raw = psycopg.connect(self.url, autocommit=True, application_name=name[:63],
                                  connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as err:
            lines = str(err).strip().splitlines() or [type(err).__name__]
            raise UnusableState("state.unreachable", f"cannot connect: {lines[0]}",
                                str(self)) from None
        return PgConnection(raw)

    def check(self, newest: int) -> None:
        conn = self.connect()
        try:
            _check(conn, newest, self)
        finally:
            conn.close()

    def open(self, sync: str = "full") -> PgConnection:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {', '.join(SYNC_MODES)} (got {sync!r})")
        conn = self.connect()
        # "normal": the commit returns before its WAL record is flushed by the server
        # (a server crash may lose the last fraction of a second, a crash of ours nothing)
        conn.execute(f"SET synchronous_commit = {'on' if sync == 'full' else 'off'}")
        # psycopg prepares a statement run five times; a generic plan of an id list
        # (`action_id IN (?, ...)`) then scanned the whole table per chunk of ids:
        # every statement is planned for its own parameters instead.
        conn.execute("SET plan_cache_mode = force_custom_plan")
        return conn

    def exists(self) -> bool:
        conn = self.connect()
        try:
            return bool(POSTGRESQL.tables(conn) & {*STATE_TABLES, "schema_version"})
        finally:
            conn.close()

    @contextlib.contextmanager
    def run_lock(self, timeout: float, waiting: Callable[[str], None],
                 store: str | None = None) -> Iterator[None]:
        """A run of `store` takes the ledger's run lock shared and the store's alone; a
        run of every store takes the ledger's alone. Held by this connection's session."""
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        conn = self.connect(f"loyaltyrules pid {os.getpid()}, started {started}")
        try:
            names = [":run"] if store is None else [":run", f":run:{store}"]
            _acquire(conn, names, store is None, timeout, waiting, self)
            yield
        finally:
            conn.close()  # the server releases the session's advisory locks


def _check(conn: PgConnection, newest: int, state: PostgresState) -> None:
    if conn.execute("SELECT current_schema()").fetchone()[0] is None:
        raise UnusableState("state.no-schema", "no schema of its search_path exists; create "
                            "it first (CREATE SCHEMA ...)", str(state))
    version = POSTGRESQL.schema_version(conn)
    if version > newest:
        raise UnusableState(
            "state.newer-version",
            f"written by a newer loyaltyrules (state schema {version}; this one knows up to "
            f"{newest}); upgrade loyaltyrules, or give another --state", str(state))
    tables = POSTGRESQL.tables(conn)
    if version == 0 and tables and not tables & set(STATE_TABLES):
        raise UnusableState("state.not-a-state", NOT_STATE + " (its schema holds other "
                            "tables: give loyaltyrules a database or a schema of its own)",
                            str(state))


_KEY = "hashtextextended(current_schema() || ?, 0)"


def _take(conn: PgConnection, names: Sequence[str], whole: bool) -> bool:
    """Try every lock of `names` (the first shared unless `whole`); all or none."""
    first = "pg_try_advisory_lock" if whole else "pg_try_advisory_lock_shared"
    taken = conn.execute(f"SELECT {first}({_KEY})", (names[0],)).fetchone()[0]
    if not taken:
        return False
    for name in names[1:]:
        if not conn.execute(f"SELECT pg_try_advisory_lock({_KEY})", (name,)).fetchone()[0]:
            conn.execute("SELECT pg_advisory_unlock_all()")
            return False
    return True


def _holder(conn: PgConnection, names: Sequence[str]) -> str:
    """Who holds one of these locks, as its connection says (pid and start), best effort."""
    for name in names:
        key = int(conn.execute(f"SELECT {_KEY}", (name,)).fetchone()[0])
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks AS l JOIN pg_stat_activity AS a "
            "USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid = CAST(? AS bigint)::oid AND l.objid = CAST(? AS bigint)::oid "
            "AND l.pid <> pg_backend_pid()",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchone()
        if row and row[0]:
            return str(row[0]).removeprefix("loyaltyrules ")
    return "a process that has not said who it is"


def _acquire(conn: PgConnection, names: Sequence[str], whole: bool, timeout: float,
             waiting: Callable[[str], None], state: PostgresState) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while not _take(conn, names, whole):
        if not told:
            waiting(_holder(conn, names))
            told = True
        if time.monotonic() >= deadline:
            raise RunLockTimeout(str(state), timeout, _holder(conn, names))
        time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
