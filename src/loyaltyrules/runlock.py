"""One run at a time on a state: an operating-system lock beside a SQLite ledger, an
advisory lock of the server in a PostgreSQL one (state/postgres.py).

`run` and `export` hold it from before they read the ledger until the last output is
written and the point-of-sale views are rebuilt; a second one waits for it, up to a
bounded time, then gives up with `RunLockTimeout` having done nothing. The lock is
the kernel's (`flock` on POSIX, `msvcrt.locking` on Windows), or the server's: a
process that dies, even by `kill -9`, releases it, so a crash never leaves a stale
lock to clear by hand. On PostgreSQL a run of one store (`run --store S`) waits only
for runs of the same store and for runs of every store.

The POS (`serve`, `Engine`) does not take it: its writes are short SQLite
transactions that interleave safely with a run's, so checkout keeps answering while
a run holds the lock. See docs/ledger.md, One writer at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from .state import StateStore

__all__ = ["DEFAULT_TIMEOUT", "POLL", "RunLockTimeout", "file_lock", "lock_path", "run_lock"]

DEFAULT_TIMEOUT = 600.0  # seconds; `[run] lock_timeout`, `--lock-timeout`
POLL = 0.2  # seconds between attempts while waiting


class RunLockTimeout(Exception):
    """Another run still held the state when the wait ran out."""

    def __init__(self, state: str | Path, waited: float, holder: str) -> None:
        self.state, self.waited, self.holder = state, waited, holder
        super().__init__(f"another run ({holder}) still holds {state} after waiting "
                         f"{waited:g} s")


def lock_path(state: Path) -> Path:
    """`<state>.lock`, beside the ledger (kept after use: removing it would race)."""
    return state.with_name(state.name + ".lock")


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: IO[str]) -> bool:
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
else:
    import fcntl

    def _try_lock(handle: IO[str]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _holder(path: Path) -> str:
    """Who holds the lock, as the holder wrote it (pid and start time), best effort."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "a process that has not said who it is"


def _describe_self(handle: IO[str]) -> None:
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, started {started}")
    handle.flush()


def run_lock(state: StateStore | str | Path, timeout: float = DEFAULT_TIMEOUT,
             waiting: Callable[[str], None] = lambda _m: None,
             store: str | None = None) -> contextlib.AbstractContextManager[None]:
    """Hold the run lock of `state` (of `store` in it) for the block; wait up to
    `timeout` seconds for it.

    `waiting` is told once, with the holder's description, when the lock is busy.
    Raises RunLockTimeout when it stays busy.
    """
    from .statefile import as_state

    return as_state(state).run_lock(timeout, waiting, store)


@contextlib.contextmanager
def file_lock(state: Path, timeout: float = DEFAULT_TIMEOUT,
              waiting: Callable[[str], None] = lambda _m: None) -> Iterator[None]:
    """The run lock of a state file: `flock` of `<state>.lock` (see run_lock)."""
    path = lock_path(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    # "a": never truncates another holder's description before we hold the lock
    with open(path, "a+", encoding="utf-8") as handle:
        _acquire(handle, path, state, timeout, waiting)
        _describe_self(handle)
        yield
        # closing the file releases the lock (also when the process dies)


def _acquire(handle: IO[str], path: Path, state: Path, timeout: float,
             waiting: Callable[[str], None]) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while not _try_lock(handle):
        if not told:
            waiting(_holder(path))
            told = True
        if time.monotonic() >= deadline:
            raise RunLockTimeout(state, timeout, _holder(path))
        time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
