"""Find each table's files in a source directory, glob, or SQLite database, or its
tables in a PostgreSQL database (sources/postgres.py)."""

from __future__ import annotations

import glob
import hashlib
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from loyaltyrules.config import SourceConfig
from loyaltyrules.sources.errors import UnusableInput
from loyaltyrules.sources.postgres import postgres_inputs
from loyaltyrules.sources.tables import LOAD_ORDER

Format = Literal["csv", "parquet", "json", "sqlite", "postgresql"]

_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
    ".jsonl": "json",
    ".ndjson": "json",
}
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@dataclass(frozen=True)
class TableInput:
    table: str
    format: Format
    files: tuple[Path, ...]
    db_table: str | None = None  # the table's name in a SQLite or PostgreSQL database


@dataclass(frozen=True)
class SourceLayout:
    root: Path
    inputs: dict[str, TableInput]
    source: SourceConfig | None = None
    digests: dict[str, str] = field(default_factory=dict)  # a database's tables, as read

    def display(self, path: str | Path) -> str:
        """File names in rejects are relative to the source, so they never leak home paths."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return p.name

    def all_files(self) -> list[Path]:
        return sorted({f for item in self.inputs.values() for f in item.files})


def discover(config: SourceConfig) -> SourceLayout:
    if config.url is not None:
        layout = SourceLayout(config.data, postgres_inputs(config), config)
        _require_tables(layout, config)
        return layout
    data = config.data
    if not data.exists():
        raise UnusableInput(
            "input.unreadable-file", "the data source does not exist", file=str(data)
        )
    if data.is_file():
        if data.suffix.lower() not in SQLITE_SUFFIXES:
            raise UnusableInput(
                "input.unreadable-file",
                "a data source file must be a SQLite database",
                file=str(data),
            )
        layout = SourceLayout(data.parent, _sqlite_inputs(data, config))
    else:
        layout = SourceLayout(data, _directory_inputs(data, config))
    _require_tables(layout, config)
    return layout


def _require_tables(layout: SourceLayout, config: SourceConfig) -> None:
    found = layout.inputs
    if "customers" not in found and not config.table("customers").derive_from:
        raise UnusableInput(
            "input.missing-table",
            "the required table is missing",
            table="customers",
            file=str(config.data),
        )
    if "purchases" not in found and "purchase_lines" not in found:
        raise UnusableInput(
            "input.missing-table",
            "the source needs purchases or purchase_lines",
            table="purchases",
            file=str(config.data),
        )
    if "purchases" in found and "purchase_lines" in found:
        raise UnusableInput(
            "input.ambiguous-table", "give purchases or purchase_lines, not both", table="purchases"
        )


def _directory_inputs(data: Path, config: SourceConfig) -> dict[str, TableInput]:
    inputs: dict[str, TableInput] = {}
    for table in LOAD_ORDER:
        pattern = config.table(table).path
        files = _configured_files(data, pattern, table) if pattern else _default_files(data, table)
        if files:
            inputs[table] = TableInput(table, _one_format(files, table), tuple(files))
    return inputs


def _configured_files(data: Path, pattern: str, table: str) -> list[Path]:
    full = pattern if Path(pattern).is_absolute() else str(data / pattern)
    matches = sorted(Path(p) for p in glob.glob(full, recursive=True))
    files = [f for m in matches for f in (_data_files(m) if m.is_dir() else [m])]
    if not files:
        raise UnusableInput(
            "input.missing-table", f"no file matches {pattern!r}", table=table, file=pattern
        )
    return files


def _default_files(data: Path, table: str) -> list[Path]:
    singles = [data / f"{table}{suffix}" for suffix in _FORMATS]
    found = [p for p in singles if p.is_file()]
    folder = data / table
    if folder.is_dir():
        found.append(folder)
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise UnusableInput(
            "input.ambiguous-table", f"several inputs for one table: {names}", table=table
        )
    if not found:
        return []
    return _data_files(found[0]) if found[0].is_dir() else found


def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and _suffix(p) in _FORMATS)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".csv.gz" if name.endswith(".csv.gz") else path.suffix.lower()


def _one_format(files: list[Path], table: str) -> Format:
    formats = {_FORMATS.get(_suffix(f)) for f in files}
    if None in formats or len(formats) != 1:
        raise UnusableInput(
            "input.unreadable-file",
            "files of one table must share one format (csv, parquet, jsonl)",
            table=table,
            file=files[0].name,
        )
    fmt = formats.pop()
    assert fmt is not None
    return fmt


def _sqlite_inputs(db: Path, config: SourceConfig) -> dict[str, TableInput]:
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as con:
            names = {
                r[0]
                for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                )
            }
    except sqlite3.Error as exc:
        raise UnusableInput(
            "input.unreadable-file", f"cannot open the SQLite database: {exc}", file=db.name
        ) from exc
    inputs: dict[str, TableInput] = {}
    for table in LOAD_ORDER:
        wanted = config.table(table).path or table
        if wanted in names:
            inputs[table] = TableInput(table, "sqlite", (db,), db_table=wanted)
        elif config.table(table).path:
            raise UnusableInput(
                "input.missing-table", f"no SQLite table {wanted!r}", table=table, file=db.name
            )
    return inputs


def fingerprint(layout: SourceLayout, config: SourceConfig) -> str:
    """sha256 over the configuration and each input file's name and size plus either
    its mtime (`stat`, the default) or its content (`content`)."""
    digest = hashlib.sha256()
    settings = asdict(config)
    settings["data"] = settings["url"] = None  # the same data moved keeps its fingerprint
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for table, read in sorted(layout.digests.items()):
        digest.update(f"{table}\0{read}\0".encode())
    for file in layout.all_files():
        stat = file.stat()
        digest.update(f"{layout.display(file)}\0{stat.st_size}\0".encode())
        if config.fingerprint == "content":
            digest.update(content_hash(file))
        else:
            digest.update(str(stat.st_mtime_ns).encode())
    return digest.hexdigest()


def content_hash(file: Path) -> bytes:
    """sha256 of the file's bytes, read in blocks."""
    h = hashlib.sha256()
    with file.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.digest()
