"""Customer views in the state, beside the ledger (docs/embedding.md).

Own tables, created if missing: `customer_views` (one JSON view per customer),
`seen_purchases` (every purchase_id applied, so a receipt counts once),
`pos_receipts` and `pos_customers` (what the POS applied, replayed by the nightly
rebuild while the history does not have it yet), `view_stores`, `view_closures` (the
calendar table's closings, for the contact rules at checkout), `view_meta`.
Connections are the ledger's (WAL and a busy timeout on SQLite), so a POS and the
nightly job can write the state at once; every write is one transaction
(state.transaction) under the locks of its store and customer. The sync mode is the
caller's (ledger.SYNC_MODES): "full" by default, "normal" for `serve` (docs/service.md).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from ..contact.checkout import CLOSURES_DDL
from ..ledger import connect_state
from ..state import (
    Busy,
    Connection,
    StateStore,
    ensure_tables,
    transaction,
    upsert,
)
from ..statefile import as_state
from .view import CustomerRecord, CustomerView, Receipt, Views

T = TypeVar("T")
log = logging.getLogger("loyaltyrules.event")

CHECKPOINT_EVERY = 0.2  # seconds between background checkpoints (sync "normal")
WAL_LIMIT_PAGES = 16_384  # the writer's own checkpoint threshold then (64 MiB of 4 KiB pages)

# False inside `without_waiting()`: a call that would wait for a lock raises Busy instead.
_WAITING: ContextVar[bool] = ContextVar("loyaltyrules_store_waiting", default=True)


__all__ = ["Busy", "Tx", "ViewStore", "connect", "without_waiting"]


@contextmanager
def without_waiting() -> Iterator[None]:
    """Store calls in this block raise Busy rather than wait for the store's lock or
    the state file's write lock (held by another thread, or by a nightly run).

    For a caller on an event loop: try the call inline, and hand it to a thread that
    may wait only when it is Busy. Context variables are per thread and per asyncio
    task, so other callers keep waiting as usual."""
    token = _WAITING.set(False)
    try:
        yield
    finally:
        _WAITING.reset(token)


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS customer_views (customer_id TEXT PRIMARY KEY, view TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS customer_views_next "
    "(customer_id TEXT PRIMARY KEY, view TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS seen_purchases (purchase_id TEXT PRIMARY KEY, source TEXT)",
    """CREATE TABLE IF NOT EXISTS pos_receipts (
        purchase_id TEXT PRIMARY KEY, customer_id TEXT, store_id TEXT NOT NULL,
        staff_id TEXT, purchased_at TEXT NOT NULL, amount TEXT NOT NULL, currency TEXT,
        return_of TEXT, recorded_at TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS pos_customers (customer_id TEXT PRIMARY KEY, record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS view_stores (store_id TEXT PRIMARY KEY, region TEXT)",
    "CREATE TABLE IF NOT EXISTS view_meta (key TEXT PRIMARY KEY, value TEXT)",
    # What each view was last computed from (event/refresh.py), for the next night.
    "CREATE TABLE IF NOT EXISTS view_inputs (customer_id TEXT PRIMARY KEY, digest BIGINT NOT NULL)",
    CLOSURES_DDL,
    # The stores' time zones and the calendar, for windows in hours and calendar
    # schedules at the point of sale; written by the nightly rebuild.
    "CREATE TABLE IF NOT EXISTS view_zones (store_id TEXT PRIMARY KEY, timezone TEXT)",
    "CREATE TABLE IF NOT EXISTS view_calendar (date TEXT, name TEXT, kind TEXT, region TEXT)",
)
RECEIPT_COLUMNS = ("purchase_id", "customer_id", "store_id", "staff_id", "purchased_at",
                   "amount", "currency", "return_of")


def connect(state: StateStore | str | Path, sync: str = "full") -> Connection:
    conn = connect_state(state, sync)  # guarded by ViewStore's lock
    ensure_tables(conn, SCHEMA)
    return conn


_SEEN = "INSERT INTO seen_purchases (purchase_id, source) VALUES (?, 'pos') ON CONFLICT DO NOTHING"
_RECEIPT = upsert("pos_receipts", (*RECEIPT_COLUMNS, "recorded_at"), "purchase_id")
_CUSTOMER = upsert("pos_customers", ("customer_id", "record"), "customer_id")
VIEW = upsert("customer_views", ("customer_id", "view"), "customer_id")


def record_json(record: CustomerRecord) -> str:
    data = asdict(record)
    for name in ("birthday", "joined_on"):
        data[name] = data[name].isoformat() if data[name] else None
    return json.dumps(data, sort_keys=True)


def record_from_json(text: str) -> CustomerRecord:
    data = json.loads(text)
    for name in ("birthday", "joined_on"):
        data[name] = dt.date.fromisoformat(data[name]) if data[name] else None
    return CustomerRecord(**data)


class Tx:
    """The operations of one write transaction (see ViewStore.write).

    Reads go through the transaction's own cache and writes wait in it: the purchases
    claimed, the receipts logged and the last view of each customer changed are
    written in one statement each by `flush`, before the commit. So a group of
    receipts (Engine.on_purchases) costs a few statements, not a few per receipt, and
    a customer's view is decoded and encoded once per group. Nothing outside this
    class reads those three tables inside the transaction (the contact rules read
    the ledger), so the deferred writes change no answer."""

    def __init__(self, conn: Connection, views: Views) -> None:
        self.conn = conn
        self.views = views
        self._views: dict[str, CustomerView | None] = {}  # read or written here
        self._changed: set[str] = set()
        self._seen: set[str] = set()  # claimed here, or found in the state
        self._asked: set[str] = set()  # looked up in seen_purchases
        self._claims: list[tuple[str]] = []
        self._receipts: list[tuple[Any, ...]] = []

    def prefetch(self, purchase_ids: Sequence[str], customer_ids: Sequence[str]) -> None:
        """Look up a group's purchases and customers (and their referrers) in a few
        queries, ahead of the receipt-by-receipt work."""
        wanted = [p for p in dict.fromkeys(purchase_ids) if p not in self._asked]
        for rows in _in_chunks(self.conn, _SEEN_IN, wanted):
            self._seen.update(row[0] for row in rows)
        self._asked.update(wanted)
        self._load(customer_ids)
        referrers = [v.record.referred_by for v in self._views.values()
                     if v is not None and v.record is not None and v.record.referred_by]
        self._load(referrers)

    def _load(self, customer_ids: Sequence[str]) -> None:
        wanted = [c for c in dict.fromkeys(customer_ids) if c not in self._views]
        for rows in _in_chunks(self.conn, _VIEWS_IN, wanted):
            for customer_id, text in rows:
                self._views[customer_id] = self.views.from_json(text)
        for customer_id in wanted:
            self._views.setdefault(customer_id, None)

    def claim(self, purchase_id: str) -> bool:
        """Mark a purchase seen; False when it was seen before (a duplicate)."""
        if purchase_id in self._seen:
            return False
        self._seen.add(purchase_id)
        if purchase_id not in self._asked:  # not looked up ahead: claimed at once
            self._asked.add(purchase_id)
            return self.conn.execute(_SEEN, (purchase_id,)).rowcount == 1
        self._claims.append((purchase_id,))
        return True

    def log_receipt(self, r: Receipt) -> None:
        self._receipts.append((r.purchase_id, r.customer_id, r.store_id, r.staff_id,
                               r.purchased_at.isoformat(), str(r.amount), r.currency,
                               r.return_of, _now()))

    def log_customer(self, record: CustomerRecord) -> None:
        self.conn.execute(_CUSTOMER, (record.customer_id, record_json(record)))

    def view(self, customer_id: str) -> CustomerView | None:
        if customer_id not in self._views:
            self._load([customer_id])
        return self._views[customer_id]

    def put(self, view: CustomerView) -> None:
        self._views[view.customer_id] = view
        self._changed.add(view.customer_id)

    def flush(self) -> None:
        """Write what waits: claims, receipts, then each changed view once."""
        if self._claims and self.conn.executemany(_SEEN, self._claims).rowcount \
                != len(self._claims):
            # Another connection claimed one of them since the lookup (possible only
            # on PostgreSQL, for a purchase id sent with another store and customer):
            # nothing of this transaction is kept, and a retry finds it seen.
            raise Busy("a purchase of this call was claimed by another writer meanwhile")
        if self._receipts:
            self.conn.executemany(_RECEIPT, self._receipts)
        if self._changed:
            to_json = self.views.to_json
            self.conn.executemany(VIEW, [(c, to_json(v)) for c in sorted(self._changed)
                                         if (v := self._views[c]) is not None])
        self._claims, self._receipts, self._changed = [], [], set()


IN_CHUNK = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's limits
_SEEN_IN = "SELECT purchase_id FROM seen_purchases WHERE purchase_id IN ({})"
_VIEWS_IN = "SELECT customer_id, view FROM customer_views WHERE customer_id IN ({})"


def _in_chunks(conn: Connection, query: str, ids: Sequence[str]) -> Iterator[list[Any]]:
    """The rows of `query` (one IN list) for `ids`, IN_CHUNK ids per statement."""
    for at in range(0, len(ids), IN_CHUNK):
        part = ids[at:at + IN_CHUNK]
        yield conn.execute(query.format(", ".join("?" * len(part))), part).fetchall()


class Checkpointer:
    """Copies the WAL into the database file off the request path.

    SQLite checkpoints inside the commit that takes the WAL past 1,000 pages, with
    two fsyncs; at about 7 pages per receipt that stalled every 140th receipt for
    milliseconds (far more on a disk with fsync spikes). This thread runs PASSIVE
    checkpoints, which never block a writer, on its own connection; the writer's
    automatic checkpoint, raised to WAL_LIMIT_PAGES, then has only the last frames
    to copy before the WAL starts over, so the file stays bounded.
    """

    def __init__(self, path: Path, sync: str, every: float = CHECKPOINT_EVERY) -> None:
        self._conn = connect_state(path, sync)
        assert isinstance(self._conn, sqlite3.Connection)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        failing = False
        while not self._stop.wait(self._every):
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                failing = False
            except sqlite3.Error as err:  # the writer's own checkpoint still bounds the WAL
                if not failing:
                    log.warning("background checkpoint failed: %s", type(err).__name__)
                failing = True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._conn.close()


class ViewStore:
    """The views of a state; one store may be shared by threads."""

    def __init__(self, state: StateStore | str | Path, views: Views, sync: str = "full"
                 ) -> None:
        self.state = as_state(state)
        self.views = views  # the plan's view layout (metric states, JSON)
        self.sync = sync
        self._conn = connect(self.state, sync)
        self._lock = threading.Lock()
        self._checkpointer: Checkpointer | None = None

    def ledger_ready(self) -> None:
        """Call once the ledger's tables exist (after ledger.migrate). With sync
        "normal" on a file, checkpoints move to a background thread from here on
        (PostgreSQL checkpoints by itself)."""
        path = getattr(self.state, "path", Path(":memory:"))
        with self._lock:
            if self.sync == "normal" and path != Path(":memory:") \
                    and self._checkpointer is None:
                self._conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_LIMIT_PAGES:d}")
                self._checkpointer = Checkpointer(path, self.sync)

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None
            self._conn.close()

    def write(self, work: Callable[[Tx], T], *keys: str) -> T:
        """Run `work` in one transaction under the locks of `keys` (`store:S`,
        `customer:C`; state.transaction): all of it is kept, or none. Inside
        without_waiting() a lock held elsewhere raises Busy, nothing written."""
        wait = _WAITING.get()
        with self._held(), transaction(self._conn, *keys, wait=wait):
            tx = Tx(self._conn, self.views)
            result = work(tx)
            tx.flush()
            return result

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run `work` on the connection, serialised with the other calls."""
        with self._held():
            return work(self._conn)

    @contextmanager
    def _held(self) -> Iterator[None]:
        """The store's lock: waited for, or Busy at once inside without_waiting()."""
        if not self._lock.acquire(blocking=_WAITING.get()):
            raise Busy("the state file is in use by another call")
        try:
            yield
        finally:
            self._lock.release()

    def view(self, customer_id: str) -> CustomerView | None:
        with self._lock:
            return Tx(self._conn, self.views).view(customer_id)

    def stores(self) -> dict[str, str | None]:
        with self._lock:
            rows = self._conn.execute("SELECT store_id, region FROM view_stores").fetchall()
        return {str(store): region for store, region in rows}

    def meta(self) -> dict[str, str]:
        with self._lock:
            return {str(k): str(v) for k, v in self._conn.execute(
                "SELECT key, value FROM view_meta").fetchall()}

    def zones(self) -> dict[str, str | None]:
        with self._lock:
            return dict(self._conn.execute("SELECT store_id, timezone FROM view_zones"))

    def calendar_rows(self) -> list[tuple[str, str, str | None, str | None]]:
        with self._lock:
            return list(self._conn.execute("SELECT date, name, kind, region FROM view_calendar"))


def receipt_from_row(row: Sequence[Any]) -> Receipt:
    """A receipt from (purchase_id, customer_id, store_id, staff_id, purchased_at, amount,
    currency, return_of), as DuckDB or the pos_receipts table give it."""
    at = row[4] if isinstance(row[4], dt.datetime) else dt.datetime.fromisoformat(row[4])
    return Receipt(purchase_id=row[0], customer_id=row[1], store_id=row[2], staff_id=row[3],
                   purchased_at=at, amount=Decimal(row[5]), currency=row[6], return_of=row[7])


def chunks(rows: Iterator[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
