"""The data flows of the configured deployment as a diagram: boxes and numbered arrows, laid out on a grid.

The same value feeds the HTML (inline SVG) and the Markdown (a numbered list); pure data, no drawing library.
"""

from __future__ import annotations

from typing import NamedTuple

BOX_W, BOX_H = 200.0, 80.0
COL_STEP, ROW_STEP = 240.0, 125.0
MARGIN = 15.0


class Box(NamedTuple):
    """One place data is or passes through; `alert` marks one the configuration makes riskier."""

    id: str
    x: float
    y: float
    title: str
    lines: tuple[str, ...]
    alert: bool = False
    w: float = BOX_W
    h: float = BOX_H


class Arrow(NamedTuple):
    """A numbered flow between two boxes, with what travels along it."""

    number: int
    source: str
    target: str
    text: str
    points: tuple[tuple[float, float], ...]
    label: tuple[float, float]
    dashed: bool = False


class Diagram(NamedTuple):
    width: float
    height: float
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]


class Node(NamedTuple):
    """A box before layout: its grid cell and its text."""

    id: str
    col: int
    row: int
    title: str
    lines: tuple[str, ...]
    alert: bool = False


class Flow(NamedTuple):
    source: str
    target: str
    text: str
    dashed: bool = False


def _box(node: Node) -> Box:
    return Box(node.id, MARGIN + node.col * COL_STEP, MARGIN + node.row * ROW_STEP, node.title, node.lines, node.alert)


def _route(a: Box, b: Box) -> tuple[tuple[tuple[float, float], ...], tuple[float, float]]:
    """Points of the arrow from a to b, and where its number goes: straight within a row or a column, else an
    elbow down from a's bottom to the gap above b's row, across, and down into b."""
    acx, acy, bcx, bcy = a.x + a.w / 2, a.y + a.h / 2, b.x + b.w / 2, b.y + b.h / 2
    if a.y == b.y:
        start, end = ((a.x + a.w, acy), (b.x, bcy)) if a.x < b.x else ((a.x, acy), (b.x + b.w, bcy))
        return (start, end), ((start[0] + end[0]) / 2, acy)
    if a.x == b.x:
        start, end = ((acx, a.y + a.h), (bcx, b.y)) if a.y < b.y else ((acx, a.y), (bcx, b.y + b.h))
        return (start, end), (acx, (start[1] + end[1]) / 2)
    bus = b.y - (ROW_STEP - BOX_H) / 2
    points = ((acx, a.y + a.h), (acx, bus), (bcx, bus), (bcx, b.y))
    return points, (bcx, (bus + b.y) / 2)


def layout(nodes: list[Node], flows: list[Flow]) -> Diagram:
    """Place the nodes on their grid cells and route every flow, numbered in the order given."""
    boxes = {n.id: _box(n) for n in nodes}
    arrows = []
    for number, flow in enumerate(flows, start=1):
        points, label = _route(boxes[flow.source], boxes[flow.target])
        arrows.append(Arrow(number, flow.source, flow.target, flow.text, points, label, flow.dashed))
    width = max(b.x + b.w for b in boxes.values()) + MARGIN
    height = max(b.y + b.h for b in boxes.values()) + MARGIN
    return Diagram(width, height, tuple(boxes.values()), tuple(arrows))
