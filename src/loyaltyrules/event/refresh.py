"""Which customer views a night must refresh: those whose inputs changed.

A stored view is a function of the customer's row, their receipts dated up to the
night, the stores' regions (a crossing's threshold may differ by region) and the
plan (its metrics, tier ladder and crossings), and of nothing else: its states are
those after the last receipt (the day buckets within each rolling window of the
latest day, the latest period and the one before, the ladder points of the last
receipt's year and the two before, that year's crossing marks), and whoever reads a
view ages it to the day it reads (`Points.at`, `marks_at`, `Fold.value`). So a new
year, quarter or month, or a receipt leaving a 365-day window, changes no stored
view: a customer without new receipts keeps the view a full rebuild would give
them (tests/test_view_refresh.py runs such nights against full rebuilds).

The state keeps what each view was computed from: `view_inputs`, per customer, a
64-bit digest of their row and of their receipts' rows (a sum of row hashes, so
order does not matter), and in `view_meta` the `definition` every view shares (a
digest of the SQL that computes them, which carries the plan's metrics, ladder and
thresholds, of the stores table, and of this release's and DuckDB's versions) and
the digest of the receipts without a customer (`anonymous`: they only count as seen
at the point of sale). A night computes the digests in DuckDB (one scan of the
receipts, no fold) and refreshes

* every view when the definition changed or the state has none (its first night,
  views of an older release, after a store's own run: event/rebuild.py);
* otherwise the customers whose digest changed, is new or is gone (new receipts, a
  corrected past receipt, a changed or removed row), and those the point of sale
  wrote for since (their receipts and records are replayed on the history).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from .. import __version__
from ..state import Connection
from .evaluator import EventEvaluator
from .rebuild_sql import definition_sql

# Per customer (NULL: the receipts without one), the digest of their row and receipts.
_INPUTS = """
CREATE OR REPLACE TEMP TABLE lr_inputs AS
WITH receipts AS (
    SELECT customer_id, sum(hash(p)) AS h, count(*) AS n
    FROM purchases AS p WHERE purchase_date <= $through GROUP BY customer_id
), records AS (
    SELECT customer_id, sum(hash(c)) AS h FROM customers AS c GROUP BY customer_id
)
SELECT customer_id,
       CAST(CAST(hash(c.h, r.h, r.n) AS HUGEINT) - 9223372036854775808 AS BIGINT) AS digest
FROM records AS c FULL JOIN receipts AS r USING (customer_id)
"""
# The customers to refresh, with their digest now (NULL: no row and no receipt now).
_CHANGED = """
CREATE OR REPLACE TEMP TABLE lr_refresh AS
SELECT customer_id, i.digest FROM lr_inputs AS i FULL JOIN lr_stored_inputs AS s
    USING (customer_id)
WHERE customer_id IS NOT NULL AND i.digest IS DISTINCT FROM s.digest
UNION
SELECT customer_id, i.digest FROM lr_pos_written LEFT JOIN lr_inputs AS i USING (customer_id)
"""
# The customers the point of sale wrote for since the last refresh.
_POS_WRITTEN = ("SELECT customer_id FROM pos_receipts WHERE customer_id IS NOT NULL "
                "UNION SELECT customer_id FROM pos_customers")


@dataclass(frozen=True)
class Refresh:
    """What a night refreshes. `customers`: how many (in DuckDB's lr_refresh), or None
    for every view; `anonymous`: the receipts without a customer changed."""

    definition: str
    anonymous_digest: str
    customers: int | None
    anonymous: bool


def inputs(con: duckdb.DuckDBPyConnection, through: dt.date) -> None:
    """lr_inputs: every customer's digest of the night (see the module doc)."""
    con.execute(_INPUTS, {"through": through})


def definition(con: duckdb.DuckDBPyConnection, through: dt.date, ev: EventEvaluator) -> str:
    """The digest of what every view shares."""
    [(stores,)] = con.execute("SELECT coalesce(sum(hash(s)), 0) FROM stores AS s").fetchall()
    parts = [__version__, duckdb.__version__, str(stores),
             *definition_sql(through, ev.plan, ev.views, ev.crossings)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def changed(conn: Connection, con: duckdb.DuckDBPyConnection, through: dt.date,
            ev: EventEvaluator, full: bool = False) -> Refresh:
    """What this night must refresh (after `inputs`): every view, or the customers of
    lr_refresh (customer_id, digest), a DuckDB table the caller drops."""
    shared = definition(con, through, ev)
    found = con.execute("SELECT CAST(digest AS VARCHAR) FROM lr_inputs "
                        "WHERE customer_id IS NULL").fetchall()
    anonymous = found[0][0] if found else ""
    meta = dict(conn.execute("SELECT key, value FROM view_meta").fetchall())
    if full or meta.get("definition") != shared:
        return Refresh(shared, anonymous, None, True)
    stored = conn.execute("SELECT customer_id, digest FROM view_inputs").fetchall()
    written = conn.execute(_POS_WRITTEN).fetchall()
    con.register("lr_stored_inputs", pa.table({
        "customer_id": pa.array([r[0] for r in stored], pa.string()),
        "digest": pa.array([r[1] for r in stored], pa.int64())}))
    con.register("lr_pos_written", pa.table({
        "customer_id": pa.array([r[0] for r in written], pa.string())}))
    try:
        con.execute(_CHANGED)
    finally:
        con.unregister("lr_stored_inputs")
        con.unregister("lr_pos_written")
    [(count,)] = con.execute("SELECT count(*) FROM lr_refresh").fetchall()
    return Refresh(shared, anonymous, int(count), meta.get("anonymous") != anonymous)
