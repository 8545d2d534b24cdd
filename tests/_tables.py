"""Clean input tables made directly (as the sources leave them), for generated histories.

Faster than writing files for the sources to read, where a test is about what comes
after the source checks. Also the policy set with every kind of declared metric.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from loyaltyrules.event.facts import RECORD_FIELDS
from loyaltyrules.sources import open_source

from _paths import PACK

EDGE_METRICS = Path(__file__).parent / "data" / "metrics-edges.yaml"


def clean_schema(folder: Path) -> list[str]:
    """CREATE statements of the clean customers, purchases and stores tables."""
    (folder / "customers.csv").write_text("customer_id,region\n")
    (folder / "purchases.csv").write_text("purchase_id,customer_id,store_id,purchased_at,amount\n")
    (folder / "stores.csv").write_text("store_id,region\n")
    con = open_source(folder).connection
    return [sql for (sql,) in con.execute(
        "SELECT sql FROM duckdb_tables() "
        "WHERE table_name IN ('customers', 'purchases', 'stores')").fetchall()]


def load_tables(schema: Sequence[str], customers: Sequence[tuple[Any, ...]],
                receipts: Sequence[tuple[Any, ...]], stores: Mapping[str, str | None]
                ) -> duckdb.DuckDBPyConnection:
    """customers: RECORD_FIELDS rows; receipts: (purchase_id, customer_id, store_id,
    staff_id, purchased_at, purchase_date, amount, currency, return_of, is_return)."""
    con = duckdb.connect()
    for sql in schema:
        con.execute(sql)
    inserts = {f"customers ({', '.join(RECORD_FIELDS)})": list(customers),
               "purchases": list(receipts), "stores (store_id, region)": list(stores.items())}
    for table, rows in inserts.items():
        if rows:
            con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})",
                            rows)
    return con


def pack_with_edge_metrics(folder: Path) -> Path:
    """A copy of the pack whose metrics file also declares metrics-edges.yaml's."""
    target = folder / "pack"
    shutil.copytree(PACK, target)
    with (target / "metrics.yaml").open("a", encoding="utf-8") as out:
        out.write(EDGE_METRICS.read_text(encoding="utf-8"))
    return target
