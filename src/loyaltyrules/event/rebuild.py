"""The nightly rebuild of every customer view from the history (the source of truth).

Two phases, so the POS is never blocked for long:

1. outside any long lock, the clean `customers` and `purchases` tables (DuckDB) are
   folded customer by customer, in event order, into `customer_views_next`, in
   chunks (rows are handed over in bulk; memory holds one customer at a time);
2. one short BEGIN IMMEDIATE transaction swaps them in and replays on top what the
   POS applied that the history does not have yet: receipts dated after `through`
   and customers registered at the POS that the customers table lacks. A POS event
   commits either before (then it is replayed) or after (then it sees the new views).

The fold uses the per-event evaluator's own `advance`, so a rebuilt view and a view
advanced receipt by receipt are the same value.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path
from typing import Any

import duckdb

from ..ledger import immediate
from ..plan import Plan
from .evaluator import EventEvaluator
from .store import chunks, connect, receipt_from_row, record_from_json
from .view import CustomerRecord, CustomerView, view_from_json, view_to_json

CHUNK = 5_000
_CUSTOMERS = """
SELECT customer_id, birthday, region, home_store, joined_on, referred_by, staff_id,
       consent_sms, consent_call, consent_mail, consent_visit,
       has_address, has_phone, has_email
FROM customers ORDER BY customer_id
"""
_RECEIPTS = """
SELECT purchase_id, customer_id, store_id, staff_id, purchased_at, amount, currency, return_of
FROM purchases WHERE customer_id IS NOT NULL AND purchase_date <= $through
ORDER BY customer_id, purchased_at, purchase_id
"""


def _stream(cursor: duckdb.DuckDBPyConnection) -> Iterator[tuple[Any, ...]]:
    while rows := cursor.fetchmany(CHUNK):
        yield from rows


def _records(con: duckdb.DuckDBPyConnection) -> dict[str, CustomerRecord]:
    names = ("customer_id", "birthday", "region", "home_store", "joined_on", "referred_by",
             "staff_id", "consent_sms", "consent_call", "consent_mail", "consent_visit",
             "has_address", "has_phone", "has_email")
    return {row[0]: CustomerRecord(**dict(zip(names, row, strict=True)))
            for row in con.execute(_CUSTOMERS).fetchall()}


def _views(con: duckdb.DuckDBPyConnection, through: dt.date, ev: EventEvaluator,
           records: dict[str, CustomerRecord]) -> Iterator[tuple[str, str]]:
    """(customer_id, view JSON) of every customer with a record or a receipt."""
    bought: set[str] = set()
    cursor = con.execute(_RECEIPTS, {"through": through})
    for customer_id, rows in groupby(_stream(cursor), key=lambda r: r[1]):
        view = CustomerView(customer_id, records.get(customer_id))
        for row in rows:
            view = ev.advance(view, receipt_from_row(row))
        bought.add(customer_id)
        yield customer_id, view_to_json(view)
    for customer_id, record in records.items():
        if customer_id not in bought:
            yield customer_id, view_to_json(CustomerView(customer_id, record))


def _stage(conn: sqlite3.Connection, con: duckdb.DuckDBPyConnection, through: dt.date,
           ev: EventEvaluator, records: dict[str, CustomerRecord]) -> None:
    conn.execute("DELETE FROM customer_views_next")
    for batch in chunks(_views(con, through, ev, records), CHUNK):
        with immediate(conn):
            conn.executemany("INSERT INTO customer_views_next VALUES (?, ?)", batch)
    ids = con.execute("SELECT purchase_id FROM purchases WHERE purchase_date <= $through",
                      {"through": through})
    for batch in chunks(_stream(ids), CHUNK):
        with immediate(conn):
            conn.executemany("INSERT OR IGNORE INTO seen_purchases VALUES (?, 'history')",
                             batch)


def _replay_pos(conn: sqlite3.Connection, through: dt.date, ev: EventEvaluator,
                records: dict[str, CustomerRecord]) -> None:
    """Inside the swap transaction: POS customers and receipts the history lacks."""
    known = []
    for customer_id, text in conn.execute("SELECT customer_id, record FROM pos_customers"
                                          ).fetchall():
        if customer_id in records:
            known.append((customer_id,))  # the history has the customer now
            continue
        view = _get(conn, customer_id) or CustomerView(customer_id)
        _put(conn, view._replace(record=record_from_json(text)))
    conn.executemany("DELETE FROM pos_customers WHERE customer_id = ?", known)
    limit = (through + dt.timedelta(days=1)).isoformat()
    conn.execute("DELETE FROM pos_receipts WHERE purchased_at < ?", (limit,))
    rows = conn.execute("SELECT purchase_id, customer_id, store_id, staff_id, purchased_at, "
                        "amount, currency, return_of FROM pos_receipts "
                        "WHERE customer_id IS NOT NULL "
                        "ORDER BY customer_id, purchased_at, purchase_id").fetchall()
    for customer_id, group in groupby(rows, key=lambda r: r[1]):
        view = _get(conn, customer_id) or CustomerView(customer_id)
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


def rebuild(state_path: str | Path, con: duckdb.DuckDBPyConnection, through: dt.date,
            plan: Plan) -> int:
    """Rebuild every view from the clean tables in `con`, receipts dated up to `through`.

    The plan gives the crossing thresholds whose marks the views keep. Returns the
    number of views.
    """
    con.execute("CREATE TABLE IF NOT EXISTS stores (store_id VARCHAR, region VARCHAR)")
    stores = dict(con.execute("SELECT store_id, region FROM stores").fetchall())
    ev = EventEvaluator(plan, stores)
    records = _records(con)
    conn = connect(Path(state_path))
    try:
        _stage(conn, con, through, ev, records)
        with immediate(conn):
            conn.execute("DELETE FROM customer_views")
            conn.execute("INSERT INTO customer_views SELECT * FROM customer_views_next")
            conn.execute("DELETE FROM customer_views_next")
            conn.execute("DELETE FROM view_stores")
            conn.executemany("INSERT INTO view_stores VALUES (?, ?)", stores.items())
            _replay_pos(conn, through, ev, records)
            conn.executemany("INSERT OR REPLACE INTO view_meta VALUES (?, ?)",
                             [("through", through.isoformat()), ("bundle", plan.bundle)])
            count = int(conn.execute("SELECT count(*) FROM customer_views").fetchone()[0])
    finally:
        conn.close()
    return count
