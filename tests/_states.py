"""The states the ledger tests run on: a SQLite file, and a PostgreSQL schema of its own
when a server is given (LOYALTYRULES_TEST_POSTGRES=postgresql://...).

Without the variable the PostgreSQL cases skip with the reason; with
LOYALTYRULES_TEST_POSTGRES_REQUIRED=1 (set by .ci/run, which starts a server) a
missing server fails them instead, so CI never passes by skipping. Every case gets a
new schema in the server's database (`?options=-csearch_path=...`), dropped after it:
one server, one database, no case sees another's tables or locks.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from loyaltyrules.ledger import connect_state

PG_ENV = "LOYALTYRULES_TEST_POSTGRES"
REQUIRED_ENV = "LOYALTYRULES_TEST_POSTGRES_REQUIRED"
KINDS = ("sqlite", "postgresql")
NO_SERVER = (f"no PostgreSQL server to test against: set {PG_ENV}=postgresql://user@host/db "
             "(.ci/run starts one; docs/postgresql.md, Tests)")


def server() -> str:
    """The test server's URL, or a skip (a failure where one is required)."""
    url = os.environ.get(PG_ENV, "").strip()
    if url:
        return url
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(f"{REQUIRED_ENV}=1 but {PG_ENV} is not set")
    pytest.skip(NO_SERVER)


def in_schema(url: str, schema: str) -> str:
    """`url` with `schema` as the only schema of its search_path."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def new_schema() -> Iterator[str]:
    """A URL naming a new, empty schema, dropped afterwards with everything in it."""
    import psycopg

    url = server()
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield in_schema(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


@contextmanager
def new_state(kind: str, folder: Path, name: str = "state.sqlite") -> Iterator[str]:
    """A new, empty state of `kind`: a file in `folder`, or a schema of the server."""
    if kind == "sqlite":
        yield str(folder / name)
        return
    with new_schema() as url:
        yield url


def is_postgres(state: str | Path) -> bool:
    return str(state).startswith("postgresql://")


def rows(state: str | Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of a query on the state (`?` placeholders), read as the project reads it."""
    conn = connect_state(state)
    try:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def intact(state: str | Path) -> None:
    """SQLite's own check of the file (PostgreSQL checks its pages itself)."""
    if not is_postgres(state):
        with sqlite3.connect(state) as con:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def untouched(state: str | Path) -> bool:
    """Nothing was ever written to the state: no file, or no table in the schema."""
    if not is_postgres(state):
        return not Path(state).exists()
    import psycopg

    with psycopg.connect(str(state)) as conn:
        return conn.execute("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND "
                            "relnamespace = current_schema()::regnamespace").fetchone() == (0,)
