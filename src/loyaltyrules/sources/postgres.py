"""A PostgreSQL database as a data source: tables or views, streamed through Arrow.

    [source]
    data = "postgresql://reader@hq-db/retail"
    [source.tables.purchases]
    path = "pos.receipts"          # a table or view, schema-qualified or not

DuckDB has no PostgreSQL extension here (only its built-in ones), so the rows travel
the way SQLite's do: each table is read by a server-side cursor in batches of
`BATCH` rows, every value as text (`::text`, as a CSV is read), each batch handed
to DuckDB as an Arrow record batch of a stream, so memory holds one batch, never
the table. From there the same column mapping, checks and rejects apply as to
files. Timestamps with a time zone are rendered in the source's `timezone` (else
UTC) and read as that wall time. The fingerprint of a database source digests
every value read (the settings included), so any change to the rows changes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import duckdb

from ..config import SourceConfig
from .errors import UnusableInput
from .tables import LOAD_ORDER

if TYPE_CHECKING:
    import psycopg

    from .discover import SourceLayout, TableInput

__all__ = ["BATCH", "is_database", "postgres_inputs", "read_postgres", "shown"]

BATCH = 50_000  # rows per fetch and per Arrow batch
SCHEMES = ("postgresql://", "postgres://")


def is_database(data: object) -> bool:
    return str(data).startswith(SCHEMES)


def shown(url: str) -> str:
    """The URL without its password, for messages and rejects."""
    from ..state.postgres import PostgresState

    return str(PostgresState(url))


def _connect(config: SourceConfig) -> psycopg.Connection[Any]:
    url = str(config.url)
    try:
        import psycopg
    except ImportError:
        raise UnusableInput("input.unreadable-file", "a PostgreSQL source needs psycopg: "
                            "pip install 'loyaltyrules[postgres]'", file=shown(url)) from None
    try:
        conn = psycopg.connect(url, connect_timeout=10, application_name="loyaltyrules source")
    except psycopg.Error as err:
        lines = str(err).strip().splitlines() or [type(err).__name__]
        raise UnusableInput("input.unreadable-file", f"cannot connect: {lines[0]}",
                            file=shown(url)) from None
    conn.read_only = True
    conn.execute("SELECT set_config('TimeZone', %s, false)", (config.timezone or "UTC",))
    return conn


def postgres_inputs(config: SourceConfig) -> dict[str, TableInput]:
    """Each table found in the database: by its `path` setting, else by its name."""
    from .discover import TableInput

    with _connect(config) as conn:
        inputs: dict[str, TableInput] = {}
        for table in LOAD_ORDER:
            wanted = config.table(table).path or table
            found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (wanted,)).fetchone()
            if found and found[0]:
                inputs[table] = TableInput(table, "postgresql", (), wanted)
            elif config.table(table).path:
                raise UnusableInput("input.missing-table", f"no table or view {wanted!r}",
                                    table=table, file=shown(str(config.url)))
    return inputs


def read_postgres(con: duckdb.DuckDBPyConnection, item: TableInput, layout: SourceLayout,
                  config: SourceConfig) -> None:
    """`_src_<table>`: every row as text, with `_file` (the table's name) and `_row`."""
    import pyarrow as pa  # type: ignore[import-untyped]
    from psycopg import sql

    name = item.db_table or item.table
    relation = sql.Identifier(*name.split("."))
    digest = hashlib.sha256()
    with _connect(config) as conn:
        with conn.cursor() as probe:
            probe.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(relation))
            columns = [c.name for c in probe.description or ()]
        texts = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c))
                                   for c in columns)
        schema = pa.schema([(c, pa.string()) for c in columns] + [("_row", pa.int64())])
        with conn.cursor(name="loyaltyrules_source") as cursor:  # server-side: streamed
            cursor.itersize = BATCH
            cursor.execute(sql.SQL("SELECT {} FROM {}").format(texts, relation))
            batches = _batches(cursor, columns, schema, digest)
            con.register("_arrow_load", pa.RecordBatchReader.from_batches(schema, batches))
            try:
                listed = ", ".join(_ident(c) for c in columns)
                con.execute(f"CREATE OR REPLACE TABLE {_ident('_src_' + item.table)} AS "
                            f"SELECT {listed}{', ' if columns else ''}? AS _file, _row "
                            "FROM _arrow_load", [name])
            finally:
                con.unregister("_arrow_load")
    layout.digests[item.table] = digest.hexdigest()


def _batches(cursor: psycopg.ServerCursor[Any], columns: list[str], schema: Any,
             digest: Any) -> Iterator[Any]:
    import pyarrow as pa

    start = 1
    while rows := cursor.fetchmany(BATCH):
        values = [list(c) for c in zip(*rows, strict=True)] if columns else []
        for column in values:
            digest.update("\x1f".join("\x00" if v is None else v for v in column).encode())
        numbers = pa.array(range(start, start + len(rows)), pa.int64())
        yield pa.record_batch([*(pa.array(c, pa.string()) for c in values), numbers],
                              schema=schema)
        start += len(rows)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
