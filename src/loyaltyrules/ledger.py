"""The ledger: every action ever emitted, and every run that emitted them.

The ledger is what makes runs idempotent. A run hands over all the actions it
computed; the ledger keeps the ones it has not seen (by action id) and records the
run, in one SQLite transaction. A re-run, a catch-up over dates already done, or a
run after a crash therefore emits each action exactly once.

SQLite is used in WAL mode with ``synchronous=FULL``: a transaction is either fully
on disk or absent after a crash (even ``kill -9``), and readers (a POS service) do
not block the nightly writer. See docs/ledger.md.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from .statefile import check_state

__all__ = [
    "SCHEMA_VERSION",
    "Ledger",
    "LedgerError",
    "RecordedRun",
    "RunRecord",
    "action_id",
    "migrate",
    "record_text",
]

BUSY_TIMEOUT_MS = 30_000
# How a connection syncs its commits (PRAGMA synchronous; docs/service.md): "full"
# fsyncs every commit, "normal" (WAL) keeps every commit through a process crash and
# may lose the last ones to an OS crash or power loss.
SYNC_MODES = ("full", "normal")
_ID_CHUNK = 500  # stays below SQLite's historical 999 bound on host parameters

# Migrations, in order: MIGRATIONS[n] brings a ledger from user_version n to n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE actions (
            action_id      TEXT PRIMARY KEY,
            policy         TEXT NOT NULL,
            policy_version INTEGER,
            bundle         TEXT,
            type           TEXT,
            customer_id    TEXT,
            store_id       TEXT,
            region         TEXT,
            as_of          TEXT,
            not_before     TEXT,
            due_by         TEXT,
            status         TEXT NOT NULL DEFAULT 'open',
            record         TEXT NOT NULL,
            created_run    TEXT NOT NULL
        )""",
        "CREATE INDEX actions_by_customer ON actions (customer_id)",
        "CREATE INDEX actions_by_run ON actions (created_run)",
        """CREATE TABLE runs (
            run_id            TEXT PRIMARY KEY,
            started_at        TEXT NOT NULL,
            finished_at       TEXT,
            bundle            TEXT,
            as_of             TEXT,
            through           TEXT,
            counts            TEXT NOT NULL,
            input_fingerprint TEXT,
            actions_offered   INTEGER NOT NULL,
            actions_new       INTEGER NOT NULL,
            recorded_at       TEXT NOT NULL
        )""",
    ),
    (  # 2: the contact rules' lifecycle (docs/contact-rules.md)
        "ALTER TABLE actions ADD COLUMN status_reason TEXT",
        "ALTER TABLE actions ADD COLUMN contact_day TEXT",
        "ALTER TABLE actions ADD COLUMN deferred_to TEXT",
        "ALTER TABLE actions ADD COLUMN merged_into TEXT",
        "ALTER TABLE actions ADD COLUMN decided_run TEXT",
        "UPDATE actions SET contact_day = as_of",
        "CREATE INDEX actions_by_contact_day ON actions (contact_day)",
        "CREATE INDEX actions_deferred ON actions (deferred_to) WHERE status = 'deferred'",
    ),
    (  # 3: the outbox, what each output has been given (docs/ledger.md, Delivery)
        """CREATE TABLE delivery_targets (
            target_id INTEGER PRIMARY KEY,
            place     TEXT NOT NULL UNIQUE
        )""",
        """CREATE TABLE deliveries (
            action_id    TEXT NOT NULL,
            target_id    INTEGER NOT NULL REFERENCES delivery_targets (target_id),
            sink         TEXT NOT NULL,
            delivered_at TEXT,
            PRIMARY KEY (action_id, target_id, sink)
        ) WITHOUT ROWID""",
        "CREATE INDEX deliveries_owed ON deliveries (target_id, sink, action_id) "
        "WHERE delivered_at IS NULL",
        # a run's dates are owed to its target until all their files are written,
        # dates without actions too (their empty files say "nothing to do")
        "ALTER TABLE runs ADD COLUMN delivery_target INTEGER",
        "ALTER TABLE runs ADD COLUMN delivered_at TEXT",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

ACTION_COLUMNS = (
    "action_id", "policy", "policy_version", "bundle", "type", "customer_id",
    "store_id", "region", "as_of", "not_before", "due_by",
)  # fmt: skip
_INSERT_ACTION = (
    f"INSERT INTO actions ({', '.join(ACTION_COLUMNS)}, record, created_run) "
    f"VALUES ({', '.join('?' * (len(ACTION_COLUMNS) + 2))}) "
    "ON CONFLICT (action_id) DO NOTHING"
)


_RUN_COLUMNS = (
    "run_id", "started_at", "finished_at", "bundle", "as_of", "through", "counts",
    "input_fingerprint", "actions_offered", "actions_new", "recorded_at",
)  # fmt: skip
_INSERT_RUN = (
    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))})"
)


