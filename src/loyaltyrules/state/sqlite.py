"""The state in one SQLite file: WAL mode, a busy timeout, checked before any write.

`check` reads an existing file through a read-only connection, so a file that is not
a state (a CSV, random bytes, a truncated copy, another program's database) or one
written by a newer loyaltyrules is refused untouched: no journal mode switched, no
table created. One run at a time holds `<file>.lock` (runlock.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..runlock import file_lock
from .base import SYNC_MODES, UnusableState
from .dialect import SQLITE_BUSY_TIMEOUT_MS as BUSY_TIMEOUT_MS

__all__ = ["BUSY_TIMEOUT_MS", "STATE_TABLES", "SqliteState", "check_file"]

# A state holds the ledger or the point of sale's views (or both).
STATE_TABLES = ("actions", "customer_views")


@dataclass(frozen=True)
class SqliteState:
    """A state file (`:memory:` for a private state of one process)."""

    path: Path
    kind: str = "sqlite"

    def __str__(self) -> str:
        return str(self.path)

    def check(self, newest: int) -> None:
        check_file(self.path, newest)

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def open(self, sync: str = "full") -> sqlite3.Connection:
        """WAL, a busy timeout and `sync`; callers serialise use of the connection."""
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {', '.join(SYNC_MODES)} (got {sync!r})")
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(self.path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # each owner guards it with its own lock
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() not in ("wal", "memory"):  # ":memory:" (a state for one process)
            conn.close()
            raise UnusableState("state.damaged", f"cannot be put in WAL mode (got {mode})",
                                self.path)
        conn.execute(f"PRAGMA synchronous = {sync.upper()}")  # checked against SYNC_MODES
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: big nightly batches stay in memory
        return conn

    def run_lock(self, timeout: float, waiting: Callable[[str], None],
                 store: str | None = None) -> contextlib.AbstractContextManager[None]:
        """The file's one lock, whatever the store: SQLite has one writer at a time."""
        return file_lock(self.path, timeout, waiting)


def check_file(path: Path, newest: int) -> None:
    """Refuse `path` unless it is absent, empty, or a state file of schema <= `newest`."""
    if str(path) == ":memory:" or not path.exists():
        return
    if not path.is_file():
        raise UnusableState("state.not-a-file", "is not a file", path)
    version, tables = _read_only_look(path)
    if version > newest:
        raise UnusableState(
            "state.newer-version",
            f"written by a newer loyaltyrules (state schema {version}; this one knows "
            f"up to {newest}); upgrade loyaltyrules, or give another --state",
            path,
        )
    if version == 0 and tables and not tables & set(STATE_TABLES):
        raise UnusableState(
            "state.not-a-state", NOT_STATE + " (a SQLite database of something else)", path
        )


NOT_STATE = "is not a loyaltyrules state file; give the state of an earlier run, or a new path"
_NOT_A_DATABASE = 26  # SQLITE_NOTADB: the file is not SQLite at all (a CSV, random bytes)


def _read_only_look(path: Path) -> tuple[int, set[str]]:
    """user_version and table names, read without taking any write lock.

    Only SQLite touches the file: a plain open() and close() of it would drop the
    POSIX locks this process's own connections hold on it (a run checks its state
    again while its ledger is open), letting another writer in; SQLite defers such
    closes while its connections hold locks. With no WAL beside it, no connection has
    the file open anywhere, this process included (an open WAL-mode connection keeps
    its -wal), so it is read as immutable: no locks, and no -wal or -shm file left
    next to a file that may not even be a state.
    """
    in_use = path.with_name(path.name + "-wal").exists()
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("" if in_use else "&immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        if isinstance(err, sqlite3.OperationalError) and _busy(err):
            raise  # locked by a writer: a real state in use, for the caller's busy timeout
        raise _unreadable(err, path) from None
    return version, tables


def _unreadable(err: sqlite3.DatabaseError, path: Path) -> UnusableState:
    code = getattr(err, "sqlite_errorcode", None)  # Python 3.11+
    if code == _NOT_A_DATABASE or (code is None and "not a database" in str(err)):
        return UnusableState("state.not-sqlite", NOT_STATE + " (it is not a SQLite file)", path)
    return UnusableState("state.damaged", f"cannot be read: damaged or truncated ({err})", path)


def _busy(err: sqlite3.OperationalError) -> bool:
    return "locked" in str(err) or "busy" in str(err)
