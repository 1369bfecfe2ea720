"""Inline SVG charts for the steering report, drawn from plain numbers (no JavaScript, no network)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

INK = "#1f2933"
GRID = "#d9dee3"
ACTUAL = "#1b6ac9"
PLAN = "#e07b00"
BAR = "#2f855a"
WASTE = "#c53030"
MUTED = "#8a949e"


def _points(values: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in values)


def adoption_chart(
    title: str,
    actual: Sequence[tuple[date, float | None]],
    planned: Sequence[tuple[date, float | None]],
    width: int = 280,
    height: int = 150,
) -> str:
    """A small multiple: actual adoption ratio (blue) against the planned curve (orange dashed), 0-100 %."""
    days = [d for d, _ in (*actual, *planned)]
    pad_l, pad_r, pad_t, pad_b = 34, 8, 22, 20
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{pad_l}" y="14" font-size="12" font-weight="bold" fill="{INK}">{escape(title)}</text>',
    ]
    for tick in (0.0, 0.5, 1.0):
        y = pad_t + inner_h * (1 - tick)
        parts.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{width - pad_r}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{pad_l - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="{MUTED}">'
                     f"{tick:.0%}</text>")  # fmt: skip
    if not days:
        parts.append(
            f'<text x="{pad_l + 8}" y="{pad_t + inner_h / 2:.0f}" font-size="11" fill="{MUTED}">no data</text>'
        )
        return "".join(parts) + "</svg>"
    first, last = min(days), max(days)
    span = max((last - first).days, 1)

    def xy(day: date, value: float) -> tuple[float, float]:
        return pad_l + inner_w * (day - first).days / span, pad_t + inner_h * (1 - max(0.0, min(1.0, value)))

    for series, colour, dash in ((planned, PLAN, ' stroke-dasharray="5 3"'), (actual, ACTUAL, "")):
        pts = [xy(d, v) for d, v in series if v is not None]
        if pts:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{_points(pts)}"/>')
    parts.append(f'<text x="{pad_l}" y="{height - 5}" font-size="10" fill="{MUTED}">{first}</text>')
    parts.append(f'<text x="{width - pad_r}" y="{height - 5}" font-size="10" text-anchor="end" fill="{MUTED}">'
                 f"{last}</text>")  # fmt: skip
    return "".join(parts) + "</svg>"


def bar_chart(
    rows: Sequence[tuple[str, float | None, str]], colour: str = BAR, width: int = 760, maximum: float | None = None
) -> str:
    """Horizontal bars (label, value, value text); a None value is drawn as 'not measured'."""
    bar_h, gap, label_w = 20, 8, 340
    height = max(1, len(rows)) * (bar_h + gap) + gap
    top = maximum or max([v for _, v, _ in rows if v is not None] + [1e-9])
    inner = width - label_w - 90
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for n, (label, value, text) in enumerate(rows):
        y = gap + n * (bar_h + gap)
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end" fill="{INK}">'
                     f"{escape(label)}</text>")  # fmt: skip
        if value is None:
            parts.append(f'<text x="{label_w}" y="{y + 14}" font-size="12" fill="{MUTED}">not measured</text>')
            continue
        w = inner * max(0.0, value) / top if top > 0 else 0.0
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="12" fill="{INK}">{escape(text)}</text>')
    return "".join(parts) + "</svg>"


def radar(axes: Sequence[tuple[str, float | None]], size: int = 440, levels: int = 5) -> str:
    """A radar over the criteria (scale 1-5); a not-assessed axis is greyed, labelled and left out of the polygon."""
    width = size + 420  # room for the axis labels left and right
    cx, cy = width / 2, size / 2
    radius = size / 2 - 60
    n = len(axes)

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * value / levels
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{size}" role="img" '
             'aria-label="maturity radar">']  # fmt: skip
    for level in range(1, levels + 1):
        ring = [point(i, level) for i in range(n)]
        parts.append(f'<polygon points="{_points(ring)}" fill="none" stroke="{GRID}"/>')
    assessed = []
    for i, (label, value) in enumerate(axes):
        x, y = point(i, levels)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        lx, ly = point(i, levels + 0.7)
        anchor = "middle" if abs(lx - cx) < 5 else ("start" if lx > cx else "end")
        text = f"{label}: {value:.1f}" if value is not None else f"{label}: not assessed"
        colour = INK if value is not None else MUTED
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="12" text-anchor="{anchor}" fill="{colour}">'
                     f"{escape(text)}</text>")  # fmt: skip
        if value is not None:
            assessed.append(point(i, value))
    if len(assessed) >= 3:
        parts.append(f'<polygon points="{_points(assessed)}" fill="{ACTUAL}" fill-opacity="0.3" stroke="{ACTUAL}" '
                     'stroke-width="2"/>')  # fmt: skip
    for x, y in assessed:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{ACTUAL}"/>')
    return "".join(parts) + "</svg>"
