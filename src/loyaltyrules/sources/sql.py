"""Quoting for the few names that reach SQL text (source column names, table names).

Values never reach SQL text: they are bound as parameters.
"""

from __future__ import annotations

from typing import Any

import duckdb


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scalars(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None
) -> tuple[int, ...]:
    """The first row as ints (NULL -> 0); fetches everything so no result stays open."""
    rows = con.execute(query, params or []).fetchall()
    return tuple(int(v or 0) for v in rows[0]) if rows else (0,)