class LedgerError(Exception):
    """The ledger cannot do what was asked (bad action, reused run id, newer schema)."""


def action_id(policy: str, subject: str, key: str) -> str:
    """The deterministic id of an action: 32 hex chars of sha256.

    The UTF-8 bytes of policy and subject are each prefixed by their byte length, so
    no two different triples share an encoding (``("a|b", "c")`` vs ``("a", "b|c")``);
    the key comes last and needs no prefix. The batch engine computes the same id in
    SQL (engine/ids.py); a test holds the two to the same results.
    """
    policy_bytes, subject_bytes = policy.encode("utf-8"), subject.encode("utf-8")
    encoded = (f"{len(policy_bytes)}:".encode() + policy_bytes
               + f"{len(subject_bytes)}:".encode() + subject_bytes + key.encode("utf-8"))
    return hashlib.sha256(encoded).hexdigest()[:32]


@dataclass(frozen=True)
class RunRecord:
    """What a run says about itself. ``counts`` is free-form (stored as JSON)."""

    run_id: str
    started_at: str
    bundle: str
    as_of: str
    through: str | None = None
    finished_at: str | None = None
    counts: Mapping[str, Any] = field(default_factory=dict)
    input_fingerprint: str | None = None


@dataclass(frozen=True)
class RecordedRun:
    """A run as stored: the run's own record plus what the ledger did with it."""

    run: RunRecord
    actions_offered: int
    actions_new: int
    recorded_at: str


def _json_default(value: object) -> str:
    """Exact decimals and dates become strings, as in the action record."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot store a value of type {type(value).__name__} in an action record")


def _dumps(value: object) -> str:
    """Compact JSON; keys keep their order, so a record read back (an export, a
    re-delivery) lists `reason.values` as the policy gave them."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def record_text(action: Mapping[str, Any]) -> str:
    """The `record` column of an action: how every path stores it."""
    return _dumps(action)


def _scalar(value: object) -> object:
    """A column value: dates as ISO text, Decimals as text, everything else as is."""
    if isinstance(value, (dt.date, decimal.Decimal)):
        return _json_default(value)
    return value


def _checked_id(action: Mapping[str, Any]) -> str:
    aid = action.get("action_id")
    if not isinstance(aid, str) or not aid:
        raise LedgerError("every action needs a non-empty string action_id")
    if not isinstance(action.get("policy"), str):
        raise LedgerError(f"action {aid} has no policy")
    return aid


def action_row(action: Mapping[str, Any], run_id: str) -> tuple[object, ...]:
    values = tuple(_scalar(action.get(column)) for column in ACTION_COLUMNS)
    return (*values, record_text(action), run_id)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the ledger schema to SCHEMA_VERSION in one transaction; return the old version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger schema version {version} is newer than this loyaltyrules "
                f"supports ({SCHEMA_VERSION}); upgrade loyaltyrules"
            )
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        # PRAGMA does not take parameters; the value is our own integer.
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return version


def connect_state(path: Path, sync: str = "full") -> sqlite3.Connection:
    """Open the state file the way every writer must: WAL, a busy timeout, and `sync`
    (one of SYNC_MODES; "full" unless a caller chose the POS trade-off). A file that
    cannot be a state is refused untouched (statefile.UnusableState).

    Shared by the ledger, the point-of-sale views and the outcomes, which keep their
    tables in the same file. Callers serialise use of the connection themselves.
    """
    if sync not in SYNC_MODES:
        raise ValueError(f"sync must be one of {', '.join(SYNC_MODES)} (got {sync!r})")
    check_state(path, SCHEMA_VERSION)  # before anything here can write to the file
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path),
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,  # each owner guards it with its own lock
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() not in ("wal", "memory"):  # ":memory:" (a state for one process)
        conn.close()
        raise LedgerError(f"cannot put the ledger {path.name} in WAL mode (got {mode})")
    conn.execute(f"PRAGMA synchronous = {sync.upper()}")  # checked against SYNC_MODES above
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: big nightly batches stay in memory
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: commit on success, else roll back.

    ``BEGIN IMMEDIATE`` takes the write lock first, so what is read inside cannot be
    changed by another writer before the commit.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already
            conn.execute("ROLLBACK")
        raise


