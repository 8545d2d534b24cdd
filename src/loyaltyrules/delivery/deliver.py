"""Write business dates from the ledger to a target, and mark them delivered.

A date's files are always rebuilt whole from the ledger (every action emitted that
day, whichever run or the POS recorded it), so writing a date again gives the same
bytes, and a run re-delivers an earlier run's leftovers by rewriting their dates.
Files are replaced atomically (sinks/atomic.py); the outbox rows of what was written
are marked in one transaction after the files are on disk, even when a later file
fails (a full disk), so only the unwritten rest is owed to the next run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..crashpoints import reached
from ..ledger import connect_state
from ..sinks import Templates, write_csv, write_lines, write_task_sheets
from ..sinks.atomic import batched
from ..sinks.directory import Directory
from ..state import Connection, StateStore, transaction
from .outbox import (
    Stored,
    day_actions,
    mark_delivered,
    mark_runs,
    owed,
    owed_before,
    owed_elsewhere,
    runs_complete,
)
from .target import STDOUT, Target

__all__ = ["Delivery", "DeliveryFailed", "SheetText", "deliver"]


@dataclass(frozen=True)
class SheetText:
    """What task sheets show besides the records: template texts, policy titles, the
    pack's default locale, and who is who (names, locales; contact details when the
    store enables enrichment). A date's sheets are a function of these and the ledger."""

    templates: Templates | None = None
    titles: Mapping[str, str] | None = None
    locale: str = "en"
    directory: Directory | None = None


@dataclass
class Delivery:
    """What one delivery wrote."""

    target: Target
    days: list[dt.date] = field(default_factory=list)  # the dates written (or attempted)
    actions: int = 0  # action records written (each once, however many sinks)
    redelivered: int = 0  # of those, owed by an earlier run
    elsewhere: dict[str, int] = field(default_factory=dict)  # other targets still owed


class DeliveryFailed(Exception):
    """A file could not be written (a full disk, a folder without permission)."""

    def __init__(self, target: Target, path: str, error: OSError, delivery: Delivery) -> None:
        self.target, self.path, self.error, self.delivery = target, path, error, delivery
        super().__init__(f"cannot write {path}: {error.strerror or error}")


@dataclass
class _Progress:
    """What has reached the disk so far."""

    ids: dict[str, list[str]]  # sink -> action ids written
    days: set[dt.date] = field(default_factory=set)  # dates whose every sink is written


def deliver(state: StateStore | Path, target: Target, dates: Iterable[dt.date], run_id: str,
            text: SheetText = SheetText(), *, include_owed: bool = True) -> Delivery:
    """Write `dates` to `target`, and, with `include_owed`, every date it is still owed.

    `run_id` is the writer's (a run's id, or an export's): actions other runs decided
    are counted as re-delivered. Raises DeliveryFailed when a file cannot be written;
    what was written is marked delivered first.
    """
    conn = connect_state(state)
    try:
        left = owed(conn, target)
        days = sorted(set(dates) | (left.days if include_owed else set()))
        result = Delivery(target, days, elsewhere=owed_elsewhere(conn, target))
        done = _Progress({sink: [] for sink in target.sinks})
        try:
            _write(conn, target, days, done, text)
        except OSError as err:
            raise DeliveryFailed(target, err.filename or str(target), err, result) from err
        finally:
            reached("before-mark")
            with transaction(conn):  # the target's rows alone: other stores write at once
                result.redelivered = _mark(conn, target, done, run_id)
                mark_runs(conn, list(runs_complete(left.runs, done.days)))
        result.actions = len(set().union(*done.ids.values()))
        return result
    finally:
        conn.close()


def _write(conn: Connection, target: Target, days: list[dt.date], done: _Progress,
           text: SheetText) -> None:
    if target.per_day:
        for day in days:
            _write_day(target, day, day_actions(conn, day, target.store), done, text)
        return
    everything = [a for day in days for a in day_actions(conn, day, target.store)]
    sink = target.sinks[0]
    if sink == "csv":
        write_csv([a.record() for a in everything], target.place)
    else:
        write_lines((a.line() for a in everything),
                    STDOUT if target.kind == "stdout" else target.place)
    done.ids[sink] += [a.action_id for a in everything]
    done.days.update(days)
    reached("mid-delivery")


def _write_day(target: Target, day: dt.date, stored: list[Stored], done: _Progress,
               text: SheetText) -> None:
    actions = [a.record() for a in stored] if set(target.sinks) - {"jsonl"} else []
    writers: dict[str, Callable[[Path], object]] = {
        "jsonl": lambda path: write_lines((a.line() for a in stored), path),
        "csv": lambda path: write_csv(actions, path),
        "tasks": lambda path: write_task_sheets(actions, path, text.templates, text.locale,
                                                text.titles, prune=True,
                                                directory=text.directory),
    }
    Path(target.place).mkdir(parents=True, exist_ok=True)
    _clear_leftovers(target, day)
    with batched():  # the date's files reach the disk together (sinks/atomic.py)
        for sink in target.sinks:
            writers[sink](target.day_path(sink, day))
    for sink in target.sinks:
        done.ids[sink] += [a.action_id for a in stored]
    done.days.add(day)
    reached("mid-delivery")


def _clear_leftovers(target: Target, day: dt.date) -> None:
    """Temporary files of this date from a writer killed mid-write (the run lock is
    held, so no live writer owns them): `.<name>.<12 hex>.tmp` (sinks/atomic.py)."""
    folder, sheets = Path(target.place), target.day_path("tasks", day)
    names = [f".{target.day_path(sink, day).name}.*.tmp" for sink in ("jsonl", "csv")]
    names.append(f".rejects-{day}.jsonl.*.tmp")  # the run's rejects file, same folder
    stale = [p for name in names for p in folder.glob(name)] + list(sheets.glob(".*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)


def _mark(conn: Connection, target: Target, done: _Progress, run_id: str) -> int:
    """Mark what was written; the number of actions an earlier run had left owed."""
    earlier = 0
    for sink, ids in done.ids.items():
        if ids:
            earlier = max(earlier, owed_before(conn, target, sink, ids, run_id))
            mark_delivered(conn, target, sink, ids)
    return earlier
