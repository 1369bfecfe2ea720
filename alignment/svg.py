"""Inline SVG charts for the steering report, drawn from plain numbers (no JavaScript, no network).

Every function returns markup (`markupsafe.Markup`) with each piece of text escaped, so the report's template
inserts it as is while still escaping everything else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from markupsafe import Markup

INK = "#1f2933"
GRID = "#d9dee3"
ACTUAL = "#1b6ac9"
PLAN = "#e07b00"
BAR = "#2f855a"
WASTE = "#c53030"
MUTED = "#8a949e"
TODAY = "#52606d"

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _points(values: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in values)


def _open(width: float, height: float, label: str, css_class: str = "", extra: str = "") -> str:
    cls = f' class="{css_class}"' if css_class else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg"{cls} width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(label)}"{extra}>'
    )


def segments(series: Sequence[tuple[date, float | None]]) -> list[list[tuple[date, float]]]:
    """Split a daily series into runs of consecutive days with a value: a day without one is a gap, never 0."""
    runs: list[list[tuple[date, float]]] = []
    previous: date | None = None
    for day, value in sorted(series, key=lambda p: p[0]):
        if value is None:
            previous = None
            continue
        if previous is None or day - previous > timedelta(days=1) or not runs:
            runs.append([])
        runs[-1].append((day, value))
        previous = day
    return runs


def quarter_ticks(first: date, last: date) -> list[date]:
    """The first day of every quarter within [first, last]."""
    ticks: list[date] = []
    year, month = first.year, (first.month - 1) // 3 * 3 + 1
    while True:
        tick = date(year, month, 1)
        if tick > last:
            return ticks
        if tick >= first:
            ticks.append(tick)
        month += 3
        if month > 12:
            year, month = year + 1, 1


def adoption_chart(
    title: str,
    actual: Sequence[tuple[date, float | None]],
    planned: Sequence[tuple[date, float | None]],
    first: date,
    last: date,
    *,
    today: date | None = None,
    width: int = 330,
    height: int = 160,
) -> Markup:
    """A small multiple on the common time axis [first, last]: actual adoption (blue, gaps where there is no data)
    against the plan (orange dashed), 0-100 %, with today marked."""
    pad_l, pad_r, pad_t, pad_b = 34, 10, 22, 22
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    span = max((last - first).days, 1)
    extra = f' data-first="{first}" data-last="{last}"'
    parts = [
        _open(width, height, f"{title}: adoption against plan", "adoption", extra),
        f'<text x="{pad_l}" y="14" font-size="12" font-weight="bold" fill="{INK}">{escape(title)}</text>',
    ]

    def x_of(day: date) -> float:
        return pad_l + inner_w * (day - first).days / span

    def y_of(value: float) -> float:
        return pad_t + inner_h * (1 - max(0.0, min(1.0, value)))

    for ratio in (0.0, 0.5, 1.0):
        y = y_of(ratio)
        parts.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{width - pad_r}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{pad_l - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="{MUTED}">'
                     f"{ratio:.0%}</text>")  # fmt: skip
    ticks = quarter_ticks(first, last)
    step = 1 if len(ticks) <= 5 else 2
    for n, tick in enumerate(ticks):
        x = x_of(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{pad_t}" x2="{x:.1f}" y2="{pad_t + inner_h}" stroke="{GRID}" '
                     'stroke-dasharray="2 2"/>')  # fmt: skip
        if n % step == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="9" text-anchor="middle" fill="{MUTED}">'
                         f"{MONTHS[tick.month - 1]} {tick:%y}</text>")  # fmt: skip
    if today is not None and first <= today <= last:
        x = x_of(today)
        parts.append(f'<line class="today" x1="{x:.1f}" y1="{pad_t}" x2="{x:.1f}" y2="{pad_t + inner_h}" '
                     f'stroke="{TODAY}" stroke-width="1"/>')  # fmt: skip
        parts.append(f'<text x="{x - 3:.1f}" y="{pad_t + 9}" font-size="9" text-anchor="end" fill="{TODAY}">'
                     "today</text>")  # fmt: skip
    for series, colour, dash, kind in (
        (planned, PLAN, ' stroke-dasharray="5 3"', "plan"),
        (actual, ACTUAL, "", "actual"),
    ):
        for run in segments([(d, v) for d, v in series if first <= d <= last]):
            pts = [(x_of(d), y_of(v)) for d, v in run]
            if len(pts) == 1:
                parts.append(f'<circle class="{kind}" cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="1.5" '
                             f'fill="{colour}"/>')  # fmt: skip
            else:
                parts.append(f'<polyline class="{kind}" fill="none" stroke="{colour}" stroke-width="2"{dash} '
                             f'points="{_points(pts)}"/>')  # fmt: skip
    if not any(v is not None for _, v in actual):
        parts.append(f'<text x="{pad_l + inner_w / 2:.0f}" y="{pad_t + inner_h / 2:.0f}" font-size="11" '
                     f'text-anchor="middle" fill="{MUTED}">no telemetry yet</text>')  # fmt: skip
    return Markup("".join(parts) + "</svg>")


def bar_chart(
    rows: Sequence[tuple[str, float | None, str]],
    colour: str = BAR,
    width: int = 700,
    maximum: float | None = None,
    label: str = "bar chart",
) -> Markup:
    """Horizontal bars (label, value, value text); a None value is drawn as 'not measured'."""
    bar_h, gap, label_w = 20, 8, 300
    height = max(1, len(rows)) * (bar_h + gap) + gap
    top = maximum or max([v for _, v, _ in rows if v is not None] + [1e-9])
    inner = width - label_w - 90
    parts = [_open(width, height, label, "bars")]
    for n, (name, value, text) in enumerate(rows):
        y = gap + n * (bar_h + gap)
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" font-size="12" text-anchor="end" fill="{INK}">'
                     f"{escape(name)}</text>")  # fmt: skip
        if value is None:
            parts.append(f'<text x="{label_w}" y="{y + 14}" font-size="12" fill="{MUTED}">{escape(text)}</text>')
            continue
        w = inner * max(0.0, value) / top if top > 0 else 0.0
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="12" fill="{INK}">{escape(text)}</text>')
    return Markup("".join(parts) + "</svg>")


def radar(axes: Sequence[tuple[str, float | None, str]], size: int = 400, levels: int = 5) -> Markup:
    """A radar over the criteria on Luftman's 1-5 scale (labelled rings).

    Each axis is (name, level, text shown instead of a level). Only criteria with a level are plotted; the others
    keep their axis, greyed, labelled with that text and no number.
    """
    width = size + 300  # room for the axis labels left and right
    cx, cy = width / 2, size / 2
    radius = size / 2 - 50
    n = len(axes)

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * value / levels
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    parts = [_open(width, size, "maturity radar, levels 1 to 5", "radar")]
    for level in range(1, levels + 1):
        ring = [point(i, level) for i in range(n)]
        parts.append(f'<polygon class="ring" points="{_points(ring)}" fill="none" stroke="{GRID}"/>')
    plotted = []
    for i, (name, value, note) in enumerate(axes):
        x, y = point(i, levels)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        lx, ly = point(i, levels + 0.55)
        anchor = "middle" if abs(lx - cx) < 5 else ("start" if lx > cx else "end")
        if value is not None:
            parts.append(f'<text class="axis" x="{lx:.1f}" y="{ly:.1f}" font-size="12" text-anchor="{anchor}" '
                         f'fill="{INK}">{escape(f"{name}: {value:.1f}")}</text>')  # fmt: skip
            plotted.append(point(i, value))
        else:
            if ly < cy - 5:  # an axis pointing up: both lines of the label above the outer ring
                ly -= 14
            parts.append(f'<text class="axis" x="{lx:.1f}" y="{ly:.1f}" font-size="12" text-anchor="{anchor}" '
                         f'fill="{MUTED}">{escape(name)}<tspan x="{lx:.1f}" dy="14" font-size="10">'
                         f"{escape(note)}</tspan></text>")  # fmt: skip
    for level in range(1, levels + 1):  # the scale, along the first axis
        x, y = point(0, level)
        parts.append(f'<text class="scale" x="{x + 4:.1f}" y="{y + 4:.1f}" font-size="10" fill="{MUTED}">'
                     f"{level}</text>")  # fmt: skip
    if len(plotted) >= 3:
        parts.append(f'<polygon class="level" points="{_points(plotted)}" fill="{ACTUAL}" fill-opacity="0.3" '
                     f'stroke="{ACTUAL}" stroke-width="2"/>')  # fmt: skip
    elif len(plotted) == 2:
        parts.append(f'<polyline class="level" points="{_points(plotted)}" fill="none" stroke="{ACTUAL}" '
                     'stroke-width="2"/>')  # fmt: skip
    for x, y in plotted:
        parts.append(f'<circle class="level" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{ACTUAL}"/>')
    return Markup("".join(parts) + "</svg>")
