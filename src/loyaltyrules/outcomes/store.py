"""Import a host's outcomes into the ledger file: idempotent, order-independent.

One outcome is kept per action: the one with the latest completed_at (wall time as
written), ties broken by content digest. Importing the same file twice, or two files
in either order, therefore ends in the same state, and a repeat changes nothing.
The ledger's `actions.status` mirrors the kept outcome's status for actions that are
open or carry an outcome status (contact-rule statuses such as deferred are left alone).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..sinks.atomic import atomic_text_file
from ..sources.rejects import RejectRecord
from ..state import Connection, StateStore, transaction
from .read import STATUSES, Outcome, RawRow, check_row, read_rows
from .state import connect, known_action_ids

__all__ = ["ImportResult", "import_outcomes", "write_rejects"]

_MIRRORED = ("open", *STATUSES)  # ledger statuses an outcome may overwrite
_UPSERT = """INSERT INTO outcomes (action_id, status, completed_at, completed_date, sort_key,
                                   staff_id, topic, digest, imported_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (action_id) DO UPDATE SET
                status = excluded.status, completed_at = excluded.completed_at,
                completed_date = excluded.completed_date, sort_key = excluded.sort_key,
                staff_id = excluded.staff_id, topic = excluded.topic,
                digest = excluded.digest, imported_at = excluded.imported_at"""


@dataclass
class ImportResult:
    """Counts of one import. rows_read = accepted rows + rows with rejects."""

    rows_read: int = 0
    new: int = 0  # actions that had no outcome
    replaced: int = 0  # a later outcome replaced the recorded one
    unchanged: int = 0  # the same outcome was already recorded
    superseded: int = 0  # a later outcome (recorded, or in the file) wins over this row
    rows_rejected: int = 0
    rejects: list[RejectRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, int]:
        return {"rows_read": self.rows_read, "new": self.new, "replaced": self.replaced,
                "unchanged": self.unchanged, "superseded": self.superseded,
                "rows_rejected": self.rows_rejected}


def import_outcomes(state: StateStore | str | Path, file: str | Path,
                    today: dt.date | None = None) -> ImportResult:
    """Check every row of `file` and record the accepted outcomes, in one transaction."""
    path = Path(file)
    raws, rejects = read_rows(path)
    result = ImportResult(rows_read=len(raws) + len({r.row for r in rejects}))
    conn = connect(state)
    try:
        with transaction(conn, "outcomes"):  # imports wait for each other; runs do not
            outcomes = _checked(conn, raws, path.name, today or dt.date.today(), rejects)
            _record(conn, outcomes, result)
    finally:
        conn.close()
    result.rejects = sorted(rejects, key=lambda r: (r.row or 0, r.column or "", r.reason))
    result.rows_rejected = len({r.row for r in rejects})
    return result


def _checked(conn: Connection, raws: list[RawRow], name: str, today: dt.date,
             rejects: list[RejectRecord]) -> list[Outcome]:
    ids = {str(r.fields.get("action_id", "")).strip().lower() for r in raws}
    known = known_action_ids(conn, ids)
    outcomes: list[Outcome] = []
    for raw in raws:
        checked = check_row(raw, name, known, today)
        if isinstance(checked, Outcome):
            outcomes.append(checked)
        else:
            rejects.extend(checked)
    return outcomes


def _rank(outcome: Outcome) -> tuple[str, str]:
    return outcome.sort_key, outcome.digest


def _record(conn: Connection, outcomes: Iterable[Outcome], result: ImportResult) -> None:
    best: dict[str, Outcome] = {}
    for outcome in outcomes:
        current = best.get(outcome.action_id)
        if current is None or _rank(outcome) > _rank(current):
            if current is not None and current.digest != outcome.digest:
                result.superseded += 1
            best[outcome.action_id] = outcome
        elif current.digest != outcome.digest:
            result.superseded += 1
        else:
            result.unchanged += 1  # the same row twice in one file
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for outcome in best.values():
        _store(conn, outcome, now, result)


def _store(conn: Connection, outcome: Outcome, now: str, result: ImportResult) -> None:
    held = conn.execute("SELECT sort_key, digest FROM outcomes WHERE action_id = ?",
                        (outcome.action_id,)).fetchone()
    if held is not None:
        if held[1] == outcome.digest:
            result.unchanged += 1
            return
        if (held[0], held[1]) > _rank(outcome):
            result.superseded += 1
            return
    conn.execute(_UPSERT, (outcome.action_id, outcome.status, outcome.completed_at,
                           outcome.completed_date, outcome.sort_key, outcome.staff_id,
                           outcome.topic, outcome.digest, now))
    marks = ", ".join("?" * len(_MIRRORED))
    conn.execute(f"UPDATE actions SET status = ? WHERE action_id = ? AND status IN ({marks})",
                 (outcome.status, outcome.action_id, *_MIRRORED))
    if held is None:
        result.new += 1
    else:
        result.replaced += 1


def write_rejects(rejects: Iterable[RejectRecord], path: str | Path) -> int:
    """One JSON object per line, written whole or not at all; returns the count."""
    count = 0
    with atomic_text_file(path) as out:
        for record in rejects:
            out.write(json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count
