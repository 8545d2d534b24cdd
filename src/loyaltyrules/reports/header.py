"""What every report says above its figures: the dates it covers and the policy bundle
that produced them, so two printed reports can be told apart (docs/reports.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..outcomes.state import connect
from ..state import StateStore
from .model import Report

__all__ = ["churn_header", "ledger_bundles", "ledger_header", "with_header"]


def ledger_bundles(state: StateStore | str | Path, start: dt.date,
                   end: dt.date) -> list[tuple[str, int]]:
    """The bundles of the ledger's actions with as_of in start..end, most used first."""
    conn = connect(state)
    try:
        rows = conn.execute(
            "SELECT coalesce(bundle, '?'), count(*) FROM actions WHERE as_of BETWEEN ? AND ? "
            "GROUP BY 1 ORDER BY 2 DESC, 1", (start.isoformat(), end.isoformat())).fetchall()
    finally:
        conn.close()
    return [(str(bundle), int(count)) for bundle, count in rows]


def _bundle_text(bundles: list[tuple[str, int]]) -> str:
    if not bundles:
        return "none (no actions in these dates)"
    if len(bundles) == 1:
        return bundles[0][0]
    return ", ".join(f"{bundle} ({count} actions)" for bundle, count in bundles)


def ledger_header(state: StateStore | str | Path, start: dt.date,
                  end: dt.date) -> list[tuple[str, str]]:
    return [("period", f"{start} to {end}"),
            ("bundle", _bundle_text(ledger_bundles(state, start, end)))]


def churn_header(year: int) -> list[tuple[str, str]]:
    return [("period", f"{year - 1}-01-01 to {year}-12-31 ({year - 1} compared with {year})"),
            ("bundle", "none: churn is computed from the purchases, not from the policies")]


def with_header(report: Report, header: list[tuple[str, str]]) -> Report:
    report.header = [*header, *report.header]
    return report
