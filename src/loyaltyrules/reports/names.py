"""Names beside ids in a report, where the data has them (stores.name, staff.name).

A column of store ids gets a `store_name` column after it, one of associates a
`name` column, and chart labels read `S1 · Kim Hana (E1)`. Without a stores or staff table
the report is left as it is. Customers are never named in reports.
"""

from __future__ import annotations

from dataclasses import replace

from ..sinks.directory import Directory
from .model import Cell, Report

__all__ = ["NAME_COLUMNS", "with_names"]

NAME_COLUMNS = {"associate": "name", "store": "store_name"}


def with_names(report: Report, directory: Directory) -> Report:
    """The report with a name column after each id column whose ids have names."""
    found = {c: [_name(c, row[i], directory) for row in report.rows]
             for i, c in enumerate(report.columns) if c in NAME_COLUMNS}
    found = {c: names for c, names in found.items() if any(names)}
    if not found:
        return report
    columns: list[str] = []
    rows: list[list[Cell]] = [[] for _ in report.rows]
    for i, column in enumerate(report.columns):
        columns.append(column)
        for row, cells in zip(report.rows, rows, strict=True):
            cells.append(row[i])
        if column in found:
            columns.append(NAME_COLUMNS[column])
            for cells, name in zip(rows, found[column], strict=True):
                cells.append(name)
    charts = [replace(chart, labels=[_label(label, directory) for label in chart.labels])
              for chart in report.charts]
    return replace(report, columns=columns, rows=rows, charts=charts)


def _name(column: str, value: Cell, directory: Directory) -> str:
    """The name for an id (a store, an associate, or `role:store`); "" when none."""
    if not isinstance(value, str):
        return ""
    if column == "store":
        return directory.store(value).name or ""
    person = directory.member(value)
    if person is not None:
        return person.name or ""
    role, colon, store = value.partition(":")
    holder = directory.holder(store, role) if colon else None
    return holder.name or "" if holder is not None else ""


def _label(label: str, directory: Directory) -> str:
    """`S1` -> `North Plaza (S1)`, `E1` -> `Kim Hana (E1)`, `S1 E1` -> `S1 · Kim Hana
    (E1)`, `S1 store_manager:S1` -> `S1 · Ellen Moss (store manager)` (the store by id:
    the label stays short enough to show whole)."""
    parts = label.split(" ")
    if len(parts) == 2 and parts[0] in directory.stores:
        return f"{parts[0]} · {_label(parts[1], directory).replace(f'({parts[0]} ', '(')}"
    name = directory.stores[label].name if label in directory.stores else _name(
        "associate", label, directory)
    role, colon, store = label.partition(":")
    shown = f"{store} {role.replace('_', ' ')}" if colon else label  # store_manager:S3
    return f"{name} ({shown})" if name else label
