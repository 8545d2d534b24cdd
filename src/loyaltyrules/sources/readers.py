"""Load one table's files into `_src_<table>`: every source column as VARCHAR, plus
`_file` (name relative to the source) and `_row` (1-based data row within its file).

Lines that cannot be read at all (wrong column count, bad quoting, invalid UTF-8,
invalid JSON) go straight to `rejects`; typing happens later, in SQL.
"""

from __future__ import annotations

import gzip
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import duckdb

from loyaltyrules.sources.discover import SourceLayout, TableInput
from loyaltyrules.sources.errors import UnusableInput
from loyaltyrules.sources.postgres import read_postgres
from loyaltyrules.sources.rejects import MAX_LINE_BYTES
from loyaltyrules.sources.sql import ident, lit, scalars

_SAMPLE_LINES = 20_480  # DuckDB's sniffer reads this many rows


@dataclass(frozen=True)
class SourceTable:
    table: str
    columns: tuple[str, ...]  # the source's own column names
    rows_read: int


def read_table(
    con: duckdb.DuckDBPyConnection,
    item: TableInput,
    layout: SourceLayout,
    delimiter: str | None = None,
) -> SourceTable:
    reader: Callable[..., None] = _READERS[item.format]
    try:
        reader(con, item, layout, delimiter)
    except duckdb.Error as exc:
        raise UnusableInput(
            "input.unreadable-file",
            f"cannot read the file: {_first_line(exc)}",
            table=item.table,
            file=layout.display(item.files[0]) if item.files else item.db_table,
        ) from exc
    src = f"_src_{item.table}"
    columns = tuple(c for c in _columns(con, src) if c not in ("_file", "_row"))
    kept = _scalar(con, f"SELECT count(*) FROM {src}")
    broken = _scalar(con, "SELECT count(*) FROM rejects WHERE table_name = ?", [item.table])
    return SourceTable(item.table, columns, kept + broken)


def _first_line(exc: Exception) -> str:
    # DuckDB messages may quote a whole line of the file; keep only the summary.
    return str(exc).splitlines()[0][:200]


def _scalar(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None) -> int:
    return scalars(con, query, params)[0]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {ident(table)}").fetchall()]


# -- CSV ---------------------------------------------------------------------------


def _read_csv(
    con: duckdb.DuckDBPyConnection, item: TableInput, layout: SourceLayout, delimiter: str | None
) -> None:
    parts = []
    for index, files in enumerate(_header_groups(item.files)):
        part = f"_part_{index}"
        _read_csv_group(con, item.table, files, layout, delimiter, part)
        parts.append(part)
    _union_parts(con, item.table, parts)


def _line_reason(other: str) -> str:
    """The reason for a line DuckDB could not read, from its error types."""
    return f"""CASE WHEN bool_or(error_type = 'INVALID ENCODING') THEN 'bad-encoding'
                    WHEN bool_or(error_type = 'LINE SIZE OVER MAXIMUM') THEN 'line-too-long'
                    ELSE {lit(other)} END"""


def _open_bytes(file: Path) -> IO[bytes]:
    if file.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(file, "rb"))
    return file.open("rb")


def _header_groups(files: tuple[Path, ...]) -> list[list[Path]]:
    """Files with the same header line are read in one scan (DuckDB needs one schema)."""
    groups: dict[bytes, list[Path]] = {}
    for file in files:
        if file.stat().st_size == 0:
            continue
        with _open_bytes(file) as fh:
            header = fh.readline(MAX_LINE_BYTES).rstrip(b"\r\n")
        groups.setdefault(header, []).append(file)
    return list(groups.values())