class Ledger:
    """The state store. Open with ``Ledger.open(path)``; use as a context manager.

    One Ledger may be shared by threads (calls are serialised); several processes
    may open the same file (SQLite locking plus a busy timeout).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        """Open the ledger at ``path``, creating it or migrating its schema as needed."""
        db_path = Path(path)
        conn = connect_state(db_path)
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return cls(conn, db_path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def record_run(
        self, actions: Sequence[Mapping[str, Any]], run: RunRecord
    ) -> list[Mapping[str, Any]]:
        """Store the actions not yet known and the run, atomically; return the new ones.

        The result keeps input order; an id repeated within ``actions`` counts once
        (its first occurrence). Raises LedgerError if ``run.run_id`` was recorded before.
        """
        ids = [_checked_id(action) for action in actions]
        with self.transaction() as conn:
            new_ids = _insert(conn, actions, ids, run)
        return _first_occurrences(actions, new_ids)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction (see `immediate`)."""
        with self._lock, immediate(self._conn) as conn:
            yield conn

    def known_ids(self, ids: Iterable[str]) -> set[str]:
        """The subset of ``ids`` already in the ledger."""
        with self._lock:
            return known_in(self._conn, ids)

    def actions_for_customer(self, customer_id: str) -> list[dict[str, Any]]:
        """Every action recorded for a customer, oldest business date first.

        Each is the stored action record plus the ledger's ``status`` and ``created_run``.
        """
        query = (
            "SELECT record, status, created_run FROM actions WHERE customer_id = ? "
            "ORDER BY as_of, rowid"
        )
        with self._lock:
            rows = self._conn.execute(query, (customer_id,)).fetchall()
        result: list[dict[str, Any]] = []
        for record, status, created_run in rows:
            action: dict[str, Any] = json.loads(record)
            action["status"] = status
            action["created_run"] = created_run
            result.append(action)
        return result

    def runs(self) -> list[RecordedRun]:
        """Every recorded run, in the order they were recorded."""
        query = f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs ORDER BY rowid"
        with self._lock:
            rows = self._conn.execute(query).fetchall()
        return [_recorded_run(row) for row in rows]

    def count(self, *, every: bool = False) -> int:
        """The number of actions emitted; with `every`, also those deferred, merged, expired."""
        where = "" if every else " WHERE status NOT IN ('deferred', 'merged', 'expired')"
        with self._lock:
            return int(self._conn.execute(f"SELECT count(*) FROM actions{where}").fetchone()[0])


def _insert(conn: sqlite3.Connection, actions: Sequence[Mapping[str, Any]], ids: list[str],
            run: RunRecord) -> set[str]:
    check_new_run(conn, run)
    # Skipping known ids first spares re-runs the JSON encoding of every record.
    known = known_in(conn, ids)
    rows = (
        action_row(action, run.run_id)
        for action, aid in zip(actions, ids, strict=True)
        if aid not in known
    )
    conn.executemany(_INSERT_ACTION, rows)
    # The new actions are exactly those now carrying this (unique) run id.
    new_ids = {
        r[0]
        for r in conn.execute(
            "SELECT action_id FROM actions WHERE created_run = ?", (run.run_id,)
        )
    }
    insert_run(conn, run, len(actions), len(new_ids))
    return new_ids


def known_in(conn: sqlite3.Connection, ids: Iterable[str]) -> set[str]:
    """The subset of ``ids`` already in the ledger (inside the caller's transaction)."""
    wanted = list(dict.fromkeys(ids))
    found: set[str] = set()
    for chunk in _chunks(wanted, _ID_CHUNK):
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT action_id FROM actions WHERE action_id IN ({marks})"
        found.update(r[0] for r in conn.execute(query, tuple(chunk)))
    return found

def check_new_run(conn: sqlite3.Connection, run: RunRecord) -> None:
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run.run_id,)).fetchone():
        raise LedgerError(f"run {run.run_id} is already recorded")


def insert_run(conn: sqlite3.Connection, run: RunRecord, offered: int, new: int) -> None:
    """The run's row (inside the caller's transaction)."""
    conn.execute(
        _INSERT_RUN,
        (
            run.run_id, run.started_at, run.finished_at, run.bundle, run.as_of,
            run.through, _dumps(dict(run.counts)), run.input_fingerprint,
            offered, new, _now(),
        ),
    )  # fmt: skip


def _recorded_run(row: tuple[Any, ...]) -> RecordedRun:
    run = RunRecord(
        run_id=row[0],
        started_at=row[1],
        finished_at=row[2],
        bundle=row[3],
        as_of=row[4],
        through=row[5],
        counts=json.loads(row[6]),
        input_fingerprint=row[7],
    )
    return RecordedRun(run=run, actions_offered=row[8], actions_new=row[9], recorded_at=row[10])


def _first_occurrences(actions: Sequence[Mapping[str, Any]], new_ids: set[str]
                       ) -> list[Mapping[str, Any]]:
    result: list[Mapping[str, Any]] = []
    for action in actions:
        aid = action["action_id"]
        if aid in new_ids:
            new_ids.discard(aid)
            result.append(action)
    return result


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
