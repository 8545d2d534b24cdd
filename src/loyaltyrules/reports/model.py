"""What a report is, independent of how it is shown: facts, one table, charts.

The table is the report's figures in full (the CSV is exactly this table); facts are
headline numbers shown above it; charts are stacked bars drawn from the same figures;
the header says which dates, policy bundle and data the figures come from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

Cell = str | int | Decimal | None

__all__ = ["Cell", "Chart", "Report"]


@dataclass(frozen=True)
class Chart:
    """Horizontal stacked bars: one bar per label, one segment per series."""

    title: str
    labels: list[str]
    series: dict[str, list[float]]


@dataclass
class Report:
    title: str
    subtitle: str
    columns: list[str]
    rows: list[list[Cell]]
    facts: list[tuple[str, Cell]] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    header: list[tuple[str, str]] = field(default_factory=list)  # period, bundle, data
