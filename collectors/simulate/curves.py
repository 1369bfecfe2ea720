"""Adoption curves: the planned ratio of docs/metrics.md and the shapes the simulated stories follow."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Literal

Curve = Literal["s_curve", "linear"]


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-10.0 * (x - 0.5)))


_L0 = _logistic(0.0)
_L1 = _logistic(1.0)


def planned_ratio(day: date, go_live: date, target_date: date, target_ratio: float, curve: Curve) -> float:
    """The planned adoption ratio on `day`, exactly as docs/metrics.md defines it (0 before go-live)."""
    if day < go_live:
        return 0.0
    span = (target_date - go_live).days
    x = 1.0 if span <= 0 else min(1.0, max(0.0, (day - go_live).days / span))
    if curve == "linear":
        return target_ratio * x
    return target_ratio * (_logistic(x) - _L0) / (_L1 - _L0)


def logistic_growth(day: date, midpoint: date, ceiling: float, rate_per_day: float) -> float:
    """A bottom-up diffusion curve: ceiling / (1 + e^(-rate·(day - midpoint)))."""
    return ceiling / (1.0 + math.exp(-rate_per_day * (day - midpoint).days))


def shifted(day: date, days: int) -> date:
    """`day` moved by a number of days (a curve that runs ahead of plan reads the plan later)."""
    return day + timedelta(days=days)
