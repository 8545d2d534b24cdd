"""Inline SVG bar charts: no script, no external asset, every text escaped.

Nothing is clipped: the label column is as wide as the longest label needs (up to a
bound, past which labels are shortened with "…", the full text in a tooltip), the
legend wraps onto as many rows as it needs within the chart's width, and the chart
scales down with the page (viewBox) instead of overflowing it. Text widths are
estimated generously (East Asian characters count double), as no font is embedded.
"""

from __future__ import annotations

import unicodedata
from html import escape

from .model import Chart

__all__ = ["WIDTH", "bar_chart", "text_width"]

# Colour-blind-safe (Okabe-Ito) so series stay distinguishable in print and on screen.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
WIDTH = 680  # fits a 700 px window and an A4 page without scaling
BAR, GAP, TOP, FONT = 16, 6, 28, 12
CHAR_W = 7.5  # a generous average for 12 px sans-serif Latin text
LABEL_MIN, LABEL_MAX, TOTAL_W = 60, 240, 64
LEGEND_ROW, SWATCH = 18, 10


def text_width(text: str) -> float:
    """Estimated width in px at 12 px: wide (CJK) characters count as two."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return (len(text) + wide) * CHAR_W


def bar_chart(chart: Chart) -> str:
    """One <svg> element; bars scale to the largest total, which gets its number."""
    label_w = _label_width(chart.labels)
    plot_w = WIDTH - label_w - TOTAL_W
    legend = _legend(chart)
    rows = max((y for _x, y, _c, _n in legend), default=0) + 1 if legend else 0
    bars_h = len(chart.labels) * (BAR + GAP)
    height = TOP + bars_h + 12 + rows * LEGEND_ROW
    totals = [sum(values) for values in zip(*chart.series.values(), strict=True)] or [0.0]
    scale = plot_w / max(max(totals), 1e-9)
    parts = [f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
             f'style="max-width:100%;height:auto" font-size="{FONT}" role="img" '
             f'aria-label="{escape(chart.title)}">',
             f'<text x="0" y="16" font-weight="bold">{escape(chart.title)}</text>']
    for index, label in enumerate(chart.labels):
        parts += _bar(chart, index, label, label_w, scale,
                      totals[index] if chart.series else 0.0)
    top = TOP + bars_h + 12
    for x, row, colour, name in legend:
        y = top + row * LEGEND_ROW + SWATCH
        parts.append(f'<rect x="{x:.0f}" y="{y - SWATCH}" width="{SWATCH}" height="{SWATCH}" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{x + SWATCH + 4:.0f}" y="{y}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _label_width(labels: list[str]) -> int:
    widest = max((text_width(label) for label in labels), default=0.0)
    return int(min(max(widest + 10, LABEL_MIN), LABEL_MAX))


def _bar(chart: Chart, index: int, label: str, label_w: int, scale: float,
         total: float) -> list[str]:
    y = TOP + index * (BAR + GAP)
    parts = [f'<text x="{label_w - 6}" y="{y + BAR - 4}" text-anchor="end">'
             f"<title>{escape(label)}</title>{escape(_short(label, label_w - 10))}</text>"]
    x = float(label_w)
    for colour, (name, values) in zip(_colours(), chart.series.items(), strict=False):
        w = values[index] * scale
        if w > 0:
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR}" '
                         f'fill="{colour}"><title>{escape(name)}: {_num(values[index])}'
                         "</title></rect>")
            x += w
    parts.append(f'<text x="{x + 4:.1f}" y="{y + BAR - 4}">{_num(total)}</text>')
    return parts


def _legend(chart: Chart) -> list[tuple[float, int, str, str]]:
    """(x, row, colour, name) of each legend entry, wrapped within the chart's width."""
    placed: list[tuple[float, int, str, str]] = []
    x, row = 0.0, 0
    for colour, name in zip(_colours(), chart.series, strict=False):
        shown = _short(name, WIDTH - SWATCH - 4)
        width = SWATCH + 4 + text_width(shown) + 16
        if x > 0 and x + width > WIDTH:
            x, row = 0.0, row + 1
        placed.append((x, row, colour, shown))
        x += width
    return placed


def _colours() -> list[str]:
    return list(PALETTE) * 4


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"


def _short(label: str, room: float) -> str:
    """The label, shortened with "…" until its estimated width fits `room`."""
    if text_width(label) <= room:
        return label
    while label and text_width(label + "…") > room:
        label = label[:-1]
    return label + "…"
