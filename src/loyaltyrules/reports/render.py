"""Show a report: a terminal table, a CSV file, or one self-contained HTML page.

The HTML page has its style inline and its charts as inline SVG: no script, no font,
no image, no link to anything, so it can be mailed or archived as one file. Every
value is escaped. The CSV follows the run's CSV (UTF-8 with BOM, CRLF, text cells that
look like formulas get a leading apostrophe).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from html import escape

from ..sinks.csvfile import CSV_ENCODING, guard_cell
from .model import Cell, Report
from .names import NAME_COLUMNS
from .svg import bar_chart

__all__ = ["CSV_ENCODING", "render_csv", "render_html", "render_table"]


def cell_text(value: Cell) -> str:
    if value is None:
        return ""
    return str(value)  # Decimals arrive quantized by the report that made them


def _numeric(value: Cell) -> bool:
    return isinstance(value, (int, Decimal))


def render_table(report: Report) -> str:
    """Aligned columns for a terminal: numbers to the right, text to the left."""
    lines = [report.title, report.subtitle, ""]
    lines += [f"{name}: {value}" for name, value in report.header]
    if report.header:
        lines.append("")
    lines += [f"{name}: {cell_text(value)}" for name, value in report.facts]
    if report.facts:
        lines.append("")
    cells = [[cell_text(c) for c in row] for row in report.rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(report.columns)]
    right = [bool(report.rows) and _numeric(report.rows[0][i]) for i in range(len(widths))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if r else v.ljust(w)
                         for v, w, r in zip(values, widths, right, strict=True)).rstrip()

    lines.append(line(list(report.columns)))
    lines.append("  ".join("-" * w for w in widths))
    lines += [line(row) for row in cells]
    if not report.rows:
        lines.append("(no rows)")
    return "\n".join(lines) + "\n"


def render_csv(report: Report) -> str:
    """The table only: one header row, one row per figure line."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([cell_text(c) if _numeric(c) else guard_cell(c) for c in row])
    return buffer.getvalue()


_STYLE = """*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0 auto;padding:1em;max-width:60em;color:#222;
overflow-wrap:break-word}
.meta{color:#444;margin:.2em 0}.meta b{color:#222}
table{border-collapse:collapse;margin-top:1em;width:100%;font-size:.85em}
th,td{padding:3px 4px;border-bottom:1px solid #ddd}td.n{white-space:nowrap}
td{overflow-wrap:anywhere}.id{color:#555;font-size:.9em}
th{text-align:left;background:#f4f4f4;vertical-align:bottom}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px}dt{color:#555}dd{margin:0}
svg{display:block;margin:1.5em 0}
@page{margin:14mm 12mm}@media print{body{padding:0;max-width:none}tr,svg{break-inside:avoid}}"""


def render_html(report: Report, *more: Report) -> str:
    """One page: title, facts, charts, then the full table; `more` reports follow as
    sections of the same page."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width,initial-scale=1">',
             f"<title>{escape(report.title)}</title><style>{_STYLE}</style></head><body>"]
    for index, section in enumerate((report, *more)):
        heading = "h1" if index == 0 else "h2"
        parts.append(f"<{heading}>{escape(section.title)}</{heading}>"
                     f"<p>{escape(section.subtitle)}</p>")
        parts += [f'<p class="meta"><b>{escape(name.capitalize())}:</b> {escape(value)}</p>'
                  for name, value in section.header]
        if section.facts:
            parts.append("<dl>" + "".join(
                f"<dt>{escape(k)}</dt><dd>{escape(cell_text(v))}</dd>"
                for k, v in section.facts) + "</dl>")
        parts += [bar_chart(chart) for chart in section.charts]
        parts.append(_html_table(section))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(report: Report) -> str:
    """Headers as words (`on_time` -> `on time`) so they wrap on a narrow page; an id
    column and its name column (`store`, `store_name`) share one cell, the name above
    the id, so a table with names is no wider than one without."""
    first = report.rows[0] if report.rows else []
    shown = _shown_columns(report.columns)
    head = "".join(
        f'<th{" class=n" if i < len(first) and _numeric(first[i]) else ""}>'
        f"{escape(report.columns[i].replace('_', ' '))}</th>" for i, _ in shown)
    body = []
    for row in report.rows:
        tds = "".join(_html_cell(row[i], None if n is None else row[n]) for i, n in shown)
        body.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _shown_columns(columns: list[str]) -> list[tuple[int, int | None]]:
    """(column, its name column or None) for each column the page shows."""
    shown: list[tuple[int, int | None]] = []
    named = set()
    for i, column in enumerate(columns):
        if i in named:
            continue
        pair = i + 1 < len(columns) and columns[i + 1] == NAME_COLUMNS.get(column)
        shown.append((i, i + 1 if pair else None))
        named.update([i + 1] if pair else [])
    return shown


def _html_cell(value: Cell, name: Cell) -> str:
    if _numeric(value):
        return f'<td class="n">{escape(cell_text(value))}</td>'
    if name:
        return (f"<td>{escape(cell_text(name))}<br>"
                f'<span class="id">{escape(cell_text(value))}</span></td>')
    return f"<td>{escape(cell_text(value))}</td>"
