"""Rows of panels on Grafana's 24-column grid: positions and ids computed, never hand-typed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.panels import PanelBuilder

GRID_WIDTH = 24


class Row(NamedTuple):
    """A titled row of (width, panel) cells whose widths fill the grid exactly."""

    title: str
    cells: tuple[tuple[int, PanelBuilder], ...]
    height: int = 8


class _Built(cogbuilder.Builder[dm.Panel]):
    """A panel already built and positioned, handed to the dashboard builder as is."""

    def __init__(self, panel: dm.Panel) -> None:
        self.panel = panel

    def build(self) -> dm.Panel:
        return self.panel


def place(board: sdk.Dashboard, rows: Sequence[Row]) -> sdk.Dashboard:
    """Add the rows and their panels to `board`, left to right and top to bottom, ids from 1."""
    y, panel_id = 0, 1
    for row in rows:
        widths = [w for w, _ in row.cells]
        if sum(widths) != GRID_WIDTH or any(w <= 0 for w in widths):
            raise ValueError(f"row {row.title!r}: panel widths {widths} must be positive and sum to {GRID_WIDTH}")
        board = board.with_row(
            sdk.Row(row.title).id(panel_id).grid_pos(dm.GridPos(h=1, w=GRID_WIDTH, x=0, y=y)).collapsed(False)
        )
        panel_id, y, x = panel_id + 1, y + 1, 0
        for width, panel in row.cells:
            placed = panel.build()
            placed.id_val = panel_id
            placed.grid_pos = dm.GridPos(h=row.height, w=width, x=x, y=y)
            board = board.with_panel(_Built(placed))
            panel_id, x = panel_id + 1, x + width
        y += row.height
    return board
