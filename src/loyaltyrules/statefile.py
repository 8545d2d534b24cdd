"""Where the state lives, and whether a file may be used as one, decided before any write.

`--state` names a SQLite file. A URL (`postgresql://...`) is refused: the ledger has
one backend today, and `locate` is where a database ledger will be chosen by its
scheme. `check_state` reads an existing file through a read-only connection, so a
file that is not a state (a CSV, random bytes, a truncated copy, another program's
database) or one written by a newer loyaltyrules is refused untouched: no journal
mode switched, no table created. The CLI maps `UnusableState` to exit status 3.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

__all__ = ["STATE_TABLES", "UnusableState", "check_state", "locate"]

# A state file holds the ledger or the point of sale's views (or both).
STATE_TABLES = ("actions", "customer_views")
# scheme://... or scheme:/... (what a URL becomes as a Path); one letter is a drive (C:)
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):(/|$)")


class UnusableState(Exception):
    """The state file cannot be used as given: a user's mistake, not a defect.

    `code` is `state.url`, `state.not-a-file`, `state.not-sqlite`, `state.damaged`,
    `state.not-a-state` or `state.newer-version`; `path` is the file as given.
    """

    def __init__(self, code: str, message: str, path: str | Path) -> None:
        self.code = code
        self.message = message
        self.path = str(path)
        super().__init__(f"[{code}] {self.path}: {message}")


def locate(state: str | Path) -> Path:
    """The local file a `--state` value names. A URL is refused by its scheme: this is
    where a database ledger (PostgreSQL, DESIGN section 6) will be chosen."""
    match = _URL.match(str(state))
    if match is None:
        return Path(state)
    scheme = match.group(1).lower()
    # Only the scheme is echoed: the rest of a URL may carry a password.
    raise UnusableState(
        "state.url",
        f"a {scheme} URL is not a state this release can use; --state takes the path "
        "of a SQLite file (e.g. loyaltyrules-state.sqlite)",
        f"{scheme}://...",
    )


def check_state(path: Path, newest: int) -> None:
    """Refuse `path` unless it is absent, empty, or a state file of schema <= `newest`."""
    if str(path) == ":memory:":
        return
    locate(path)
    if not path.exists():
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
            "state.not-a-state", _NOT_STATE + " (a SQLite database of something else)", path
        )


_NOT_STATE = "is not a loyaltyrules state file; give the state of an earlier run, or a new path"
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
        return UnusableState("state.not-sqlite", _NOT_STATE + " (it is not a SQLite file)", path)
    return UnusableState("state.damaged", f"cannot be read: damaged or truncated ({err})", path)


def _busy(err: sqlite3.OperationalError) -> bool:
    return "locked" in str(err) or "busy" in str(err)
