"""Where a case's data lives: one in-memory DuckDB database per process, and a catalog
of its own for each case.

Opening a DuckDB database costs more than loading a case's few rows (16 ms: its
catalog, and the built-in extensions registering their functions), so a process opens
one and lends each case a connection of its own over a fresh in-memory catalog. The
connection's temporary tables, views and macros go when it closes, and the catalog,
with every table the case made, is detached when the case ends: no case sees another's
data. The database runs one thread: a case's few rows gain nothing from more, and
cases run side by side on worker processes already.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

_shared: tuple[int, duckdb.DuckDBPyConnection] | None = None  # (pid, database)
_numbers = itertools.count(1)
_open_cases = 0


def _database() -> duckdb.DuckDBPyConnection:
    """This process's database, opened on first use."""
    global _shared
    if _shared is None or _shared[0] != os.getpid():
        _shared = (os.getpid(), duckdb.connect(config={"threads": 1}))
    return _shared[1]


def _close_before_fork() -> None:
    """A DuckDB database is not to cross a fork (a forked child can hang on locks the
    parent's database holds): it is closed first, and reopened when next needed."""
    global _shared
    if _shared is not None and _shared[0] == os.getpid() and not _open_cases:
        _shared[1].close()
        _shared = None


os.register_at_fork(before=_close_before_fork)


@contextmanager
def case_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection over an empty catalog of its own, gone (with all it holds) on exit."""
    global _open_cases
    database = _database()
    catalog = f"lr_case_{next(_numbers)}"
    database.execute(f"ATTACH ':memory:' AS {catalog}")
    con = database.cursor()
    _open_cases += 1
    try:
        con.execute(f"USE {catalog}")
        con.execute("SET enable_progress_bar = false")
        yield con
    finally:
        _open_cases -= 1
        con.close()
        database.execute(f"DETACH {catalog}")
