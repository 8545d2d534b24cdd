"""What every state store offers: a connection, write transactions, a run lock.

A state store holds the ledger, the outbox, the outcomes and the point of sale's
views. Two backends keep it: a SQLite file (one store, or a few on one machine) and a
PostgreSQL database (HQ: one ledger for many stores). The modules that keep state
write their SQL once, with `?` placeholders, in the SQL both understand; the few
things the two spell differently are asked of the connection's `Dialect`
(state/dialect.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

__all__ = ["SYNC_MODES", "Busy", "Connection", "Cursor", "StateStore", "UnusableState"]

# How a connection's commits reach the disk (docs/service.md, Durability): "full"
# waits for every commit to be flushed; "normal" keeps every commit through a crash
# of our process and may lose the last ones to an OS (SQLite) or server (PostgreSQL)
# crash.
SYNC_MODES = ("full", "normal")


class UnusableState(Exception):
    """The state cannot be used as given: a user's mistake, not a defect.

    `code` is `state.url`, `state.not-a-file`, `state.not-sqlite`, `state.damaged`,
    `state.not-a-state`, `state.newer-version`, `state.unreachable`, `state.no-schema`
    or `state.no-driver`; `path` is the state as given (a URL without its password).
    """

    def __init__(self, code: str, message: str, path: str | Path) -> None:
        self.code = code
        self.message = message
        self.path = str(path)
        super().__init__(f"[{code}] {self.path}: {message}")


class Busy(Exception):
    """A write that was told not to wait found the state locked; nothing was done."""


class Cursor(Protocol):
    """The part of a DB-API cursor the state modules use."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection to a state: `sqlite3.Connection`, or state.postgres.PgConnection."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...

    def close(self) -> None: ...


class StateStore(Protocol):
    """Where the state lives. `statefile.locate` makes one from a --state value."""

    @property
    def kind(self) -> str:
        """"sqlite" or "postgresql"."""
        ...

    def check(self, newest: int) -> None:
        """Refuse (UnusableState) a state this release cannot use, before any write."""
        ...

    def open(self, sync: str = "full") -> Connection:
        """A new connection (after `check`; ledger.connect_state does both)."""
        ...

    def exists(self) -> bool:
        """Whether anything was ever recorded here (a file, or the ledger's tables)."""
        ...

    def run_lock(self, timeout: float, waiting: Callable[[str], None],
                 store: str | None = None) -> contextlib.AbstractContextManager[None]:
        """One run at a time (of `store`, or of the whole ledger): see runlock.py."""
        ...
