"""open_source: discover, read, check, and hand back clean DuckDB tables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from loyaltyrules.config import (
    CONFIG_FILE,
    TABLE_NAMES,
    Config,
    SourceConfig,
    TableConfig,
    load_config,
)
from loyaltyrules.sources import ingest, integrity
from loyaltyrules.sources.checks import CheckContext, check_rows, project
from loyaltyrules.sources.derive import derive_customers
from loyaltyrules.sources.discover import SQLITE_SUFFIXES, SourceLayout, discover, fingerprint
from loyaltyrules.sources.errors import UnusableInput
from loyaltyrules.sources.finish import create_clean_tables, empty_ok_table
from loyaltyrules.sources.postgres import is_database
from loyaltyrules.sources.readers import read_table
from loyaltyrules.sources.rejects import (
    RejectRecord,
    TableCounts,
    create_rejects_table,
    fill_messages,
    iter_rejects,
    write_rejects,
)
from loyaltyrules.sources.sql import scalars
from loyaltyrules.sources.tables import LOAD_ORDER, SPECS

_STAGING = (
    "_src_",
    "_raw_",
    "_typed_",
    "_ok_",
    "_load",
    "_bad",
    "_names",
    "_dupes",
    "_conflicts",
    "_csv_",
    "_reason_text",
    "_part_",
)
CLEAN_TABLES = TABLE_NAMES  # every canonical table exists after loading, empty if absent


@dataclass
class LoadedSource:
    """The clean input tables, held by `connection`, and what was rejected on the way.

    `present` names the tables the source actually gave; the others exist empty.
    """

    connection: duckdb.DuckDBPyConnection
    config: SourceConfig
    present: frozenset[str]
    counts: dict[str, TableCounts]
    input_fingerprint: str
    files: tuple[str, ...] = field(default=())

    def rejects(self) -> list[RejectRecord]:
        return list(self.iter_rejects())

    def iter_rejects(self) -> Iterator[RejectRecord]:
        return iter_rejects(self.connection)

    def write_rejects(self, path: str | Path) -> int:
        return write_rejects(self.connection, Path(path))

    @property
    def reject_total(self) -> int:
        return sum(sum(c.by_reason.values()) for c in self.counts.values())


def open_source(
    source: str | Path | SourceConfig | Config | None = None,
    as_of_limit: date | None = None,
    *,
    rejects_path: str | Path | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
    store: Path | None = None,
) -> LoadedSource:
    """Load a source into clean tables; raise UnusableInput when it cannot be used.

    `source` is a data directory, a SQLite file, a PostgreSQL URL, a
    `loyaltyrules.toml`, a directory holding one, or a parsed configuration. Rows
    dated after `as_of_limit` are rejected as `future-date`. With `rejects_path`,
    rejects are written there even when too many of them make the input unusable.
    With `store`, a folder of files is read once: that DuckDB database keeps the
    checked rows and reads only new or changed files (sources/ingest.py).
    """
    config = resolve_config(source)
    layout = discover(config)
    if store is not None and connection is None and ingest.keeps(layout, config):
        kept = ingest.open_store(store)
        if kept is not None:
            return _from_store(kept, layout, config, as_of_limit, rejects_path)
    con = connection or _quiet_connection()
    create_rejects_table(con)
    srcs = {
        t: read_table(con, item, layout, config.table(t).delimiter)
        for t, item in layout.inputs.items()
    }
    derived_from = config.table("customers").derive_from
    derived = bool(derived_from) and "customers" not in srcs
    if derived and derived_from:
        srcs["customers"] = derive_customers(con, config, derived_from, srcs)
    ctx = CheckContext(as_of_limit, config.currency)
    for table in LOAD_ORDER:
        if table not in srcs:
            empty_ok_table(con, SPECS[table])
            continue
        cfg = config.table(table)
        if table == "customers" and derived:
            cfg = TableConfig(defaults=cfg.defaults)  # derived columns carry canonical names
        project(con, SPECS[table], srcs[table], cfg)
        check_rows(con, SPECS[table], cfg, ctx)
    read = {t: s.rows_read for t, s in srcs.items()}
    info = _clean(con, config, set(srcs), read)
    _drop_staging(con)
    return _loaded(con, layout, config, frozenset(srcs), read, info, rejects_path)


def _from_store(con: duckdb.DuckDBPyConnection, layout: SourceLayout, config: SourceConfig,
                as_of_limit: date | None, rejects_path: str | Path | None) -> LoadedSource:
    kept = ingest.load(con, layout, config, as_of_limit)
    present = frozenset(layout.inputs)
    read, info = kept.read, kept.info
    if info is None:  # new or changed rows: the checks across rows and files run again
        info = _clean(con, config, set(present), read)
        _drop_staging(con)
        ingest.remember(con, as_of_limit, read, info)
    return _loaded(con, layout, config, present, read, info, rejects_path)


def _clean(con: duckdb.DuckDBPyConnection, config: SourceConfig, present: set[str],
           read: dict[str, int]) -> dict[str, dict[str, int]]:
    """From the rows that passed the row checks to the clean tables; the duplicates."""
    info = _cross_checks(con, present, read)
    create_clean_tables(con, config.consent_default, from_lines="purchase_lines" in present)
    fill_messages(con)
    return info


def _loaded(con: duckdb.DuckDBPyConnection, layout: SourceLayout, config: SourceConfig,
            present: frozenset[str], read: dict[str, int], info: dict[str, dict[str, int]],
            rejects_path: str | Path | None) -> LoadedSource:
    counts = _counts(con, set(present), read, info)
    if rejects_path is not None:
        write_rejects(con, Path(rejects_path))
    _check_share(counts, config.reject_share)
    return LoadedSource(
        con,
        config,
        present,
        counts,
        fingerprint(layout, config),
        tuple(layout.display(f) for f in layout.all_files()),
    )


def _quiet_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def resolve_config(source: str | Path | SourceConfig | Config | None) -> SourceConfig:
    if isinstance(source, SourceConfig):
        return source
    if isinstance(source, Config):
        return source.source
    if source is None:
        return load_config().source
    if is_database(source):
        return SourceConfig(url=str(source))
    path = Path(source)
    if path.is_file() and path.suffix == ".toml":
        return load_config(path).source
    if path.is_dir() and (path / CONFIG_FILE).is_file():
        return load_config(path / CONFIG_FILE).source
    if path.is_file() and path.suffix.lower() not in SQLITE_SUFFIXES:
        raise UnusableInput("input.unreadable-file", "not a data source", file=str(path))
    return SourceConfig(data=path)


def _cross_checks(
    con: duckdb.DuckDBPyConnection, present: set[str], read: dict[str, int]
) -> dict[str, dict[str, int]]:
    """Order matters: references point back to tables already made clean."""
    info: dict[str, dict[str, int]] = {}

    def collapse(table: str) -> None:
        if table not in present:  # empty: nothing to collapse
            return
        if n := integrity.dedupe(con, SPECS[table]):
            info[table] = {"duplicate-identical": n}

    has_stores = "stores" in present
    collapse("stores")
    collapse("staff")
    collapse("customers")
    integrity.check_customers(con, has_stores)
    if "purchase_lines" in present:
        receipts = scalars(con, "SELECT count(DISTINCT purchase_id) FROM _ok_purchase_lines")
        integrity.build_receipts(con)
        read["purchases"] = receipts[0]
    else:
        collapse("purchases")
    integrity.check_purchases(con, has_stores)
    for table in ("calendar", "complaints", "events", "outcomes"):
        collapse(table)
    return info


def _counts(
    con: duckdb.DuckDBPyConnection,
    present: set[str],
    read: dict[str, int],
    info: dict[str, dict[str, int]],
) -> dict[str, TableCounts]:
    counts: dict[str, TableCounts] = {}
    for table in LOAD_ORDER:
        if table not in present and table not in read:
            continue
        (kept,) = scalars(con, f'SELECT count(*) FROM "{table}"')
        dropped, warned = scalars(
            con,
            """SELECT count(DISTINCT (file, "row")) FILTER (WHERE severity = 'error'),
                      count(*) FILTER (WHERE severity = 'warning')
               FROM rejects WHERE table_name = ?""",
            [table],
        )
        reasons = con.execute(
            "SELECT reason, count(*) FROM rejects WHERE table_name = ? GROUP BY reason", [table]
        ).fetchall()
        counts[table] = TableCounts(
            table,
            read.get(table, 0),
            kept,
            dropped,
            warned,
            {r: int(n) for r, n in reasons},
            info.get(table, {}),
        )
    return counts


def _check_share(counts: dict[str, TableCounts], share: float) -> None:
    for c in counts.values():
        if c.rows_read and c.rows_rejected / c.rows_read > share:
            top = max((r for r in c.by_reason), key=lambda r: c.by_reason[r], default="")
            raise UnusableInput(
                "input.too-many-rejects",
                f"{c.rows_rejected} of {c.rows_read} rows rejected, more than the allowed "
                f"share {share:g} (most common reason: {top})",
                table=c.table,
            )


def _drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
    drops = [f'DROP {"VIEW" if kind == "VIEW" else "TABLE"} IF EXISTS "{name}"'
             for name, kind in rows if name.startswith(_STAGING)]
    if drops:  # one call: each statement costs a round trip of its own otherwise
        con.execute("; ".join(drops))
