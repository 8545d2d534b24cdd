"""Inline SVG bar charts: no script, no external asset, every text escaped."""

from __future__ import annotations

from html import escape

from .model import Chart

__all__ = ["bar_chart"]

# Colour-blind-safe (Okabe-Ito) so series stay distinguishable in print and on screen.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
BAR, GAP, LABEL_W, PLOT_W, TOP = 16, 6, 170, 460, 28


def bar_chart(chart: Chart) -> str:
    """One <svg> element; bars scale to the largest total, which gets its number."""
    height = TOP + len(chart.labels) * (BAR + GAP) + 30
    width = LABEL_W + PLOT_W + 70
    totals = [sum(values) for values in zip(*chart.series.values(), strict=True)] or [0.0]
    scale = PLOT_W / max(max(totals), 1e-9)
    parts = [f'<svg width="{width}" height="{height}" '
             f'role="img" aria-label="{escape(chart.title)}">',
             f'<text x="0" y="16" font-weight="bold">{escape(chart.title)}</text>']
    for index, label in enumerate(chart.labels):
        parts += _bar(chart, index, label, scale, totals[index] if chart.series else 0.0)
    parts += _legend(chart, height - 14)
    parts.append("</svg>")
    return "\n".join(parts)


def _bar(chart: Chart, index: int, label: str, scale: float, total: float) -> list[str]:
    y = TOP + index * (BAR + GAP)
    parts = [f'<text x="{LABEL_W - 6}" y="{y + BAR - 4}" text-anchor="end">'
             f"{escape(_short(label))}</text>"]
    x = float(LABEL_W)
    for colour, (name, values) in zip(_colours(), chart.series.items(), strict=False):
        w = values[index] * scale
        if w > 0:
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR}" '
                         f'fill="{colour}"><title>{escape(name)}: {_num(values[index])}'
                         "</title></rect>")
            x += w
    parts.append(f'<text x="{x + 4:.1f}" y="{y + BAR - 4}">{_num(total)}</text>')
    return parts


def _legend(chart: Chart, y: int) -> list[str]:
    parts, x = [], LABEL_W
    for colour, name in zip(_colours(), chart.series, strict=False):
        parts.append(f'<rect x="{x}" y="{y - 10}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}">{escape(name)}</text>')
        x += 24 + 8 * len(name)
    return parts


def _colours() -> list[str]:
    return list(PALETTE) * 4


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"


def _short(label: str) -> str:
    return label if len(label) <= 26 else label[:25] + "…"
