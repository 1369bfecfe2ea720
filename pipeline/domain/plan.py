"""The adoption plan of an investment: go-live, target and the planned ratio curve."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pipeline.domain.rules import S_CURVE_STEEPNESS

Curve = Literal["linear", "s_curve"]
DEFAULT_CURVE: Curve = "s_curve"


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-S_CURVE_STEEPNESS * (x - 0.5)))


def curve_fraction(x: float, curve: Curve = DEFAULT_CURVE) -> float:
    """Share of the target planned at progress x (clipped to [0, 1]): 0 at x=0, 1 at x=1."""
    x = min(max(x, 0.0), 1.0)
    if curve == "linear":
        return x
    if curve == "s_curve":
        low, high = _logistic(0.0), _logistic(1.0)
        return (_logistic(x) - low) / (high - low)
    raise ValueError(f"unknown curve {curve!r}: use 'linear' or 's_curve'")


@dataclass(frozen=True)
class Plan:
    """go_live, target_ratio (0-1) reached by target_date along `curve`."""

    go_live: date
    target_ratio: float
    target_date: date
    curve: Curve = DEFAULT_CURVE

    def __post_init__(self) -> None:
        if not 0.0 <= self.target_ratio <= 1.0:
            raise ValueError(f"target_ratio must be within 0..1, got {self.target_ratio}")
        if self.target_date < self.go_live:
            raise ValueError(f"target_date {self.target_date} is before go_live {self.go_live}")
        if self.curve not in ("linear", "s_curve"):
            raise ValueError(f"unknown curve {self.curve!r}: use 'linear' or 's_curve'")

    def is_started(self, day: date) -> bool:
        """False before go_live: the investment is `not_started`."""
        return day >= self.go_live

    def progress(self, day: date) -> float:
        """x = (t - go_live) / (target_date - go_live), clipped to [0, 1]."""
        span = (self.target_date - self.go_live).days
        if span == 0:
            # Target due on go-live day itself: the whole target is planned from then on.
            return 1.0 if day >= self.go_live else 0.0
        return min(max((day - self.go_live).days / span, 0.0), 1.0)

    def planned_ratio(self, day: date) -> float | None:
        """Planned adoption ratio on `day`; None before go_live (not started)."""
        if not self.is_started(day):
            return None
        return self.target_ratio * curve_fraction(self.progress(day), self.curve)