def _read_csv_group(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: list[Path],
    layout: SourceLayout,
    delimiter: str | None,
    part: str,
) -> None:
    try:
        _scan_csv(con, files, {"delim": delimiter} if delimiter else {})
    except duckdb.InvalidInputException as exc:
        if "Maximum line size" not in str(exc):
            raise
        # DuckDB's sniffer gives up on an over-long line in its sample: sniff the
        # other lines, then scan with that dialect, where the line is one reject.
        _scan_csv(con, files, _dialect_of_short_lines(con, files[0], delimiter))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _bad AS
            SELECT file_id::BIGINT AS _fi, line::BIGINT - 1 AS _row,
                   {_line_reason("malformed-line")} AS reason
            FROM _csv_errors GROUP BY ALL"""
    )
    _number_rows(con, files, layout, table, part)


def _scan_csv(con: duckdb.DuckDBPyConnection, files: list[Path], options: dict[str, Any]) -> None:
    """All files into `_load`, as text; lines DuckDB cannot read go to `_csv_errors`."""
    con.execute("DROP TABLE IF EXISTS _csv_errors; DROP TABLE IF EXISTS _csv_scans")
    named = "".join(f", {name} = ${name}" for name in options if name != "columns")
    if "columns" in options:  # a struct literal: DuckDB takes no parameter here
        listed = ", ".join(f"{lit(c)}: 'VARCHAR'" for c in options["columns"])
        named += f", columns = {{{listed}}}"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _load AS
            SELECT *, file_index AS _fi FROM read_csv($files, all_varchar = true, header = true,
                max_line_size = {MAX_LINE_BYTES:d}, store_rejects = true,
                rejects_table = '_csv_errors', rejects_scan = '_csv_scans'{named})""",
        {"files": [str(f) for f in files]} | {k: v for k, v in options.items() if k != "columns"},
    )


def _dialect_of_short_lines(
    con: duckdb.DuckDBPyConnection, file: Path, delimiter: str | None
) -> dict[str, Any]:
    """The CSV dialect DuckDB sniffs from the file's first lines that fit the limit."""
    with tempfile.TemporaryDirectory(prefix="loyaltyrules-sniff-") as folder:
        sample = Path(folder) / "sample.csv"
        with _open_bytes(file) as source, sample.open("wb") as out:
            for line in _short_lines(source, _SAMPLE_LINES):
                out.write(line)
        given = ", delim = $delim" if delimiter else ""
        row = con.execute(
            f"""SELECT Delimiter, Quote, Escape, NewLineDelimiter, Columns
                FROM sniff_csv($sample, header = true, all_varchar = true{given})""",
            {"sample": str(sample)} | ({"delim": delimiter} if delimiter else {}),
        ).fetchone()
    assert row is not None  # sniff_csv returns one row or raises
    delim, quote, escape, new_line, columns = row
    blank = {"(empty)": ""}
    return {
        "auto_detect": False,
        "delim": delim,
        "quote": blank.get(quote, quote),
        "escape": blank.get(escape, escape),
        "new_line": new_line,
        "columns": [c["name"] for c in columns],
    }


def _short_lines(source: IO[bytes], wanted: int) -> Iterator[bytes]:
    """Up to `wanted` lines that fit the line limit; longer ones are skipped, never held."""
    while wanted > 0 and (line := source.readline(MAX_LINE_BYTES + 1)):
        if len(line) <= MAX_LINE_BYTES:
            yield line
            wanted -= 1
            continue
        while line and not line.endswith(b"\n"):  # the rest of the long line
            line = source.readline(MAX_LINE_BYTES)


