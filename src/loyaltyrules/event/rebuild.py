"""The nightly refresh of the customer views from the history (the source of truth).

A night refreshes the views whose inputs changed: event/refresh.py tells which
(every view on a state's first night or when the plan changed; else the customers
with new or corrected receipts or rows, and those the POS wrote for). Either way
the views come from one definition, event/rebuild_sql.py's set-based fold (the twin
of the per-event `advance`), over every customer or a set of them.

Every view (a full rebuild), in two phases so the POS is never blocked for long:

1. outside any long lock, DuckDB folds the clean `customers` and `purchases` tables
   into one JSON view per customer (seconds for millions of receipts), and the views
   and the purchase_ids go to `customer_views_next` and `seen_purchases` in bulk, in
   chunks of short transactions (memory holds one chunk, never the history), as do
   the digests of their inputs to `view_inputs`;
2. one short transaction that waits for every writer swaps the tables by renaming
   them and replays on top what the POS applied that the history does not have yet:
   receipts dated after `through` and customers registered at the POS that the
   customers table lacks. A POS event commits either before (then it is replayed) or
   after (then it sees the new views). The old views are then deleted in short chunks.

Some customers' views (an ordinary night): the same fold over those customers only,
staged in a temporary table of the connection with the list of the customers, then
one short transaction that waits for every writer deletes their old views, writes
the new ones, replays the POS's receipts and customers of those customers on top and
keeps the digests of their inputs for the next night. A POS event for another
customer during the refresh keeps its view (its receipt makes that customer one the
next night refreshes).

A run of one store (`run --store S`, several stores sharing a ledger) rebuilds the
views of its own customers only (those whose customer-level actions are the store's:
home store, else the store of the last purchase): staged in a temporary table of its
own connection, then written over their old views in one transaction, the POS's
receipts and customers of those customers replayed on top. The views of other
stores' customers are theirs to rebuild. The digests do not follow a store's views,
so the next night of the whole ledger rebuilds every view.

The replay uses the per-event evaluator's own `advance`; tests/test_view_rebuild.py
holds the SQL fold equal to folding `advance` receipt by receipt, and
tests/test_view_refresh.py a refresh equal to a full rebuild.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from itertools import groupby
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]

from ..contact.calendar import table_closures
from ..crashpoints import reached
from ..engine.batch import EMPTY_OCCASIONS, store_zones
from ..plan import Plan
from ..state import Connection, StateStore, dialect_of, transaction, upsert
from .evaluator import EventEvaluator
from .rebuild_sql import view_rows
from .refresh import Refresh, changed, inputs
from .store import VIEW, connect, receipt_from_row, record_from_json
from .view import CustomerView, Views

CHUNK = 20_000  # rows per fetch and per transaction: about 15 MB of views
# Key order everywhere, so SQLite walks its indexes in order instead of seeking.
_SEEN = "SELECT purchase_id FROM purchases WHERE purchase_date <= $through ORDER BY purchase_id"
_SEEN_OF_STORE = ("SELECT purchase_id FROM purchases JOIN lr_store_customers USING (customer_id) "
                  "WHERE purchase_date <= $through ORDER BY purchase_id")
_SEEN_OF_REFRESH = ("SELECT purchase_id FROM purchases WHERE purchase_date <= $through "
                    "AND (customer_id IN (SELECT customer_id FROM lr_refresh){anonymous}) "
                    "ORDER BY purchase_id")
# One statement per chunk: the database unpacks the ids itself, 3x faster than executemany.
_INSERT_SEEN = ("INSERT INTO seen_purchases (purchase_id, source) SELECT value, 'history' "
                "FROM ({ids}) AS ids WHERE true ON CONFLICT DO NOTHING")
_CLEAR = ("DELETE FROM {table} WHERE customer_id IN "
          "(SELECT customer_id FROM {table} ORDER BY customer_id LIMIT ?)")
# The customers who may be a store's (a superset: _OF_STORE keeps the store's own): those
# of its home, and those who bought there (one without a home store may be the store's).
_STORE_SCOPE = """SELECT customer_id FROM customers WHERE home_store = $store
UNION SELECT customer_id FROM purchases
WHERE store_id = $store AND customer_id IS NOT NULL AND purchase_date <= $through"""
# A store's customers: those whose customer-level actions carry the store's id
# (engine/contexts.py, scope_store), read from the view as rebuild_sql.py lays it out.
_OF_STORE = """SELECT customer_id, view FROM ({views}) AS views
WHERE coalesce(json_extract_string(view, '$.record.home_store'),
               json_extract_string(view, '$.last_positive_store'),
               json_extract_string(view, '$.last_receipt_store')) = $store"""
_STAGED = ("CREATE TEMP TABLE IF NOT EXISTS staged_views "
           "(customer_id TEXT PRIMARY KEY, view TEXT NOT NULL)")
_LISTED = ("CREATE TEMP TABLE IF NOT EXISTS refresh_customers "
           "(customer_id TEXT PRIMARY KEY, digest BIGINT)")
# Inside the refresh's transaction: the views of the listed customers the history no
# longer has, and the inputs of the listed ones as they are now.
_UNLISTED = ("DELETE FROM customer_views WHERE customer_id IN "
             "(SELECT customer_id FROM refresh_customers) "
             "AND customer_id NOT IN (SELECT customer_id FROM staged_views)")
_INPUTS_NOW = ("DELETE FROM view_inputs WHERE customer_id IN "
               "(SELECT customer_id FROM refresh_customers)",
               "INSERT INTO view_inputs (customer_id, digest) SELECT customer_id, digest "
               "FROM refresh_customers WHERE digest IS NOT NULL")
_UNSTAGE = ("INSERT INTO customer_views (customer_id, view) SELECT customer_id, view "
            "FROM staged_views WHERE true "
            "ON CONFLICT (customer_id) DO UPDATE SET view = excluded.view")
_STORES = upsert("view_stores", ("store_id", "region"), "store_id")
_META = upsert("view_meta", ("key", "value"), "key")


def _batches(cursor: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(CHUNK):
        yield rows


class _Scope:
    """What a rebuild replaces: every view, one store's customers' (`store`), or the
    customers whose inputs changed (`refresh` of some customers, listed in lr_refresh)."""

    def __init__(self, conn: Connection, store: str | None, refresh: Refresh | None) -> None:
        self.conn, self.store, self.refresh = conn, store, refresh
        self.some = refresh is not None and refresh.customers is not None
        self.whole = store is None and not self.some
        self.staging = "customer_views_next" if self.whole else "staged_views"
        # the POS's rows this rebuild replays: all of them, or its customers' only
        listed = "customer_id IN (SELECT customer_id FROM {})".format(
            "staged_views" if store is not None else "refresh_customers")
        self.among = "" if self.whole else f" AND {listed}"
        # the POS's receipts the history now has: a refresh's customers', and the
        # anonymous ones (never replayed; a store's run leaves them to the others)
        self.dated = f" AND (customer_id IS NULL OR {listed})" if self.some else self.among

    def write(self) -> AbstractContextManager[Connection]:
        """A transaction under the store's lock, or (every view) the whole ledger's."""
        if self.store is None:
            return transaction(self.conn)
        return transaction(self.conn, f"store:{self.store}")

    def swap(self) -> AbstractContextManager[Connection]:
        return transaction(self.conn, whole=True) if self.store is None else self.write()

    def select(self, through: dt.date) -> tuple[str | None, dict[str, Any]]:
        """The customers to fold (None: every one) and the query's parameters."""
        if self.store is not None:
            return _STORE_SCOPE, {"store": self.store, "through": through}
        return ("SELECT customer_id FROM lr_refresh" if self.some else None), {}


