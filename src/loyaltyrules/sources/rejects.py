"""Reject records: one per bad value or row, carrying ids and never personal data.

Severity `error` means the row was dropped; `warning` means the row was kept with the
named column cleared (or, for consent, set to false). See docs/data-sources.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from loyaltyrules.inputs import MONEY_LIMIT, QUANTITY_LIMIT, shown
from loyaltyrules.sinks.atomic import atomic_text_file

MAX_LINE_BYTES = 2_000_000  # longest line a CSV or JSON Lines file may have
_MONEY, _QUANTITY = shown(MONEY_LIMIT), shown(QUANTITY_LIMIT)

REASONS: dict[str, str] = {
    "missing-value": "{column} is required but missing",
    "bad-amount": f"{{column}} is not an amount from -{_MONEY} to {_MONEY} "
    "(or the total it makes is not)",
    "bad-quantity": f"{{column}} is not a number from -{_QUANTITY} to {_QUANTITY}",
    "bad-unit-price": "{column} is not a decimal number",
    "bad-number": "{column} is not a number",
    "bad-timestamp": "{column} is not a timestamp (ISO 8601, or the table's timestamp_format)",
    "bad-date": "{column} is not a YYYY-MM-DD date",
    "impossible-date": "{column} names a calendar day that does not exist",
    "future-date": "{column} is after the evaluation limit",
    "bad-boolean": "{column} is not a boolean (true/false, yes/no, 1/0)",
    "bad-attributes": "{column} is not a JSON object",
    "bad-encoding": "the line is not valid UTF-8 text",
    "malformed-line": "the line does not parse as a row (column count, quoting or JSON)",
    "line-too-long": f"the line is longer than {MAX_LINE_BYTES:,} bytes",
    "duplicate-conflict": "{column} repeats with different content; every copy is rejected",
    "receipt-conflict": "lines of one receipt disagree on {column}; every line is rejected",
    "incomplete-receipt": "a line of this receipt was rejected, so its amount is unknown",
    "unknown-customer": "{column} names no known customer",
    "unknown-store": "{column} names no known store",
    "unknown-referrer": "{column} names no known customer; the referral is ignored",
    "self-referral": "{column} names the customer themselves; the referral is ignored",
    "unknown-return": "{column} names no known purchase; the link is dropped",
    "wrong-currency": "{column} differs from the configured currency",
    "zero-amount": "{column} is zero: the receipt is kept but adds no spend",
}

REJECTS_DDL = """
CREATE OR REPLACE TABLE rejects (
    table_name VARCHAR NOT NULL,
    file VARCHAR,
    "row" BIGINT,
    column_name VARCHAR,
    reason VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    message VARCHAR,
    ids MAP(VARCHAR, VARCHAR)
)
"""


@dataclass(frozen=True)
class RejectRecord:
    table: str
    file: str | None
    row: int | None
    column: str | None
    reason: str
    severity: str
    message: str
    ids: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "reason": self.reason,
            "severity": self.severity,
            "message": self.message,
            "ids": self.ids,
        }


@dataclass
class TableCounts:
    """Per table: rows read, rows kept, rows dropped, and reject records by reason."""

    table: str
    rows_read: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    warnings: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    info: dict[str, int] = field(default_factory=dict)  # e.g. duplicate-identical

    def to_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_rejected": self.rows_rejected,
            "warnings": self.warnings,
            "by_reason": dict(sorted(self.by_reason.items())),
            "info": dict(sorted(self.info.items())),
        }


def create_rejects_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(REJECTS_DDL)


def fill_messages(con: duckdb.DuckDBPyConnection) -> None:
    """Messages come from the fixed catalogue above, so no input value can reach them."""
    con.execute("CREATE OR REPLACE TEMP TABLE _reason_text (reason VARCHAR, template VARCHAR)")
    con.executemany("INSERT INTO _reason_text VALUES (?, ?)", list(REASONS.items()))
    con.execute(
        """UPDATE rejects
           SET message = replace(t.template, '{column}', coalesce(column_name, 'row'))
           FROM _reason_text t WHERE t.reason = rejects.reason"""
    )


_ORDERED = """SELECT table_name, file, "row", column_name, reason, severity, message, ids
              FROM rejects ORDER BY table_name, file, "row", column_name, reason"""


def iter_rejects(con: duckdb.DuckDBPyConnection, batch: int = 10_000) -> Iterator[RejectRecord]:
    cursor = con.cursor()
    cursor.execute(_ORDERED)
    while rows := cursor.fetchmany(batch):
        for table, file, row, column, reason, severity, message, ids in rows:
            clean = {k: v for k, v in (ids or {}).items() if v is not None}
            yield RejectRecord(table, file, row, column, reason, severity, message or "", clean)


def write_rejects(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Write every reject as one JSON object per line, atomically; returns the number."""
    count = 0
    with atomic_text_file(path) as out:
        for record in iter_rejects(con):
            out.write(json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count
