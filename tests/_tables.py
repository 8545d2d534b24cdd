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


# The pack's lifetime crossing, plus this-year, count and rolling crossings, with
# overrides per region and per store (a threshold resolved at a receipt's scope).
_NOTE = """id: {id}
title: A note when a running value reaches a level
description: A crossing for the rebuild tests.
version: 1
trigger: {{kind: crossing, metric: {metric}, threshold: "{threshold}"}}
{params}actions:
  - type: sms
    recipient: customer
    assignee: {{role: store_staff}}
    window: {{due_by: 7d}}
    template: cumulative-thanks-sms
    priority: 40
"""
_PARAM = """params:
  {name}: {{type: {type}, default: {default}, overridable: true, min: 1,
    description: The level.}}
"""
NOTES = {  # this-year metrics with an int and a decimal threshold, a count with a literal
    "points-note": ("customer.points_this_year", "params.points",
                    _PARAM.format(name="points", type="int", default=3000)),
    "spend-note": ("customer.spend_this_year", "params.amount * 2",
                   _PARAM.format(name="amount", type="decimal", default=1250.25)),
    "count-note": ("customer.purchase_count", "3", ""),
    # a rolling window (once ever per threshold) and an expression over one
    "rolling-note": ("customer.spend_365d", "5000", ""),
    "points-365d-note": ("customer.points_365d", "2500", ""),
}
OVERRIDES = {
    "north": """kind: override
target: {region: north}
policies:
  cumulative-thanks: {params: {threshold: 9000}}
  points-note: {params: {points: 2000}}
""",
    "s2": """kind: override
target: {store: S2}
policies:
  cumulative-thanks: {params: {threshold: 12000.5}}
  spend-note: {params: {amount: 100.125}}
""",
}


def with_crossing_notes(policies: Path) -> Path:
    """`policies` with the crossing notes and their overrides added."""
    for name, (metric, threshold, params) in NOTES.items():
        (policies / f"{name}.yaml").write_text(
            _NOTE.format(id=name, metric=metric, threshold=threshold, params=params))
    (policies / "overrides").mkdir()
    for name, text in OVERRIDES.items():
        (policies / "overrides" / f"{name}.yaml").write_text(text)
    return policies
