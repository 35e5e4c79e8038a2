"""Bar charts drawn as SVG on the server: no script, readable by screen readers (a title and
a description; the page shows the same figures in a table)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, BOTTOM, TOP = 48, 36, 16


def bar_chart(points: Sequence[tuple[str, float | None]], *, title: str, unit: str,
              chart_id: str) -> str:
    """A bar per point (label, value); a missing value leaves its place empty."""
    values = [v for _, v in points if v is not None]
    top = max(values, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = min(plot_w / max(len(points), 1), 56.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_describe(points, unit))}</desc>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}" '
        'class="axis"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" class="tick" text-anchor="end">'
        f'{_number(top)}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" class="tick" text-anchor="end">0</text>',
        f'<text x="4" y="{TOP + plot_h / 2}" class="tick" transform="rotate(-90 10 '
        f'{TOP + plot_h / 2})" text-anchor="middle">{escape(unit)}</text>',
    ]
    for index, (label, value) in enumerate(points):
        x = LEFT + index * slot + slot * 0.15
        if value is not None:
            height = plot_h * value / top
            parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
                         f'width="{slot * 0.7:.1f}" height="{height:.1f}" class="bar">'
                         f'<title>{escape(label)}: {_number(value)} {escape(unit)}</title></rect>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" class="tick" '
                     f'text-anchor="middle">{escape(label)}'
                     '</text>')
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _describe(points: Sequence[tuple[str, float | None]], unit: str) -> str:
    if not points:
        return "No data yet."
    return "; ".join(f"{label}: {'no data' if value is None else _number(value)}"
                     f"{'' if value is None else ' ' + unit}" for label, value in points)
