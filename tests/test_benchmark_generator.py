"""The synthetic benchmark franchise: deterministic, canonical, sized by --scale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from _paths import benchmark_module

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"
SCALE = 0.0005
TABLES = ("stores", "customers", "purchases", "calendar", "complaints", "events")
COLUMNS = {
    "stores": ["store_id", "region", "name", "timezone"],
    "customers": [
        "customer_id", "name", "phone", "email", "address", "birthday", "region",
        "home_store", "joined_on", "referred_by", "staff_id", "consent_sms", "consent_call",
        "consent_mail", "consent_visit",
    ],
    "purchases": [
        "purchase_id", "customer_id", "store_id", "staff_id", "purchased_at", "amount",
        "currency", "return_of",
    ],
    "calendar": ["date", "name", "kind", "region"],
    "complaints": [
        "complaint_id", "customer_id", "store_id", "received_at", "channel", "topic", "severity",
    ],
    "events": ["event_id", "kind", "customer_id", "store_id", "occurred_at", "attributes"],
}  # fmt: skip


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return benchmark_module("generate")


@pytest.fixture(scope="module")
def outdir(generator: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench")
    generator.generate(path, scale=SCALE)
    return path


def query(sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        return con.execute(sql).fetchall()


def checksum(path: Path, table: str) -> Any:
    rows = query(f"SELECT count(*), sum(hash(t::VARCHAR)) FROM '{path / table}.parquet' AS t")
    return rows[0]


def test_row_counts_follow_the_scale(outdir: Path) -> None:
    counts = {t: query(f"SELECT count(*) FROM '{outdir / t}.parquet'")[0][0] for t in TABLES}
    assert counts == {"stores": 10, "customers": 500, "purchases": 5000, "calendar": 19,
                      "complaints": 5, "events": 10}


def test_sizes_at_full_scale(generator: ModuleType) -> None:
    sizes = generator.Sizes.at(1.0)
    assert (sizes.stores, sizes.regions, sizes.customers, sizes.purchases) == (
        200, 20, 1_000_000, 10_000_000,
    )  # fmt: skip
    with pytest.raises(ValueError, match="positive"):
        generator.Sizes.at(0)


def test_columns_are_canonical(outdir: Path) -> None:
    for table in TABLES:
        described = query(f"DESCRIBE SELECT * FROM '{outdir / table}.parquet'")
        assert [row[0] for row in described] == COLUMNS[table]
    types = dict(
        (row[0], row[1])
        for row in query(f"DESCRIBE SELECT * FROM '{outdir / 'purchases'}.parquet'")
    )
    assert types["amount"] == "DECIMAL(12,2)"
    assert types["purchased_at"] == "TIMESTAMP"


def test_two_runs_give_identical_files(generator: ModuleType, outdir: Path, tmp_path: Path) -> None:
    generator.generate(tmp_path, scale=SCALE, threads=1)
    for table in TABLES:
        assert checksum(tmp_path, table) == checksum(outdir, table)
        assert (tmp_path / f"{table}.parquet").read_bytes() == (
            outdir / f"{table}.parquet"
        ).read_bytes()


def test_another_seed_gives_other_data(generator: ModuleType, outdir: Path, tmp_path: Path) -> None:
    generator.generate(tmp_path, scale=SCALE, seed=1)
    assert checksum(tmp_path, "purchases") != checksum(outdir, "purchases")


def test_values_are_plausible(outdir: Path) -> None:
    purchases, customers = f"'{outdir}/purchases.parquet'", f"'{outdir}/customers.parquet'"
    (row,) = query(
        f"""SELECT count(DISTINCT purchase_id), min(purchased_at)::DATE::VARCHAR,
                  max(purchased_at)::DATE::VARCHAR, count(*) FILTER (WHERE amount < 0),
                  count(*) FILTER (WHERE amount >= 2000), count(*) FILTER (WHERE amount = 0),
                  count(*) FILTER (WHERE customer_id IS NULL),
                  count(*) FILTER (WHERE customer_id NOT IN (SELECT customer_id FROM {customers}))
           FROM {purchases}"""
    )
    unique, first, last, returns, big, zero, anonymous, unknown = row
    assert unique == 5000
    assert "2024-01-01" <= first < "2024-02-01" and "2025-12-01" <= last <= "2025-12-31"
    assert 80 <= returns <= 250  # about 3%
    assert big >= 1 and zero == 0 and anonymous > 0 and unknown == 0
    (row,) = query(
        f"""SELECT count(DISTINCT customer_id), count(referred_by),
                  count(*) FILTER (WHERE referred_by NOT IN (SELECT customer_id FROM {customers}))
           FROM {customers}"""
    )
    assert row[0] == 500 and row[1] > 0 and row[2] == 0


def test_staff_serve_in_their_own_store(outdir: Path) -> None:
    stray = query(
        f"""SELECT count(*) FROM '{outdir}/purchases.parquet'
            WHERE staff_id IS NOT NULL AND (substr(staff_id, 2)::INTEGER - 1) // 8 + 1
                  <> substr(store_id, 2)::INTEGER"""
    )
    assert stray == [(0,)]


def test_command_line_prints_rows_and_time(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path), "--scale", str(SCALE)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "purchases: 5,000 rows in" in result.stdout
    assert "wrote 5,544 rows" in result.stdout  # 5,510 + calendar 19, complaints 5, events 10
