"""Ingest once: the checked rows of every input file, kept in a DuckDB database beside
the state, so a night reads and checks only the files that are new or changed.

The store (`<state>.ingest.duckdb`) holds, per table, each file's rows as the row
checks typed them (`ingest_typed_<table>`, with their problems but before the
future-date check, which depends on the night), the lines no reader could read
(`ingest_read_rejects`), and each file's fingerprint (`ingest_files`: size, mtime and,
for files up to CONTENT_HASH_BYTES, a sha256 of the content). A night:

1. compares the source's files with the fingerprints: a removed or changed file's rows
   leave the store, a new or changed file is read and checked and its rows go in (one
   transaction, so a killed run leaves the store as it was);
2. when nothing changed and the night's evaluation limit rejects no more dates than
   the last one did, the clean tables and rejects the last night left are used as
   they are (`ingest_result`);
3. otherwise the checks across rows and files (duplicates, references, receipts) run
   over every file's stored rows, as a full load runs them, and the clean tables are
   kept for the next night.

So the clean tables, rejects and counts are those a full load gives: the same SQL
runs on the same typed rows (tests/test_ingest_store.py). Only directory sources are
kept (CSV, JSON Lines, Parquet files); a SQLite or PostgreSQL source, or customers
derived from purchases, are loaded in full every time, as without a store. A store
that another process holds open is not waited for: that night loads in full.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from loyaltyrules import __version__
from loyaltyrules.config import TABLE_NAMES as CLEAN_TABLES
from loyaltyrules.config import SourceConfig
from loyaltyrules.sources.checks import (
    finish_typing,
    future_columns,
    keep_rows,
    project,
    type_rows,
)
from loyaltyrules.sources.discover import SourceLayout, TableInput, content_hash
from loyaltyrules.sources.finish import empty_ok_table
from loyaltyrules.sources.readers import read_table
from loyaltyrules.sources.rejects import create_rejects_table
from loyaltyrules.sources.sql import ident, scalars
from loyaltyrules.sources.tables import LOAD_ORDER, SPECS

STORE_FORMAT = 1  # bump when the stored rows' meaning changes: old stores are rebuilt
CONTENT_HASH_BYTES = 64 << 20  # a daily file is hashed; a 10M-row history is not
_FILES_DDL = """CREATE TABLE IF NOT EXISTS kept.ingest_files (
    table_name VARCHAR, file VARCHAR, size BIGINT, mtime_ns BIGINT, sha256 VARCHAR)"""
_RESULT_DDL = """CREATE TABLE IF NOT EXISTS kept.ingest_result (
    as_of_limit DATE, latest DATE, read VARCHAR, info VARCHAR)"""
_READ_REJECTS = "kept.ingest_read_rejects"


@dataclass(frozen=True)
class Fingerprint:
    size: int
    mtime_ns: int
    sha256: str | None


@dataclass(frozen=True)
class Kept:
    """What the store gave: the connection holding the clean tables, rows read per table,
    and whether the last night's clean tables were used as they were."""

    connection: duckdb.DuckDBPyConnection
    read: dict[str, int]
    info: dict[str, dict[str, int]] | None  # the checks across rows: None until they ran


def store_path(state: Path, store: str | None = None) -> Path:
    """Beside the state file; one per store of a shared ledger (their runs may overlap)."""
    suffix = f".ingest-{store}.duckdb" if store else ".ingest.duckdb"
    return state.with_name(state.name + suffix)


def keeps(layout: SourceLayout, config: SourceConfig) -> bool:
    """Only files are kept: a database source is read in full, as it is today."""
    formats = {item.format for item in layout.inputs.values()}
    derived = bool(config.table("customers").derive_from) and "customers" not in layout.inputs
    return config.url is None and not derived and formats <= {"csv", "parquet", "json"}