def _clear(scope: _Scope, table: str | None = None) -> None:
    """Empty the staging table in short transactions (one DELETE would hold the lock
    for seconds at a million views)."""
    if not scope.whole:
        scope.conn.execute(_STAGED)  # temporary tables: this connection's alone
        scope.conn.execute("DELETE FROM staged_views")
        if scope.some:
            scope.conn.execute(_LISTED)
            scope.conn.execute("DELETE FROM refresh_customers")
        return
    clear = _CLEAR.format(table=table or scope.staging)
    while True:
        with scope.write() as conn:
            if conn.execute(clear, (CHUNK,)).rowcount == 0:
                return


def _stage(scope: _Scope, con: duckdb.DuckDBPyConnection, through: dt.date,
           ev: EventEvaluator) -> None:
    _clear(scope)  # left over by a rebuild that did not finish
    if scope.some:
        _list(scope, con)
    customers: list[str] = []
    with view_rows(con, through, ev.plan, ev.views, ev.crossings,
                   *scope.select(through)) as select:
        views, params = select, {}
        if scope.store is not None:
            views, params = _OF_STORE.format(views=select), {"store": scope.store}
        for batch in _batches(con.execute(views + " ORDER BY customer_id", params)):
            with scope.write() as conn:
                conn.executemany(f"INSERT INTO {scope.staging} (customer_id, view) VALUES (?, ?)",
                                 batch)
            if scope.store is not None:
                customers.extend(row[0] for row in batch)
    _mark_seen(scope, con, through, customers)


