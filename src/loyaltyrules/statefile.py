"""Where the state lives, and whether it may be used, decided before any write.

`--state` (or `[state] url`, `[run] state`) names a SQLite file, or a PostgreSQL
database by URL (`postgresql://user@host/db`). `locate` is the one place that tells
them apart, by the scheme; any other URL is refused. `check_state` refuses a state
this release cannot use (not a state, damaged, written by a newer loyaltyrules, an
unreachable server) untouched. The CLI maps `UnusableState` to exit status 3.
"""

from __future__ import annotations

import re
from pathlib import Path

from .state import StateStore
from .state.base import UnusableState
from .state.postgres import PostgresState
from .state.sqlite import STATE_TABLES, SqliteState

__all__ = ["STATE_TABLES", "UnusableState", "as_state", "check_state", "locate"]

# scheme://... or scheme:/... (what a URL becomes as a Path); one letter is a drive (C:)
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):(/|$)")
DATABASE_SCHEMES = ("postgresql", "postgres")


def locate(state: str | Path) -> StateStore:
    """The state a `--state` value names: a PostgreSQL database by its URL, else a
    SQLite file. A URL of any other scheme is refused."""
    text = str(state)
    match = _URL.match(text)
    if match is None:
        return SqliteState(Path(state))
    scheme = match.group(1).lower()
    if scheme in DATABASE_SCHEMES and text[len(scheme):].startswith("://"):
        return PostgresState(text)
    # Only the scheme is echoed: the rest of a URL may carry a password.
    raise UnusableState(
        "state.url",
        f"a {scheme} URL is not a state loyaltyrules can use; --state takes the path "
        "of a SQLite file (e.g. loyaltyrules-state.sqlite) or a postgresql:// URL",
        f"{scheme}://...",
    )


def as_state(state: StateStore | str | Path) -> StateStore:
    """A state store, from a store or a `--state` value."""
    return locate(state) if isinstance(state, (str, Path)) else state


def check_state(state: StateStore | str | Path, newest: int) -> None:
    """Refuse `state` unless it is new, empty, or a state of schema <= `newest`."""
    as_state(state).check(newest)
