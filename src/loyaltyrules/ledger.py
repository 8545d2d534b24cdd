"""The ledger: every action ever emitted, and every run that emitted them.

The ledger is what makes runs idempotent. A run hands over all the actions it
computed; the ledger keeps the ones it has not seen (by action id) and records the
run, in one transaction. A re-run, a catch-up over dates already done, or a run
after a crash therefore emits each action exactly once.

It lives in a state store (state/): a SQLite file in WAL mode with
``synchronous=FULL``, or a PostgreSQL database; either way a transaction is either
fully committed or absent after a crash (even ``kill -9``), and readers (a POS
service) do not block the nightly writer. See docs/ledger.md and docs/postgresql.md.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any

from .sinks.record import ActionRecordError, in_schema_order
from .state import (
    SQLITE,
    SYNC_MODES,
    Connection,
    Dialect,
    StateStore,
    Variant,
    dialect_of,
    transaction,
)
from .state.sqlite import BUSY_TIMEOUT_MS
from .statefile import as_state

__all__ = [
    "OUTCOMES_DDL",
    "SCHEMA_VERSION",
    "Ledger",
    "LedgerError",
    "RecordedRun",
    "RunRecord",
    "action_id",
    "connect_state",
    "migrate",
    "stored_record",
]

__all__ += ["BUSY_TIMEOUT_MS", "SYNC_MODES"]  # re-exported: where they were first defined
_ID_CHUNK = 500  # stays below SQLite's historical 999 bound on host parameters

# What hosts report back (outcomes/): one row per action, the latest outcome.
OUTCOMES_DDL = """CREATE TABLE IF NOT EXISTS outcomes (
    action_id      TEXT PRIMARY KEY,
    status         TEXT NOT NULL,
    completed_at   TEXT NOT NULL,
    completed_date TEXT NOT NULL,
    sort_key       TEXT NOT NULL,
    staff_id       TEXT,
    topic          TEXT NOT NULL,
    digest         TEXT NOT NULL,
    imported_at    TEXT NOT NULL
)"""

# PostgreSQL has no rowid: `seq` keeps the order rows were recorded in.
_SEQ = "seq BIGINT GENERATED ALWAYS AS IDENTITY"

# Migrations, in order: MIGRATIONS[n] brings a ledger from schema version n to n + 1
# (SQLite: PRAGMA user_version; PostgreSQL: the schema_version table). A step that
# the two spell differently is a Variant.
MIGRATIONS: tuple[tuple[str | Variant, ...], ...] = (
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
            created_run    TEXT NOT NULL{seq}
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
            recorded_at       TEXT NOT NULL{seq}
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
            target_id {key},
            place     TEXT NOT NULL UNIQUE
        )""",
        """CREATE TABLE deliveries (
            action_id    TEXT NOT NULL,
            target_id    {id} NOT NULL REFERENCES delivery_targets (target_id),
            sink         TEXT NOT NULL,
            delivered_at TEXT,
            PRIMARY KEY (action_id, target_id, sink)
        ){without_rowid}""",
        "CREATE INDEX deliveries_owed ON deliveries (target_id, sink, action_id) "
        "WHERE delivered_at IS NULL",
        # a run's dates are owed to its target until all their files are written,
        # dates without actions too (their empty files say "nothing to do")
        "ALTER TABLE runs ADD COLUMN delivery_target INTEGER",
        "ALTER TABLE runs ADD COLUMN delivered_at TEXT",
    ),
    (  # 4: stores sharing one ledger (docs/postgresql.md, Stores): a run's store, and
       # outputs named per store (two stores' machines may use the same folder name);
       # the outcomes table with the ledger (runs read it inside their transactions)
        "ALTER TABLE runs ADD COLUMN store_id TEXT",
        OUTCOMES_DDL,
        "CREATE INDEX actions_by_store_day ON actions (store_id, contact_day)",
        Variant(
            sqlite=(  # SQLite cannot drop a constraint: the table is rebuilt
                """CREATE TABLE delivery_targets_4 (
                    target_id INTEGER PRIMARY KEY,
                    store_id  TEXT NOT NULL DEFAULT '',
                    place     TEXT NOT NULL,
                    UNIQUE (store_id, place)
                )""",
                "INSERT INTO delivery_targets_4 (target_id, place) "
                "SELECT target_id, place FROM delivery_targets",
                "DROP TABLE delivery_targets",
                "ALTER TABLE delivery_targets_4 RENAME TO delivery_targets",
            ),
            postgresql=(
                "ALTER TABLE delivery_targets ADD COLUMN store_id TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE delivery_targets DROP CONSTRAINT delivery_targets_place_key",
                "ALTER TABLE delivery_targets ADD UNIQUE (store_id, place)",
            ),
        ),
    ),
    (  # 5: whether `record` is already the action's JSON Lines line (delivery copies it
       # as it is); NULL for rows written before, which are parsed and re-encoded
        "ALTER TABLE actions ADD COLUMN record_is_line BOOLEAN",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
# What the shared CREATE TABLE texts above leave to each dialect.
_DDL = {
    "sqlite": {"seq": "", "key": "INTEGER PRIMARY KEY", "id": "INTEGER",
               "without_rowid": " WITHOUT ROWID"},
    "postgresql": {"seq": f",\n            {_SEQ}",
                   "key": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                   "id": "BIGINT", "without_rowid": ""},
}

ACTION_COLUMNS = (
    "action_id", "policy", "policy_version", "bundle", "type", "customer_id",
    "store_id", "region", "as_of", "not_before", "due_by",
)  # fmt: skip
_INSERT_ACTION = (
    f"INSERT INTO actions ({', '.join(ACTION_COLUMNS)}, record, record_is_line, created_run) "
    f"VALUES ({', '.join('?' * (len(ACTION_COLUMNS) + 3))}) "
    "ON CONFLICT (action_id) DO NOTHING"
)


_RUN_COLUMNS = (
    "run_id", "started_at", "finished_at", "bundle", "as_of", "through", "counts",
    "input_fingerprint", "actions_offered", "actions_new", "recorded_at", "store_id",
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
    store: str | None = None  # the one store the run was for; None: every store


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


# Compact JSON; keys keep their order, so a record read back (an export, a
# re-delivery) lists `reason.values` as the policy gave them. One encoder for every
# record: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)
# The same, refusing NaN and infinities as the JSON Lines sink does (sinks/jsonl.py).
_LINE_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                                 default=_json_default)


def _dumps(value: object) -> str:
    return _ENCODER.encode(value)


def stored_record(action: Mapping[str, Any]) -> tuple[str, bool]:
    """The `record` column of an action and whether it is the action's JSON Lines line.

    A record the JSON Lines sink accepts is stored with its fields in schema order
    (sinks/record.py), which is then, byte for byte, the line that sink writes for the
    record read back (dates and Decimals are text in both), so delivery copies it
    without parsing. Any other is stored as given (its delivery fails as before)."""
    try:
        ordered = in_schema_order(action)
    except ActionRecordError:
        return _dumps(action), False
    try:
        return _LINE_ENCODER.encode(ordered), True
    except ValueError:  # NaN or an infinity: the sink refuses it at delivery
        return _dumps(ordered), False


_PLAIN = frozenset((str, int, type(None)))  # column values stored as they are
_COLUMN_VALUES = itemgetter(*ACTION_COLUMNS)


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
    """The actions row of a record: its columns, record text, whether that is its JSON
    Lines line, and the run."""
    try:  # one C call per record: this runs for every action of a night
        values = _COLUMN_VALUES(action)
    except KeyError:
        values = tuple(action.get(column) for column in ACTION_COLUMNS)
    if not _PLAIN.issuperset(map(type, values)):  # the engine's are all plain already
        values = tuple(_scalar(v) for v in values)
    return (*values, *stored_record(action), run_id)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def migrate(conn: Connection) -> int:
    """Bring the ledger schema to SCHEMA_VERSION in one transaction; return the old version.

    The transaction waits for every other writer (on PostgreSQL, the stores' runs
    and services that open the ledger at once migrate it one after the other)."""
    dialect = dialect_of(conn)
    if dialect.schema_version(conn) == SCHEMA_VERSION:
        return SCHEMA_VERSION  # the usual case: nothing to wait for
    with transaction(conn, whole=True):
        version = dialect.schema_version(conn)
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger schema version {version} is newer than this loyaltyrules "
                f"supports ({SCHEMA_VERSION}); upgrade loyaltyrules"
            )
        for step in range(version, SCHEMA_VERSION):
            for statement in migration_step(step, dialect):
                conn.execute(statement)
        dialect.set_schema_version(conn, SCHEMA_VERSION)
    return version