def _number_rows(
    con: duckdb.DuckDBPyConnection, files: list[Path], layout: SourceLayout, table: str, part: str
) -> None:
    """Give each kept row its data row number, counting the rejected lines before it.

    Kept row k (in scan order) sits at row r = k + #{rejected rows j_i with j_i - i < k},
    where j_i is the i-th rejected row of the file; an ASOF join finds that count.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE _names (_fi BIGINT, _file VARCHAR)")
    con.executemany(
        "INSERT INTO _names VALUES (?, ?)", [[i, layout.display(f)] for i, f in enumerate(files)]
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {part} AS
        WITH firsts AS (SELECT _fi, min(rowid) AS first_id FROM _load GROUP BY _fi),
        kept AS (SELECT l.*, l.rowid - f.first_id + 1 AS _k FROM _load l JOIN firsts f USING (_fi)),
        ranked AS (SELECT _fi, _row, row_number() OVER (PARTITION BY _fi ORDER BY _row) AS n
                   FROM _bad),
        steps AS (SELECT _fi, _row - n AS step, max(n) AS n FROM ranked GROUP BY ALL)
        SELECT k.* EXCLUDE (_k, _fi), names._file, k._k + coalesce(s.n, 0) AS _row
        FROM kept k ASOF LEFT JOIN steps s ON k._fi = s._fi AND k._k > s.step
        JOIN _names names ON names._fi = k._fi"""
    )
    con.execute(
        """INSERT INTO rejects (table_name, file, "row", reason, severity, ids)
           SELECT ?, n._file, b._row, b.reason, 'error', MAP {}
           FROM _bad b JOIN _names n USING (_fi)""",
        [table],
    )


def _union_parts(con: duckdb.DuckDBPyConnection, table: str, parts: list[str]) -> None:
    src = ident(f"_src_{table}")
    if not parts:
        con.execute(f"CREATE OR REPLACE TABLE {src} (_file VARCHAR, _row BIGINT)")
        return
    union = " UNION ALL BY NAME ".join(f"SELECT * FROM {p}" for p in parts)
    con.execute(f"CREATE OR REPLACE TABLE {src} AS {union}")
    for part in parts:
        con.execute(f"DROP TABLE {part}")


# -- Parquet -----------------------------------------------------------------------