def _mark_seen(scope: _Scope, con: duckdb.DuckDBPyConnection, through: dt.date,
               customers: list[str]) -> None:
    """The history's receipts (of the store's customers) count as seen at the POS."""
    insert_seen = _INSERT_SEEN.format(ids=dialect_of(scope.conn).json_ids)
    query = _SEEN
    if scope.refresh is not None and scope.some:
        # the listed customers' receipts; those without a customer if they changed
        query = _SEEN_OF_REFRESH.format(
            anonymous=" OR customer_id IS NULL" if scope.refresh.anonymous else "")
    if scope.store is not None:
        con.register("lr_store_customers", pa.table({"customer_id": pa.array(
            customers, pa.string())}))
        query = _SEEN_OF_STORE
    try:
        for batch in _batches(con.execute(query, {"through": through})):
            ids = json.dumps([row[0] for row in batch], ensure_ascii=False)
            with scope.write() as conn:
                conn.execute(insert_seen, (ids,))
    finally:
        if scope.store is not None:
            con.unregister("lr_store_customers")


def _list(scope: _Scope, con: duckdb.DuckDBPyConnection) -> None:
    """The customers to refresh and their inputs' digests, into refresh_customers."""
    for batch in _batches(con.execute("SELECT customer_id, digest FROM lr_refresh "
                                      "ORDER BY customer_id")):
        with scope.write() as conn:
            conn.executemany("INSERT INTO refresh_customers (customer_id, digest) "
                             "VALUES (?, ?)", batch)


def _keep_inputs(scope: _Scope, con: duckdb.DuckDBPyConnection) -> None:
    """Every view's inputs' digests, in place of the last ones (for the next night)."""
    _clear(scope, "view_inputs")
    for batch in _batches(con.execute("SELECT customer_id, digest FROM lr_inputs "
                                      "WHERE customer_id IS NOT NULL ORDER BY customer_id")):
        with scope.write() as conn:
            conn.executemany("INSERT INTO view_inputs (customer_id, digest) VALUES (?, ?)",
                             batch)


def _forget(conn: Connection) -> None:
    """The views are about to change beyond what the kept digests say: until a full
    rebuild keeps new ones, a night refreshes every view."""
    with transaction(conn):
        conn.execute("DELETE FROM view_meta WHERE key = 'definition'")


def _swap(conn: Connection) -> None:
    """The staged views become customer_views, the old ones the staging table (to be
    cleared). Renames only; no view or trigger reads these tables."""
    conn.execute("ALTER TABLE customer_views RENAME TO customer_views_old")
    conn.execute("ALTER TABLE customer_views_next RENAME TO customer_views")
    conn.execute("ALTER TABLE customer_views_old RENAME TO customer_views_next")


def _replay_pos(scope: _Scope, con: duckdb.DuckDBPyConnection, through: dt.date,
                ev: EventEvaluator) -> None:
    """Inside the swap transaction: POS customers and receipts the history lacks."""
    conn, among = scope.conn, scope.among
    pos = conn.execute(f"SELECT customer_id, record FROM pos_customers WHERE true{among}"
                       ).fetchall()
    # the few POS customers the customers table has (the history has them now)
    recorded = {row[0] for row in con.execute(
        "SELECT customer_id FROM customers WHERE list_contains($ids, customer_id)",
        {"ids": [customer_id for customer_id, _text in pos]}).fetchall()} if pos else set()
    known = []
    for customer_id, text in pos:
        if customer_id in recorded:
            known.append((customer_id,))
            continue
        view = _get(conn, ev.views, customer_id) or CustomerView(customer_id=customer_id)
        _put(conn, ev.views, view._replace(record=record_from_json(text)))
    conn.executemany("DELETE FROM pos_customers WHERE customer_id = ?", known)
    limit = (through + dt.timedelta(days=1)).isoformat()
    conn.execute(f"DELETE FROM pos_receipts WHERE purchased_at < ?{scope.dated}", (limit,))
    rows = conn.execute("SELECT purchase_id, customer_id, store_id, staff_id, purchased_at, "
                        "amount, currency, return_of FROM pos_receipts "
                        f"WHERE customer_id IS NOT NULL{among} "
                        "ORDER BY customer_id, purchased_at, purchase_id").fetchall()
    for customer_id, group in groupby(rows, key=lambda r: r[1]):
        view = _get(conn, ev.views, customer_id) or CustomerView(customer_id=customer_id)
        for row in group:
            view = ev.advance(view, receipt_from_row(row))
        _put(conn, ev.views, view)