def open_store(path: Path) -> duckdb.DuckDBPyConnection | None:
    """A connection with the store attached as `kept`, or None when another process
    holds it (that night loads in full). The night's work runs in memory, as a full
    load's does; only the kept rows and the clean tables are read from or written to it."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        con.execute("ATTACH ? AS kept", [str(path)])
    except (duckdb.IOException, duckdb.BinderException):  # another process; this one's
        # earlier load still open (a host running several nights in one process)
        con.close()
        return None
    return con


def load(con: duckdb.DuckDBPyConnection, layout: SourceLayout, config: SourceConfig,
         as_of_limit: dt.date | None) -> Kept:
    """Bring the store up to date with the source's files and leave `_ok_<table>` (or,
    when nothing changed, the last clean tables) and `rejects` in `con`."""
    _reset_if_other(con, _settings_key(config))
    current = _current_files(layout, config)
    removed, added = _changes(con, current, layout)
    create_rejects_table(con)
    if not removed and not added and (last := _reusable(con, as_of_limit)):
        for table in (*CLEAN_TABLES, "rejects"):
            con.execute(f"CREATE OR REPLACE TABLE {ident(table)} AS FROM kept.{ident(table)}")
        return Kept(con, *last)
    con.execute("DELETE FROM kept.ingest_result")
    _update(con, layout, config, removed, added, current)
    return Kept(con, _assemble(con, layout, as_of_limit), None)


def remember(con: duckdb.DuckDBPyConnection, as_of_limit: dt.date | None,
             read: dict[str, int], info: dict[str, dict[str, int]]) -> None:
    """After the checks across files: the clean tables stand for this night's limit."""
    for table in (*CLEAN_TABLES, "rejects"):
        con.execute(f"CREATE OR REPLACE TABLE kept.{ident(table)} AS FROM {ident(table)}")
    con.execute("INSERT INTO kept.ingest_result VALUES (?, ?, ?, ?)",
                [as_of_limit, _latest(con), json.dumps(read), json.dumps(info)])
    con.execute("CHECKPOINT kept")


# -- what changed ------------------------------------------------------------------


def _settings_key(config: SourceConfig) -> str:
    """Mappings, defaults, formats and checks: a change re-reads every file."""
    settings = asdict(config)
    settings["data"] = settings["url"] = None  # the same files moved keep their rows
    settings["format"] = [STORE_FORMAT, __version__]
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _reset_if_other(con: duckdb.DuckDBPyConnection, settings: str) -> None:
    """Other mappings, checks or store format: every file is read again."""
    con.execute(_FILES_DDL)
    con.execute(_RESULT_DDL)
    con.execute("CREATE TABLE IF NOT EXISTS kept.ingest_settings (settings VARCHAR)")
    row = con.execute("SELECT settings FROM kept.ingest_settings").fetchone()
    if row is not None and row[0] == settings:
        return
    _drop_kept(con)
    con.execute("DELETE FROM kept.ingest_settings")
    con.execute("INSERT INTO kept.ingest_settings VALUES (?)", [settings])


def _drop_kept(con: duckdb.DuckDBPyConnection) -> None:
    for table in LOAD_ORDER:
        con.execute(f"DROP TABLE IF EXISTS {_typed(table)}")
    con.execute(f"DROP TABLE IF EXISTS {_READ_REJECTS}")
    con.execute("DELETE FROM kept.ingest_files")
    con.execute("DELETE FROM kept.ingest_result")


def _current_files(layout: SourceLayout, config: SourceConfig) -> dict[tuple[str, str], Path]:
    return {(table, layout.display(f)): f
            for table, item in layout.inputs.items() for f in item.files}


def _fingerprint(file: Path, hashed: bool) -> Fingerprint:
    stat = file.stat()
    digest = _sha256(file) if hashed or stat.st_size <= CONTENT_HASH_BYTES else None
    return Fingerprint(stat.st_size, stat.st_mtime_ns, digest)


def _sha256(file: Path) -> str:
    return content_hash(file).hex()


def _changes(con: duckdb.DuckDBPyConnection, current: dict[tuple[str, str], Path],
             layout: SourceLayout) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(files whose rows leave the store, files to read): a changed file is both."""
    stored = {(t, f): Fingerprint(s, m, h) for t, f, s, m, h in con.execute(
        "SELECT table_name, file, size, mtime_ns, sha256 FROM kept.ingest_files").fetchall()}
    removed = {key for key in stored if key not in current}
    added = {key for key in current if key not in stored}
    for key in set(stored) & set(current):
        if not _same(stored[key], current[key], con, key):
            removed.add(key)
            added.add(key)
    return removed, added


def _same(old: Fingerprint, file: Path, con: duckdb.DuckDBPyConnection,
          key: tuple[str, str]) -> bool:
    """Same size and mtime; or, for a touched or copied file, the same content."""
    stat = file.stat()
    if stat.st_size != old.size:
        return False
    if stat.st_mtime_ns == old.mtime_ns:
        return True
    if old.sha256 is None or _sha256(file) != old.sha256:
        return False
    con.execute("UPDATE kept.ingest_files SET mtime_ns = ? WHERE table_name = ? AND file = ?",
                [stat.st_mtime_ns, *key])
    return True


def _reusable(con: duckdb.DuckDBPyConnection, as_of_limit: dt.date | None
              ) -> tuple[dict[str, int], dict[str, dict[str, int]]] | None:
    """The last night's rows read and duplicates, when its clean tables hold for this
    night's limit: the same limit, or no date in the data after either limit."""
    row = con.execute("SELECT as_of_limit, latest, read, info FROM kept.ingest_result"
                      ).fetchone()
    if row is None:
        return None
    last_limit, latest = row[0], row[1]
    same = last_limit == as_of_limit
    beyond = latest is None or all(limit is None or limit >= latest
                                   for limit in (last_limit, as_of_limit))
    return (json.loads(row[2]), json.loads(row[3])) if same or beyond else None


