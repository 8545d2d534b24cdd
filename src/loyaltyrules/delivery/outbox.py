"""The outbox (ledger schema 3): per action and sink, whether the host has been given
it (`deliveries`), and per run, whether all its dates are written
(`runs.delivery_target`, `runs.delivered_at`). Targets are named once, in
`delivery_targets`, by store and absolute path: a run of one store delivers that
store's actions to a target of its own, though another store's machine use the same
folder name (`''` is the store of a run of every store).

A run fills both inside the transaction that records its decisions, so an action is
never recorded without also being owed to the host. Writing the files comes after
the commit; rows are marked delivered only once their files are on disk. Whatever a
killed or failed run left unmarked, the next run (or `export`) to the same target
writes again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..contact.store import NOT_OUT, of_store
from ..sinks import action_line
from ..state import Connection, dialect_of
from .target import Target

__all__ = ["Owed", "Stored", "dates_of", "day_actions", "enqueue", "mark_delivered",
           "mark_runs", "owed", "owed_before", "owed_elsewhere", "runs_complete", "target_id"]

_OUT = f"status NOT IN ({', '.join(repr(s) for s in NOT_OUT)})"  # our own constants
_ENQUEUE = (
    "INSERT INTO deliveries (action_id, target_id, sink) "
    f"SELECT action_id, ?, ? FROM actions WHERE decided_run = ? AND {_OUT} "
    "ON CONFLICT DO NOTHING"
)
# the outbox rows of a target's sink among the ids of a JSON array (dialect.json_ids)
_WRITTEN = ("target_id = ? AND sink = ? AND delivered_at IS NULL "
            "AND action_id IN ({ids})")
_MARK = f"UPDATE deliveries SET delivered_at = ? WHERE {_WRITTEN}"
_OWED_BEFORE = (  # the columns of _WRITTEN are the outbox's alone
    f"SELECT count(*) FROM deliveries JOIN actions USING (action_id) WHERE {_WRITTEN} "
    "AND (decided_run IS NULL OR decided_run <> ?)"
)
# The order of a day's file: the order in which the contact rules emitted them.
_DAY = (
    f"SELECT action_id, record, record_is_line FROM actions WHERE contact_day = ? "
    f"AND {_OUT}{{mine}} ORDER BY as_of, policy, customer_id, action_id"
)


@dataclass(frozen=True)
class Stored:
    """An action as the ledger holds it: the record's text, parsed only when a sink
    needs the record (the JSON Lines sink copies a text that is already its line)."""

    action_id: str
    text: str
    is_line: bool

    def record(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.text)
        return found

    def line(self) -> str:
        """The action's JSON Lines line (sinks/jsonl.py)."""
        return self.text + "\n" if self.is_line else action_line(self.record())


@dataclass
class Owed:
    """What a target is still owed: dates to write, and the runs they complete."""

    days: set[dt.date] = field(default_factory=set)
    runs: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)  # id -> dates


def dates_of(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end, both included."""
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def target_id(conn: Connection, target: Target) -> int:
    """The target's number in the ledger, given one the first time it is named."""
    conn.execute("INSERT INTO delivery_targets (store_id, place) VALUES (?, ?) "
                 "ON CONFLICT DO NOTHING", (target.store or "", target.place))
    number = _known_id(conn, target)
    assert number is not None  # inserted just now, or before
    return number


def _known_id(conn: Connection, target: Target) -> int | None:
    row = conn.execute("SELECT target_id FROM delivery_targets WHERE store_id = ? "
                       "AND place = ?", (target.store or "", target.place)).fetchone()
    return None if row is None else int(row[0])


def enqueue(conn: Connection, run_id: str, target: Target) -> int:
    """Owe `target` this run's dates and every action it emitted (inside the run's
    transaction, after its run row); the number of outbox rows added."""
    number = target_id(conn, target)
    conn.execute("UPDATE runs SET delivery_target = ? WHERE run_id = ?", (number, run_id))
    return sum(conn.execute(_ENQUEUE, (number, sink, run_id)).rowcount
               for sink in target.sinks)


def _dates(first: str, last: str | None) -> tuple[dt.date, dt.date]:
    start = dt.date.fromisoformat(first)
    return start, dt.date.fromisoformat(last) if last else start


def owed(conn: Connection, target: Target) -> Owed:
    """The dates `target` is owed: those of its runs not fully delivered, and those
    holding actions not yet delivered to one of its sinks."""
    found = Owed()
    number = _known_id(conn, target)
    if number is None:
        return found
    for run_id, first, last in conn.execute(
            "SELECT run_id, as_of, through FROM runs "
            "WHERE delivery_target = ? AND delivered_at IS NULL", (number,)):
        start, end = found.runs[str(run_id)] = _dates(first, last)
        found.days.update(dates_of(start, end))
    for (day,) in conn.execute(
            "SELECT DISTINCT a.contact_day FROM deliveries AS d JOIN actions AS a "
            "USING (action_id) WHERE d.target_id = ? AND d.delivered_at IS NULL", (number,)):
        found.days.add(dt.date.fromisoformat(day))
    return found


def owed_elsewhere(conn: Connection, target: Target) -> dict[str, int]:
    """The store's targets other than `target` still owed actions, with how many (for a
    warning)."""
    rows = conn.execute(
        "SELECT t.place, count(DISTINCT d.action_id) FROM deliveries AS d "
        "JOIN delivery_targets AS t USING (target_id) "
        "WHERE d.delivered_at IS NULL AND t.store_id = ? AND t.place <> ? "
        "GROUP BY t.place ORDER BY t.place", (target.store or "", target.place))
    return {str(place): int(count) for place, count in rows}


def day_actions(conn: Connection, day: dt.date, store: str | None = None) -> list[Stored]:
    """The actions emitted on `day` (by runs and at the point of sale), in file order;
    of one store, or of all."""
    mine, who = of_store(store)
    rows = conn.execute(_DAY.format(mine=mine), (day.isoformat(), *who))
    return [Stored(str(aid), str(text), bool(line)) for aid, text, line in rows]


def _among(query: str, conn: Connection) -> str:
    return query.format(ids=dialect_of(conn).json_ids)


def owed_before(conn: Connection, target: Target, sink: str,
                action_ids: Sequence[str], run_id: str) -> int:
    """How many of these actions, owed to `sink` of `target`, another run decided."""
    number = _known_id(conn, target)
    if number is None:
        return 0
    ids = json.dumps(list(action_ids))
    query = _among(_OWED_BEFORE, conn)
    return int(conn.execute(query, (number, sink, ids, run_id)).fetchone()[0])


def mark_delivered(conn: Connection, target: Target, sink: str,
                   action_ids: Sequence[str]) -> int:
    """Record that `sink` of `target` now holds these actions (in the caller's
    transaction); the number of rows that were owed."""
    number = _known_id(conn, target)
    if number is None:
        return 0
    ids = json.dumps(list(action_ids))
    return int(conn.execute(_among(_MARK, conn), (_now(), number, sink, ids)).rowcount)


def mark_runs(conn: Connection, run_ids: Sequence[str]) -> None:
    """These runs' dates are all written (in the caller's transaction)."""
    conn.executemany("UPDATE runs SET delivered_at = ? WHERE run_id = ?",
                     [(_now(), run_id) for run_id in run_ids])


def runs_complete(owed_runs: dict[str, tuple[dt.date, dt.date]], written: set[dt.date]
                  ) -> Iterator[str]:
    """The owed runs whose every date is among the dates written."""
    for run_id, (start, end) in owed_runs.items():
        if written.issuperset(dates_of(start, end)):
            yield run_id