def _read_parquet(
    con: duckdb.DuckDBPyConnection, item: TableInput, layout: SourceLayout, _delimiter: str | None
) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _names (_fi BIGINT, _file VARCHAR)")
    con.executemany(
        "INSERT INTO _names VALUES (?, ?)",
        [[i, layout.display(f)] for i, f in enumerate(item.files)],
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE {ident("_src_" + item.table)} AS
            SELECT CAST(COLUMNS(* EXCLUDE (file_row_number, _fi)) AS VARCHAR),
                   n._file, file_row_number + 1 AS _row
            FROM (SELECT *, file_index AS _fi
                  FROM read_parquet($files, file_row_number = true, union_by_name = true)) p
            JOIN _names n USING (_fi)""",
        {"files": [str(f) for f in item.files]},
    )


# -- JSON Lines --------------------------------------------------------------------


def _read_json(
    con: duckdb.DuckDBPyConnection, item: TableInput, layout: SourceLayout, _delimiter: str | None
) -> None:
    """Each line is read as one text value (a record separator never occurs in valid
    JSON), so line numbers survive and a bad line becomes a reject, not an error."""
    con.execute("DROP TABLE IF EXISTS _csv_errors; DROP TABLE IF EXISTS _csv_scans")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _load AS
           SELECT _line, file_index AS _fi FROM read_csv($files, columns = {{'_line': 'VARCHAR'}},
               header = false, delim = '\x1e', quote = '', escape = '', auto_detect = false,
               new_line = '\\n', strict_mode = false, max_line_size = {MAX_LINE_BYTES:d},
               store_rejects = true, rejects_table = '_csv_errors', rejects_scan = '_csv_scans')""",
        {"files": [str(f) for f in item.files]},
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _bad AS
           SELECT file_id::BIGINT AS _fi, line::BIGINT AS _row,  -- no header: row = line
                  {_line_reason("bad-encoding")} AS reason
           FROM _csv_errors GROUP BY ALL"""
    )
    part = "_part_json"
    _number_rows(con, list(item.files), layout, item.table, part)
    _json_to_columns(con, item.table, part)


def _json_to_columns(con: duckdb.DuckDBPyConnection, table: str, part: str) -> None:
    con.execute(f"DELETE FROM {part} WHERE _line IS NULL OR trim(_line) = ''")
    con.execute(
        f"""INSERT INTO rejects (table_name, file, "row", reason, severity, ids)
            SELECT ?, _file, _row, 'malformed-line', 'error', MAP {{}} FROM {part}
            WHERE NOT json_valid(_line) OR json_type(_line::JSON) <> 'OBJECT'""",
        [table],
    )
    con.execute(f"""DELETE FROM {part}
                    WHERE NOT json_valid(_line) OR json_type(_line::JSON) <> 'OBJECT'""")
    keys = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT unnest(json_keys(_line)) AS k FROM {part} ORDER BY k"
        ).fetchall()
    ]
    fields = "".join(
        f", json_extract_string(_line, {lit('$.' + _json_key(k))}) AS {ident(k)}" for k in keys
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {ident('_src_' + table)} AS "
        f"SELECT _file, _row{fields} FROM {part}"
    )
    con.execute(f"DROP TABLE {part}")


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- SQLite ------------------------------------------------------------------------


def _read_sqlite(
    con: duckdb.DuckDBPyConnection, item: TableInput, layout: SourceLayout, _delimiter: str | None
) -> None:
    """SQLite rows travel as bytes in Arrow batches; DuckDB decodes them, so text that
    is not UTF-8 becomes a `bad-encoding` reject instead of a Python exception."""
    import pyarrow as pa  # type: ignore[import-untyped]

    db, name = item.files[0], item.db_table or item.table
    columns, batches = _sqlite_batches(db, name)
    schema = pa.schema([(c, pa.binary()) for c in columns] + [("_row", pa.int64())])
    arrow = pa.Table.from_batches(
        [
            pa.record_batch([*map(pa.array, cols), pa.array(rows)], schema=schema)
            for cols, rows in batches
        ],
        schema=schema,
    )
    con.register("_arrow_load", arrow)
    try:
        _decode_sqlite(con, item.table, columns, layout.display(db))
    finally:
        con.unregister("_arrow_load")


def _sqlite_batches(
    db: Path, name: str, size: int = 50_000
) -> tuple[list[str], list[tuple[list[Any], list[int]]]]:
    uri = f"{db.resolve().as_uri()}?mode=ro"
    with sqlite3.connect(uri, uri=True) as sq:
        columns = [r[1] for r in sq.execute(f"PRAGMA table_info({ident(name)})")]
        select = ", ".join(f"CAST({ident(c)} AS BLOB)" for c in columns)
        cursor = sq.execute(f"SELECT {select} FROM {ident(name)}")
        return columns, list(_batches(cursor, len(columns), size))


def _batches(
    cursor: sqlite3.Cursor, width: int, size: int
) -> Iterator[tuple[list[Any], list[int]]]:
    start = 1
    while rows := cursor.fetchmany(size):
        cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
        yield cols, list(range(start, start + len(rows)))
        start += len(rows)


def _decode_sqlite(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str], file: str
) -> None:
    decoded = ", ".join(f"TRY(decode({ident(c)})) AS {ident(c)}" for c in columns)
    broken = (
        " OR ".join(
            f"({ident(c)} IS NOT NULL AND TRY(decode({ident(c)})) IS NULL)" for c in columns
        )
        or "false"
    )
    con.execute(
        f"""INSERT INTO rejects (table_name, file, "row", reason, severity, ids)
            SELECT ?, ?, _row, 'bad-encoding', 'error', MAP {{}} FROM _arrow_load
            WHERE {broken}""",
        [table, file],
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE {ident("_src_" + table)} AS
            SELECT {decoded}{", " if columns else ""}{lit(file)} AS _file, _row
            FROM _arrow_load WHERE NOT ({broken})"""
    )


def _read_postgres(con: duckdb.DuckDBPyConnection, item: TableInput, layout: SourceLayout,
                   _delimiter: str | None) -> None:
    assert layout.source is not None  # a database layout carries its configuration
    read_postgres(con, item, layout, layout.source)


_READERS: dict[str, Callable[..., None]] = {
    "csv": _read_csv,
    "parquet": _read_parquet,
    "json": _read_json,
    "sqlite": _read_sqlite,
    "postgresql": _read_postgres,
}