# -- updating and assembling ----------------------------------------------------------


def _update(con: duckdb.DuckDBPyConnection, layout: SourceLayout, config: SourceConfig,
            removed: set[tuple[str, str]], added: set[tuple[str, str]],
            current: dict[tuple[str, str], Path]) -> None:
    """New files are read and checked first; then one transaction replaces the rows, so
    a killed run leaves the store as the last night left it."""
    new = {table: sorted(current[k] for k in added if k[0] == table) for table in LOAD_ORDER}
    for table, files in new.items():
        if files:
            _read_new(con, layout, config, layout.inputs[table], files)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS {_READ_REJECTS} AS FROM rejects LIMIT 0")
        for table, file in sorted(removed):
            _forget(con, table, file)
        for table, files in new.items():
            if files:
                _keep_new(con, layout, config, table, files)
        con.execute(f"INSERT INTO {_READ_REJECTS} FROM rejects")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _typed(table: str) -> str:
    return f"kept.{ident('ingest_typed_' + table)}"


def _forget(con: duckdb.DuckDBPyConnection, table: str, file: str) -> None:
    if _exists(con, table):
        con.execute(f"DELETE FROM {_typed(table)} WHERE _file = ?", [file])
    con.execute(f"DELETE FROM {_READ_REJECTS} WHERE table_name = ? AND file = ?", [table, file])
    con.execute("DELETE FROM kept.ingest_files WHERE table_name = ? AND file = ?", [table, file])


def _read_new(con: duckdb.DuckDBPyConnection, layout: SourceLayout, config: SourceConfig,
              item: TableInput, files: list[Path]) -> None:
    """Read and check the new files of one table into `_typed_new_<table>`; lines no
    reader could read go to `rejects`."""
    cfg = config.table(item.table)
    src = read_table(con, TableInput(item.table, item.format, tuple(files)), layout,
                     cfg.delimiter)
    spec = SPECS[item.table]
    project(con, spec, src, cfg)
    type_rows(con, spec, cfg, config.currency)
    con.execute(f"ALTER TABLE {ident('_typed_' + spec.name)} "
                f"RENAME TO {ident('_typed_new_' + spec.name)}")


def _keep_new(con: duckdb.DuckDBPyConnection, layout: SourceLayout, config: SourceConfig,
              table: str, files: list[Path]) -> None:
    new = ident("_typed_new_" + table)
    if _exists(con, table):
        con.execute(f"INSERT INTO {_typed(table)} BY NAME FROM {new}")
    else:
        con.execute(f"CREATE TABLE {_typed(table)} AS FROM {new}")
    hashed = config.fingerprint == "content"
    for file in files:
        mark = _fingerprint(file, hashed)
        con.execute("INSERT INTO kept.ingest_files VALUES (?, ?, ?, ?, ?)",
                    [table, layout.display(file), mark.size, mark.mtime_ns, mark.sha256])


def _assemble(con: duckdb.DuckDBPyConnection, layout: SourceLayout,
              as_of_limit: dt.date | None) -> dict[str, int]:
    """Every file's rows, as a full load leaves them after the row checks."""
    create_rejects_table(con)
    con.execute(f"INSERT INTO rejects FROM {_READ_REJECTS}")
    read = {}
    for table in LOAD_ORDER:
        spec = SPECS[table]
        if table not in layout.inputs or not _exists(con, table):
            empty_ok_table(con, spec)
            continue
        finish_typing(con, spec, as_of_limit, _typed(table))
        keep_rows(con, spec)
        read[table] = scalars(con, f"SELECT count(*) FROM {_typed(table)}")[0] + scalars(
            con, f"SELECT count(*) FROM {_READ_REJECTS} WHERE table_name = ?", [table])[0]
    return read


def _latest(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The latest date a future-date check could reject, over every kept row."""
    parts = [f"SELECT max(CAST({ident(c.name)} AS DATE)) AS d FROM {_typed(t)}"
             for t in LOAD_ORDER if _exists(con, t) for c in future_columns(SPECS[t])]
    if not parts:
        return None
    row = con.execute(f"SELECT max(d) FROM ({' UNION ALL '.join(parts)})").fetchone()
    return row[0] if row else None


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the store holds rows of `table` yet."""
    return bool(scalars(con, "SELECT count(*) FROM information_schema.tables WHERE "
                             "table_catalog = 'kept' AND table_name = ?",
                        ["ingest_typed_" + table])[0])