def migration_step(step: int, dialect: Dialect = SQLITE) -> list[str]:
    """The statements that bring a ledger from schema version `step` to `step + 1`."""
    return [statement.format(**_DDL[dialect.name])
            for entry in MIGRATIONS[step] for statement in dialect.pick(entry)]


def connect_state(state: StateStore | str | Path, sync: str = "full") -> Connection:
    """Open the state the way every writer must: checked first, then (SQLite) WAL, a
    busy timeout and `sync` (one of SYNC_MODES; "full" unless a caller chose the POS
    trade-off). A state that cannot be one is refused untouched
    (statefile.UnusableState).

    Shared by the ledger, the point-of-sale views and the outcomes, which keep their
    tables in the same state. Callers serialise use of the connection themselves.
    """
    if sync not in SYNC_MODES:
        raise ValueError(f"sync must be one of {', '.join(SYNC_MODES)} (got {sync!r})")
    store = as_state(state)
    store.check(SCHEMA_VERSION)  # before anything here can write to it
    return store.open(sync)


class Ledger:
    """The ledger. Open with ``Ledger.open(state)``; use as a context manager.

    One Ledger may be shared by threads (calls are serialised); several processes
    may open the same state (SQLite locking plus a busy timeout; PostgreSQL's).
    A ledger opened for one `store` writes under that store's lock (state.transaction).
    """

    def __init__(self, conn: Connection, state: StateStore, store: str | None = None) -> None:
        self._conn = conn
        self.state = state
        self.store = store
        self._lock = threading.Lock()

    @classmethod
    def open(cls, state: StateStore | str | Path, store: str | None = None) -> Ledger:
        """Open the ledger in ``state`` (a path, a URL, or a StateStore), creating it or
        migrating its schema as needed."""
        located = as_state(state)
        conn = connect_state(located)
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return cls(conn, located, store)

    @property
    def path(self) -> Path:
        """The SQLite file (a PostgreSQL ledger has none)."""
        return Path(getattr(self.state, "path", str(self.state)))

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
    def transaction(self) -> Iterator[Connection]:
        """The connection inside one write transaction (state.transaction): of this
        ledger's store, or of the whole ledger."""
        keys = (f"store:{self.store}",) if self.store is not None else ()
        with self._lock, transaction(self._conn, *keys, whole=self.store is None) as conn:
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
            f"ORDER BY as_of, {dialect_of(self._conn).insertion_order}"
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
        order = dialect_of(self._conn).insertion_order
        query = f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs ORDER BY {order}"
        with self._lock:
            rows = self._conn.execute(query).fetchall()
        return [_recorded_run(row) for row in rows]

    def count(self, *, every: bool = False) -> int:
        """The number of actions emitted; with `every`, also those deferred, merged, expired."""
        where = "" if every else " WHERE status NOT IN ('deferred', 'merged', 'expired')"
        with self._lock:
            return int(self._conn.execute(f"SELECT count(*) FROM actions{where}").fetchone()[0])


def _insert(conn: Connection, actions: Sequence[Mapping[str, Any]], ids: list[str],
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


def known_in(conn: Connection, ids: Iterable[str]) -> set[str]:
    """The subset of ``ids`` already in the ledger (inside the caller's transaction)."""
    wanted = list(dict.fromkeys(ids))
    found: set[str] = set()
    for chunk in _chunks(wanted, _ID_CHUNK):
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT action_id FROM actions WHERE action_id IN ({marks})"
        found.update(r[0] for r in conn.execute(query, tuple(chunk)))
    return found

def check_new_run(conn: Connection, run: RunRecord) -> None:
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run.run_id,)).fetchone():
        raise LedgerError(f"run {run.run_id} is already recorded")


def insert_run(conn: Connection, run: RunRecord, offered: int, new: int) -> None:
    """The run's row (inside the caller's transaction)."""
    conn.execute(
        _INSERT_RUN,
        (
            run.run_id, run.started_at, run.finished_at, run.bundle, run.as_of,
            run.through, _dumps(dict(run.counts)), run.input_fingerprint,
            offered, new, _now(), run.store,
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
        store=row[11],
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