def _get(conn: Connection, views: Views, customer_id: str) -> CustomerView | None:
    row = conn.execute("SELECT view FROM customer_views WHERE customer_id = ?",
                       (customer_id,)).fetchone()
    return views.from_json(row[0]) if row else None


def _put(conn: Connection, views: Views, view: CustomerView) -> None:
    conn.execute(VIEW, (view.customer_id, views.to_json(view)))


def _occasions(conn: Connection, con: duckdb.DuckDBPyConnection,
               timezone: str | None) -> None:
    """The stores' zones and the calendar's days, as the nightly run read them."""
    zones = store_zones(con, timezone)
    conn.execute("DELETE FROM view_zones")
    conn.executemany("INSERT INTO view_zones (store_id, timezone) VALUES (?, ?)",
                     zones.names().items())
    conn.execute(_META, ("timezone", timezone))
    conn.execute("DELETE FROM view_calendar")
    con.execute(EMPTY_OCCASIONS[0])
    rows = con.execute("SELECT CAST(date AS VARCHAR), name, kind, region FROM calendar "
                       "WHERE name IS NOT NULL").fetchall()
    conn.executemany("INSERT INTO view_calendar (date, name, kind, region) VALUES (?, ?, ?, ?)",
                     rows)


def _install(scope: _Scope, stores: dict[str, str | None],
             con: duckdb.DuckDBPyConnection) -> int:
    """Inside the swap transaction: the staged views in place, the stores' regions, the
    calendar's closings for the contact rules at checkout; the number of views replaced."""
    conn = scope.conn
    if scope.whole:
        _swap(conn)
    else:
        if scope.some:
            conn.execute(_UNLISTED)
            for statement in _INPUTS_NOW:
                conn.execute(statement)
        conn.execute(_UNSTAGE)
    if scope.store is None:
        conn.execute("DELETE FROM view_stores")
    conn.executemany(_STORES, stores.items())
    conn.execute("DELETE FROM view_closures")
    conn.executemany("INSERT INTO view_closures (region, date) VALUES (?, ?)",
                     [(c.region, str(c.date)) for c in table_closures(con)
                      if c.date is not None])
    views = "customer_views" if scope.whole else "staged_views"
    return int(conn.execute(f"SELECT count(*) FROM {views}").fetchone()[0])


def _meta(through: dt.date, plan: Plan, refresh: Refresh | None) -> list[tuple[str, str]]:
    meta = [("through", through.isoformat()), ("bundle", plan.bundle)]
    if refresh is not None:  # what the digests were computed with, for the next night
        meta += [("definition", refresh.definition), ("anonymous", refresh.anonymous_digest)]
    return meta


def rebuild(state: StateStore | str | Path, con: duckdb.DuckDBPyConnection,
            through: dt.date, plan: Plan, timezone: str | None = None,
            store: str | None = None, *, full: bool = False) -> int:
    """Refresh the views whose inputs changed since the last night (every view with
    `full`, or when the plan changed; with `store`, the views of that store's
    customers) from the clean tables in `con`, receipts dated up to `through`.

    The plan gives the crossing thresholds whose marks the views keep. The stores'
    time zones (`timezone`: the source's, for stores without one) and the calendar
    are kept for the point of sale too. Returns the number of views written.
    """
    con.execute("CREATE TABLE IF NOT EXISTS stores (store_id VARCHAR, region VARCHAR)")
    stores = dict(con.execute("SELECT store_id, region FROM stores").fetchall())
    ev = EventEvaluator(plan, stores)
    conn = connect(state)
    try:
        refresh = None
        if store is None:
            inputs(con, through)
            refresh = changed(conn, con, through, ev, full)
        scope = _Scope(conn, store, refresh)
        if not scope.some:
            _forget(conn)
        _stage(scope, con, through, ev)
        if scope.whole:
            _keep_inputs(scope, con)
        reached("in-rebuild")
        with scope.swap():
            count = _install(scope, stores, con)
            _occasions(conn, con, timezone)
            _replay_pos(scope, con, through, ev)
            conn.executemany(_META, _meta(through, plan, refresh))
        if scope.whole:
            _clear(scope)
    finally:
        conn.close()
        for table in ("lr_inputs", "lr_refresh"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return count
