"""The nightly rebuild of every customer view from the history (the source of truth).

Two phases, so the POS is never blocked for long:

1. outside any long lock, DuckDB folds the clean `customers` and `purchases` tables
   into one JSON view per customer (event/rebuild_sql.py, the set-based twin of the
   per-event `advance`: seconds for millions of receipts), and the views and the
   purchase_ids go to `customer_views_next` and `seen_purchases` in bulk, in chunks
   of short transactions (memory holds one chunk, never the history);
2. one short BEGIN IMMEDIATE transaction swaps the tables by renaming them and
   replays on top what the POS applied that the history does not have yet: receipts
   dated after `through` and customers registered at the POS that the customers
   table lacks. A POS event commits either before (then it is replayed) or after
   (then it sees the new views). The old views are then deleted in short chunks.

The replay uses the per-event evaluator's own `advance`; tests/test_view_rebuild.py
holds the SQL fold equal to folding `advance` receipt by receipt.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import duckdb

from ..contact.calendar import table_closures
from ..crashpoints import reached
from ..engine.batch import EMPTY_OCCASIONS, store_zones
from ..ledger import immediate
from ..plan import Plan
from .evaluator import EventEvaluator
from .rebuild_sql import view_rows
from .store import connect, receipt_from_row, record_from_json
from .view import CustomerView, view_from_json, view_to_json

CHUNK = 20_000  # rows per fetch and per transaction: about 15 MB of views
# Key order everywhere, so SQLite walks its indexes in order instead of seeking.
_SEEN = "SELECT purchase_id FROM purchases WHERE purchase_date <= $through ORDER BY purchase_id"
# One statement per chunk: SQLite unpacks the ids itself, 3x faster than executemany.
_INSERT_SEEN = "INSERT OR IGNORE INTO seen_purchases SELECT value, 'history' FROM json_each(?)"
_CLEAR = ("DELETE FROM customer_views_next WHERE rowid IN "
          "(SELECT rowid FROM customer_views_next ORDER BY rowid LIMIT ?)")


def _batches(cursor: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(CHUNK):
        yield rows


def _clear(conn: sqlite3.Connection) -> None:
    """Empty the staging table in short transactions (one DELETE would hold the lock
    for seconds at a million views)."""
    while True:
        with immediate(conn):
            if conn.execute(_CLEAR, (CHUNK,)).rowcount == 0:
                return


def _stage(conn: sqlite3.Connection, con: duckdb.DuckDBPyConnection, through: dt.date,
           ev: EventEvaluator) -> None:
    _clear(conn)  # left over by a rebuild that did not finish
    with view_rows(con, through, ev.crossings) as select:
        for batch in _batches(con.execute(select + " ORDER BY customer_id")):
            with immediate(conn):
                conn.executemany("INSERT INTO customer_views_next VALUES (?, ?)", batch)
    for batch in _batches(con.execute(_SEEN, {"through": through})):
        ids = json.dumps([row[0] for row in batch], ensure_ascii=False)
        with immediate(conn):
            conn.execute(_INSERT_SEEN, (ids,))


def _swap(conn: sqlite3.Connection) -> None:
    """The staged views become customer_views, the old ones the staging table (to be
    cleared). Renames only; no view or trigger reads these tables."""
    conn.execute("ALTER TABLE customer_views RENAME TO customer_views_old")
    conn.execute("ALTER TABLE customer_views_next RENAME TO customer_views")
    conn.execute("ALTER TABLE customer_views_old RENAME TO customer_views_next")


def _replay_pos(conn: sqlite3.Connection, con: duckdb.DuckDBPyConnection, through: dt.date,
                ev: EventEvaluator) -> None:
    """Inside the swap transaction: POS customers and receipts the history lacks."""
    pos = conn.execute("SELECT customer_id, record FROM pos_customers").fetchall()
    # the few POS customers the customers table has (the history has them now)
    recorded = {row[0] for row in con.execute(
        "SELECT customer_id FROM customers WHERE list_contains($ids, customer_id)",
        {"ids": [customer_id for customer_id, _text in pos]}).fetchall()} if pos else set()
    known = []
    for customer_id, text in pos:
        if customer_id in recorded:
            known.append((customer_id,))
            continue
        view = _get(conn, customer_id) or CustomerView(customer_id=customer_id)
        _put(conn, view._replace(record=record_from_json(text)))
    conn.executemany("DELETE FROM pos_customers WHERE customer_id = ?", known)
    limit = (through + dt.timedelta(days=1)).isoformat()
    conn.execute("DELETE FROM pos_receipts WHERE purchased_at < ?", (limit,))
    rows = conn.execute("SELECT purchase_id, customer_id, store_id, staff_id, purchased_at, "
                        "amount, currency, return_of FROM pos_receipts "
                        "WHERE customer_id IS NOT NULL "
                        "ORDER BY customer_id, purchased_at, purchase_id").fetchall()
    for customer_id, group in groupby(rows, key=lambda r: r[1]):
        view = _get(conn, customer_id) or CustomerView(customer_id=customer_id)
        for row in group:
            view = ev.advance(view, receipt_from_row(row))
        _put(conn, view)


def _get(conn: sqlite3.Connection, customer_id: str) -> CustomerView | None:
    row = conn.execute("SELECT view FROM customer_views WHERE customer_id = ?",
                       (customer_id,)).fetchone()
    return view_from_json(row[0]) if row else None


def _put(conn: sqlite3.Connection, view: CustomerView) -> None:
    conn.execute("INSERT OR REPLACE INTO customer_views VALUES (?, ?)",
                 (view.customer_id, view_to_json(view)))


def _occasions(conn: sqlite3.Connection, con: duckdb.DuckDBPyConnection,
               timezone: str | None) -> None:
    """The stores' zones and the calendar's days, as the nightly run read them."""
    zones = store_zones(con, timezone)
    conn.execute("DELETE FROM view_zones")
    conn.executemany("INSERT INTO view_zones VALUES (?, ?)", zones.names().items())
    conn.execute("INSERT OR REPLACE INTO view_meta VALUES ('timezone', ?)", (timezone,))
    conn.execute("DELETE FROM view_calendar")
    con.execute(EMPTY_OCCASIONS[0])
    rows = con.execute("SELECT CAST(date AS VARCHAR), name, kind, region FROM calendar "
                       "WHERE name IS NOT NULL").fetchall()
    conn.executemany("INSERT INTO view_calendar VALUES (?, ?, ?, ?)", rows)


def rebuild(state_path: str | Path, con: duckdb.DuckDBPyConnection, through: dt.date,
            plan: Plan, timezone: str | None = None) -> int:
    """Rebuild every view from the clean tables in `con`, receipts dated up to `through`.

    The plan gives the crossing thresholds whose marks the views keep. The stores'
    time zones (`timezone`: the source's, for stores without one) and the calendar
    are kept for the point of sale too. Returns the number of views.
    """
    con.execute("CREATE TABLE IF NOT EXISTS stores (store_id VARCHAR, region VARCHAR)")
    stores = dict(con.execute("SELECT store_id, region FROM stores").fetchall())
    ev = EventEvaluator(plan, stores)
    conn = connect(Path(state_path))
    try:
        _stage(conn, con, through, ev)
        reached("in-rebuild")
        with immediate(conn):
            _swap(conn)
            conn.execute("DELETE FROM view_stores")
            conn.executemany("INSERT INTO view_stores VALUES (?, ?)", stores.items())
            conn.execute("DELETE FROM view_closures")  # for the contact rules at checkout
            conn.executemany("INSERT INTO view_closures VALUES (?, ?)",
                             [(c.region, str(c.date)) for c in table_closures(con)
                              if c.date is not None])
            _occasions(conn, con, timezone)
            _replay_pos(conn, con, through, ev)
            conn.executemany("INSERT OR REPLACE INTO view_meta VALUES (?, ?)",
                             [("through", through.isoformat()), ("bundle", plan.bundle)])
            count = int(conn.execute("SELECT count(*) FROM customer_views").fetchone()[0])
        _clear(conn)
    finally:
        conn.close()
    return count
