"""Read a host's outcomes file (CSV or JSON Lines) and check every row.

Each bad value becomes a reject record (the shape of the input rejects, see
docs/data-sources.md) whose message comes from the fixed catalogue below, so no
input text, and never the note, can reach an error or a rejects file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..sources.rejects import RejectRecord

__all__ = [
    "REASONS", "STATUSES", "TOPICS", "BadOutcomesFile", "Outcome", "RawRow", "check_row",
    "read_rows",
]  # fmt: skip

# accepted and attended answer invitations (the customer said yes; came).
STATUSES = ("done", "failed", "unreachable", "declined", "accepted", "attended")
TOPICS = ("region", "company", "none")
TABLE = "outcomes"
REQUIRED_COLUMNS = ("action_id", "status")

REASONS: dict[str, str] = {
    "missing-value": "{column} is required but missing",
    "unknown-action": "{column} names no action in the ledger",
    "bad-status": "{column} is not one of done, failed, unreachable, declined, accepted, "
                  "attended",
    "bad-timestamp": "{column} is not an ISO 8601 timestamp",
    "future-date": "{column} is in the future",
    "bad-topic": "{column} is not one of region, company, none",
    "bad-value": "{column} is not text",
    "bad-encoding": "the line is not valid UTF-8 text",
    "malformed-line": "the line does not parse as a row (column count, quoting or JSON)",
}

_ID = re.compile(r"^[0-9a-f]{32}$")
# The published outcomes schema's pattern; the fraction is normalised below for 3.10.
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


class BadOutcomesFile(Exception):
    """The file cannot be read as outcomes at all (unreadable, wrong kind, no id column)."""


@dataclass(frozen=True)
class RawRow:
    row: int
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """One checked outcome. The note is deliberately not kept (personal data)."""

    action_id: str
    status: str
    completed_at: str  # normalised ISO text, offset kept when given
    completed_date: str  # the date as written: the host reports in store time
    sort_key: str  # wall time as written, microseconds: "latest" compares these
    staff_id: str | None
    topic: str
    row: int

    @property
    def digest(self) -> str:
        """What identifies the content: same digest, same outcome (idempotent import)."""
        parts = [self.action_id, self.status, self.completed_at, self.staff_id or "",
                 self.topic]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def reject(file: str, row: int | None, column: str | None, reason: str,
           action_id: str | None = None) -> RejectRecord:
    ids = {"action_id": action_id} if action_id and _ID.match(action_id) else {}
    message = REASONS[reason].replace("{column}", column or "row")
    return RejectRecord(TABLE, file, row, column, reason, "error", message, ids)


def read_rows(path: Path) -> tuple[list[RawRow], list[RejectRecord]]:
    """Rows by data row number (CSV: record after the header; JSONL: line number)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BadOutcomesFile(f"cannot read {path.name}: {err.strerror}") from err
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(data, path.name)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _jsonl_rows(data, path.name)
    raise BadOutcomesFile(f"{path.name}: expected a .csv or .jsonl file")


def _csv_rows(data: bytes, name: str) -> tuple[list[RawRow], list[RejectRecord]]:
    # surrogateescape keeps bad bytes visible per field, so one bad row is one reject.
    text = data.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise BadOutcomesFile(f"{name}: missing column(s) {', '.join(missing)}")
    rows: list[RawRow] = []
    rejects: list[RejectRecord] = []
    for number, record in enumerate(reader, start=1):
        if not any(cell.strip() for cell in record):
            continue  # a blank line is not a row with missing values
        if len(record) != len(header):
            rejects.append(reject(name, number, None, "malformed-line"))
        elif any(_has_bad_bytes(cell) for cell in record):
            rejects.append(reject(name, number, None, "bad-encoding"))
        else:
            rows.append(RawRow(number, dict(zip(header, record, strict=True))))
    return rows, rejects


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _jsonl_rows(data: bytes, name: str) -> tuple[list[RawRow], list[RejectRecord]]:
    rows: list[RawRow] = []
    rejects: list[RejectRecord] = []
    for number, line in _lines(data):
        if not line.strip():
            continue
        try:
            value = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            rejects.append(reject(name, number, None, "bad-encoding"))
            continue
        except ValueError:
            value = None
        if isinstance(value, dict):
            rows.append(RawRow(number, value))
        else:
            rejects.append(reject(name, number, None, "malformed-line"))
    return rows, rejects


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(data.split(b"\n"), start=1):
        yield number, line.rstrip(b"\r")


def check_row(raw: RawRow, file: str, known: set[str],
              today: dt.date) -> Outcome | list[RejectRecord]:
    """The row as an Outcome, or one reject per bad column (the row is then dropped)."""
    problems: list[RejectRecord] = []
    values: dict[str, str | None] = {}
    aid_text = _text(raw.fields.get("action_id"))
    aid = aid_text.strip().lower() if isinstance(aid_text, str) else None
    for column in ("action_id", "status", "completed_at", "staff_id", "topic"):
        value = _text(raw.fields.get(column))
        if value is _BAD:
            problems.append(reject(file, raw.row, column, "bad-value", aid))
            continue
        values[column] = (value.strip() or None) if isinstance(value, str) else None
    problems += _check_values(values, raw.row, file, known, today, aid)
    if problems:
        return problems
    completed = _timestamp(values["completed_at"] or "")
    assert completed is not None and aid is not None  # checked above
    return Outcome(aid, (values["status"] or "").lower(), completed[0], completed[0][:10],
                   completed[1], values["staff_id"], (values["topic"] or "none").lower(),
                   raw.row)


_BAD = object()
# A store east of the machine running the import may already be on tomorrow's date.
_ZONE_SLACK = dt.timedelta(days=1)


def _text(value: object) -> Any:
    """Text as is; missing or null as None; numbers, lists and objects are bad."""
    if value is None or isinstance(value, str):
        return value
    return _BAD


def _check_values(values: Mapping[str, str | None], row: int, file: str, known: set[str],
                  today: dt.date, aid: str | None) -> list[RejectRecord]:
    problems: list[RejectRecord] = []

    def bad(column: str, reason: str) -> None:
        problems.append(reject(file, row, column, reason, aid))

    if "action_id" in values:
        if values["action_id"] is None:
            bad("action_id", "missing-value")
        elif aid not in known:
            bad("action_id", "unknown-action")
    if "status" in values:
        if values["status"] is None:
            bad("status", "missing-value")
        elif values["status"].lower() not in STATUSES:
            bad("status", "bad-status")
    if "completed_at" in values:
        stamp = values["completed_at"]
        parsed = _timestamp(stamp) if stamp else None
        if stamp is None:
            bad("completed_at", "missing-value")
        elif parsed is None:
            bad("completed_at", "bad-timestamp")
        elif dt.date.fromisoformat(parsed[0][:10]) > today + _ZONE_SLACK:
            bad("completed_at", "future-date")
    topic = values.get("topic")
    if topic is not None and topic.lower() not in TOPICS:
        bad("topic", "bad-topic")
    return problems


def _timestamp(text: str) -> tuple[str, str] | None:
    """(normalised ISO text, wall-time sort key), or None when not a real timestamp."""
    match = _TIMESTAMP.match(text)
    if not match:
        return None
    day, clock, fraction, offset = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    zone = "" if offset is None else ("+00:00" if offset == "Z" else offset)
    if len(zone) == 5:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        stamp = dt.datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}")
    except ValueError:
        return None  # e.g. 2025-02-30 or 25:00
    wall = stamp.replace(tzinfo=None).isoformat(timespec="microseconds")
    shown = stamp.isoformat(timespec="microseconds" if int(micro) else "seconds")
    return shown, wall
