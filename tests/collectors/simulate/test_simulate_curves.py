"""The planned-ratio curve, checked against values worked out by hand from docs/metrics.md."""

from __future__ import annotations

import math
from datetime import date

import pytest

from collectors.simulate.curves import logistic_growth, planned_ratio

GO_LIVE = date(2026, 1, 1)
TARGET = date(2026, 1, 11)


def test_linear_plan() -> None:
    assert planned_ratio(date(2025, 12, 31), GO_LIVE, TARGET, 0.8, "linear") == 0.0
    assert planned_ratio(GO_LIVE, GO_LIVE, TARGET, 0.8, "linear") == 0.0
    assert planned_ratio(date(2026, 1, 6), GO_LIVE, TARGET, 0.8, "linear") == pytest.approx(0.4)
    assert planned_ratio(date(2026, 3, 1), GO_LIVE, TARGET, 0.8, "linear") == pytest.approx(0.8)


def test_s_curve_plan() -> None:
    # Normalised logistic: 0 at go-live, half the target at the midpoint (symmetry), the target at the end.
    assert planned_ratio(GO_LIVE, GO_LIVE, TARGET, 0.9, "s_curve") == pytest.approx(0.0)
    assert planned_ratio(date(2026, 1, 6), GO_LIVE, TARGET, 0.9, "s_curve") == pytest.approx(0.45)
    assert planned_ratio(TARGET, GO_LIVE, TARGET, 0.9, "s_curve") == pytest.approx(0.9)
    # x = 0.2: L = 1 / (1 + e^3) = 0.0474259; (L - L0) / (L1 - L0) with L0 = 0.0066929, L1 = 0.9933071.
    expected = 0.9 * (0.0474259 - 0.0066929) / (0.9933071 - 0.0066929)
    assert planned_ratio(date(2026, 1, 3), GO_LIVE, TARGET, 0.9, "s_curve") == pytest.approx(expected, abs=1e-6)


def test_logistic_growth() -> None:
    mid = date(2026, 2, 1)
    assert logistic_growth(mid, mid, 0.25, 0.12) == pytest.approx(0.125)
    assert logistic_growth(date(2026, 2, 11), mid, 0.25, 0.12) == pytest.approx(0.25 / (1 + math.exp(-1.2)))
