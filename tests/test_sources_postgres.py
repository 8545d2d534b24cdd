"""A PostgreSQL database as the data source: the same clean tables and the same rejects
as the same rows in files, read in batches through Arrow (sources/postgres.py)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from loyaltyrules.cli import cli
from loyaltyrules.config import Config, SourceConfig, TableConfig
from loyaltyrules.sources import UnusableInput, open_source, postgres

from _states import new_schema

pytestmark = pytest.mark.postgres
LIMIT = dt.date(2026, 1, 1)
BAD_PURCHASES = [  # each a reject of its own kind, besides the store's own rows
    {"purchase_id": "BAD-1", "customer_id": "C0001", "store_id": "S1",
     "purchased_at": "2025-13-40 10:00", "amount": "10.00"},
    {"purchase_id": "BAD-2", "customer_id": "C0001", "store_id": "S1",
     "purchased_at": "2025-03-01 10:00", "amount": "ten"},
    {"purchase_id": "BAD-3", "customer_id": "C0001", "store_id": "",
     "purchased_at": "2025-03-01 10:00", "amount": "10.00"},
]


@pytest.fixture()
def store_files(example_store: Path) -> Path:
    """The example store with a few bad receipts added."""
    with (example_store / "purchases.csv").open(newline="", encoding="utf-8") as handle:
        fields = next(csv.reader(handle))
    with (example_store / "purchases.csv").open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, restval="")
        writer.writerows(BAD_PURCHASES)
    return example_store


def _copy_into(url: str, folder: Path, names: dict[str, str]) -> None:
    """Every CSV of `folder` as a table of text columns, renamed per `names`."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        for file in sorted(folder.glob("*.csv")):
            with file.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
            table = sql.Identifier(names.get(file.stem, file.stem))
            columns = [sql.Identifier(names.get(c, c)) for c in rows[0]]
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(
                sql.SQL("{} text").format(c) for c in columns)))
            with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                    table, sql.SQL(", ").join(columns))) as copy:
                for row in rows[1:]:
                    copy.write_row([v if v != "" else None for v in row])


@pytest.fixture()
def database(store_files: Path) -> Iterator[str]:
    with new_schema() as url:
        _copy_into(url, store_files, {})
        yield url


def _everything(source: Any) -> dict[str, Any]:
    con = source.connection
    tables = {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
              for t in ("customers", "purchases", "stores")}
    tables["rejects"] = sorted(con.execute(
        "SELECT table_name, \"row\", column_name, reason FROM rejects").fetchall(), key=repr)
    return tables


def test_a_database_gives_the_tables_and_rejects_its_rows_give_as_files(
        database: str, store_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "BATCH", 7)  # many batches: the stream, not one fetch
    from_files = open_source(store_files, LIMIT)
    from_database = open_source(database, LIMIT)
    got, want = _everything(from_database), _everything(from_files)
    assert got == want
    assert len(want["rejects"]) >= len(BAD_PURCHASES) and len(want["purchases"]) > 100
    assert from_database.input_fingerprint == open_source(database, LIMIT).input_fingerprint
    assert "s3cret" not in repr(from_database.files)


def test_tables_and_columns_named_otherwise_are_mapped(store_files: Path) -> None:
    with new_schema() as url:
        _copy_into(url, store_files, {"purchases": "receipts", "purchase_id": "receipt_no"})
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:  # a view serves as a table
            conn.execute("CREATE VIEW pos_receipts AS SELECT * FROM receipts")
        config = Config(source=SourceConfig(url=url, tables={
            "purchases": TableConfig(path="pos_receipts", columns={"purchase_id": "receipt_no"}),
        }))
        mapped = _everything(open_source(config, LIMIT))
    assert mapped == _everything(open_source(store_files, LIMIT))


def test_a_changed_row_changes_the_fingerprint(database: str) -> None:
    import psycopg

    before = open_source(database, LIMIT).input_fingerprint
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("UPDATE purchases SET amount = '11.00' WHERE purchase_id = 'BAD-1'")
    assert open_source(database, LIMIT).input_fingerprint != before


def test_a_missing_table_and_an_unreachable_server_are_unusable(database: str) -> None:
    config = Config(source=SourceConfig(url=database, tables={
        "purchases": TableConfig(path="no_such_table")}))
    with pytest.raises(UnusableInput, match="no table or view"):
        open_source(config, LIMIT)
    with pytest.raises(UnusableInput, match="cannot connect") as refused:
        open_source("postgresql://reader:s3cret@127.0.0.1:1/retail", LIMIT)
    assert "s3cret" not in str(refused.value)


def test_run_reads_a_database_given_by_data_or_the_configuration(
        database: str, store_files: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    day = "2025-11-20"
    args = ["run", "--as-of", day, "-q", "--state", str(tmp_path / "files.sqlite"), "--out"]
    assert CliRunner().invoke(cli, [*args, str(tmp_path / "files"), "--data",
                                    str(store_files)]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loyaltyrules.toml").write_text(f'[source]\ndata = "{database}"\n')
    flagged = CliRunner().invoke(cli, ["run", "--as-of", day, "-q", "--state",
                                       str(tmp_path / "db.sqlite"), "--out",
                                       str(tmp_path / "db"), "--data", database])
    configured = CliRunner().invoke(cli, ["run", "--as-of", day, "-q", "--state",
                                          str(tmp_path / "db2.sqlite"), "--out",
                                          str(tmp_path / "db2")])
    assert flagged.exit_code == 0 and configured.exit_code == 0, flagged.output
    want = (tmp_path / "files" / f"actions-{day}.jsonl").read_bytes()
    assert want and (tmp_path / "db" / f"actions-{day}.jsonl").read_bytes() == want
    assert (tmp_path / "db2" / f"actions-{day}.jsonl").read_bytes() == want
    shutil.rmtree(tmp_path / "files")
