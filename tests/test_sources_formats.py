"""Each source kind gives the same clean tables: CSV folders, JSON Lines, Parquet, SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from loyaltyrules.config import SourceConfig, TableConfig
from loyaltyrules.sources import LoadedSource, UnusableInput, open_source

DATA = Path(__file__).parent / "data"
CUSTOMERS = [("C1", "Alice Example", "yes"), ("C2", "Bob Example", None)]
PURCHASES = [
    ("P1", "C1", "S1", "2024-03-01 10:00:00", "12.50"),
    ("P2", "C2", "S1", "2024-03-02 10:00:00", "-2.5"),
    ("P3", "C1", "S1", "2024-03-03 10:00:00", "lots"),
]


def _ids(loaded: LoadedSource, table: str = "purchases") -> list[str]:
    key = "purchase_id" if table == "purchases" else "customer_id"
    return [
        r[0] for r in loaded.connection.execute(f"SELECT {key} FROM {table} ORDER BY 1").fetchall()
    ]


def _write_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (customer_id TEXT, name TEXT, consent_sms TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?)", CUSTOMERS)
        db.execute(
            "CREATE TABLE sales (purchase_id TEXT, customer_id TEXT, store_id TEXT, "
            "purchased_at TEXT, amount)"
        )
        db.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?)", PURCHASES)
        db.execute("INSERT INTO sales VALUES ('P4', 'C1', 'S1', '2024-03-04', 7.0)")
        db.execute("INSERT INTO sales VALUES ('P5', CAST(X'FF41' AS TEXT), 'S1', '2024-03-04', 1)")


def test_sqlite_source(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite"
    _write_sqlite(db)
    config = SourceConfig(
        data=db, reject_share=1.0, tables={"purchases": TableConfig(path="sales")}
    )
    loaded = open_source(config)
    assert _ids(loaded) == ["P1", "P2", "P4"]
    found = {(r.file, r.row, r.column, r.reason) for r in loaded.rejects()}
    assert found == {
        ("shop.sqlite", 3, "amount", "bad-amount"),
        ("shop.sqlite", 5, None, "bad-encoding"),
    }
    consent = loaded.connection.execute(
        "SELECT consent_sms FROM customers ORDER BY customer_id"
    ).fetchall()
    assert consent == [(True,), (True,)]


def test_parquet_source(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    cols = list(zip(*PURCHASES, strict=True))
    pq.write_table(
        pa.table({"customer_id": ["C1", "C2"], "name": ["A", "B"]}), tmp_path / "customers.parquet"
    )
    pq.write_table(
        pa.table(
            {
                "purchase_id": cols[0],
                "customer_id": cols[1],
                "store_id": cols[2],
                "purchased_at": cols[3],
                "amount": cols[4],
            }
        ),
        tmp_path / "purchases.parquet",
    )
    loaded = open_source(SourceConfig(data=tmp_path, reject_share=1.0))
    assert _ids(loaded) == ["P1", "P2"]
    (record,) = loaded.rejects()
    assert (record.file, record.row, record.reason) == ("purchases.parquet", 3, "bad-amount")


def test_jsonl_source() -> None:
    loaded = open_source(SourceConfig(data=DATA / "jsonl-source", reject_share=1.0))
    assert _ids(loaded) == ["P1", "P2", "P5"]
    assert _ids(loaded, "customers") == ["2", "C1"]  # 2.0 -> "2"
    found = {(r.row, r.reason) for r in loaded.rejects()}
    assert found == {(4, "malformed-line"), (5, "malformed-line"), (6, "bad-amount")}
    row = loaded.connection.execute(
        "SELECT CAST(purchased_at AS VARCHAR), currency FROM purchases WHERE purchase_id = 'P2'"
    ).fetchone()
    assert row == ("2024-03-02 10:00:00", "EUR")  # offset dropped: wall-clock time kept


def test_folder_of_days() -> None:
    loaded = open_source(SourceConfig(data=DATA / "folder-of-days", reject_share=1.0))
    assert _ids(loaded) == ["D1-1", "D1-2", "D2-1", "D2-3", "D3-1"]
    (record,) = loaded.rejects()
    assert (record.file, record.row, record.reason) == (
        "purchases/2024-03-02.csv",
        2,
        "malformed-line",
    )
    assert loaded.counts["purchases"].info == {"duplicate-identical": 1}  # D1-2 re-sent
    assert loaded.files[-1] == "purchases/2024-03-03.csv"


def test_column_mapping_glob_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "clients.csv").write_text("Client,Nom\n17.0,Zoe\n")
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "day1.csv").write_text(
        "Ticket,Client,When,Total\nT1,17.0,2024-05-01 09:00,8.5\n"
    )
    config = SourceConfig(
        data=tmp_path,
        tables={
            "customers": TableConfig(
                path="clients.csv", columns={"customer_id": "Client", "name": "Nom"}
            ),
            "purchases": TableConfig(
                path="exports/*.csv",
                defaults={"store_id": "web"},
                columns={
                    "purchase_id": "Ticket",
                    "customer_id": "Client",
                    "purchased_at": "When",
                    "amount": "Total",
                },
            ),
        },
    )
    loaded = open_source(config)
    row = loaded.connection.execute(
        "SELECT purchase_id, customer_id, store_id, CAST(amount AS VARCHAR) FROM purchases"
    ).fetchall()
    assert row == [("T1", "17", "web", "8.500")]


def test_mapped_column_that_is_absent(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id\nC1\n")
    (tmp_path / "purchases.csv").write_text("purchase_id,store_id,purchased_at,amount\n")
    config = SourceConfig(
        data=tmp_path, tables={"purchases": TableConfig(columns={"amount": "Total"})}
    )
    with pytest.raises(UnusableInput) as err:
        open_source(config)
    assert (err.value.code, err.value.column) == ("input.missing-column", "amount")


def test_two_inputs_for_one_table(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("customer_id\nC1\n")
    (tmp_path / "customers.jsonl").write_text('{"customer_id": "C1"}\n')
    with pytest.raises(UnusableInput) as err:
        open_source(tmp_path)
    assert err.value.code == "input.ambiguous-table"
