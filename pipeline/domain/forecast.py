"""Forecast of when an investment reaches its target: a logistic curve fitted to daily adoption since go-live.

A(t) = K / (1 + e^(-r (t - t0))), t in days since go_live. The fit needs no numpy: for each K on a grid
over (max observed, 1] the logit ln(A / (K - A)) = r t - r t0 is a straight line, fitted by weighted
least squares; the K with the smallest squared error in ratio space seeds a Levenberg-Marquardt refinement
of (K, r, t0). Time to target T: t_T = t0 - ln(K/T - 1) / r, reached only when K > T and r > 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from pipeline.domain.plan import Plan
from pipeline.domain.rules import MIN_FIT_DAYS, TOLERANCE

# DOMAIN.md: no forecast before the series shows curvature (6-8 weekly points); two weeks of daily points
# (docs/metrics.md min_fit_days) is the floor we accept, and the caller may demand more.
MIN_POINTS = MIN_FIT_DAYS
# A projected date further than this past the as-of day is reported as not reached.
HORIZON_DAYS = 3650
K_GRID_STEPS = 200
LM_ITERATIONS = 200
_EXP_LIMIT = 700.0


class ForecastOutcome(StrEnum):
    """Whether a forecast could be made and what it says."""

    INSUFFICIENT_DATA = "insufficient_data"
    NOT_REACHED = "not_reached"
    REACHED = "reached"


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(max(z, -_EXP_LIMIT), _EXP_LIMIT)))


@dataclass(frozen=True)
class LogisticFit:
    """Fitted A(t) = k / (1 + e^(-r (t - t0))) with its root-mean-square error in ratio units."""

    k: float
    r: float
    t0: float
    rmse: float

    def value(self, t: float) -> float:
        """The fitted adoption ratio t days after go-live."""
        return self.k * _sigmoid(self.r * (t - self.t0))

    def time_to(self, target: float) -> float | None:
        """Days after go-live when the curve reaches `target`; None when it never does."""
        if target <= 0:
            return 0.0
        if self.r <= 0 or self.k <= target:
            return None
        return self.t0 - math.log(self.k / target - 1.0) / self.r


@dataclass(frozen=True)
class Forecast:
    """The projected day the target is reached (if ever) and whether that is later than planned."""

    outcome: ForecastOutcome
    points: int
    projected_date: date | None = None
    at_risk: bool | None = None
    fit: LogisticFit | None = None


def _sse(points: Sequence[tuple[float, float]], k: float, r: float, t0: float) -> float:
    return sum((y - k * _sigmoid(r * (t - t0))) ** 2 for t, y in points)


def _logit_line(points: Sequence[tuple[float, float]], k: float) -> tuple[float, float]:
    """(r, t0) from weighted least squares on ln(y / (k - y)); r = 0 when the data do not rise."""
    rows: list[tuple[float, float, float]] = []
    for t, y in points:
        if 0.0 < y < k:
            # Delta-method weights: the logit blows noise up near 0 and near k, so those points count less.
            rows.append((t, math.log(y / (k - y)), (y * (k - y) / k) ** 2))
    total_w = sum(w for _, _, w in rows)
    if len(rows) < 2 or total_w <= 0:
        return 0.0, 0.0
    mean_t = sum(w * t for t, _, w in rows) / total_w
    mean_z = sum(w * z for _, z, w in rows) / total_w
    stt = sum(w * (t - mean_t) ** 2 for t, _, w in rows)
    if stt <= 0:
        return 0.0, 0.0
    r = sum(w * (t - mean_t) * (z - mean_z) for t, z, w in rows) / stt
    if r <= 0:
        return 0.0, 0.0
    return r, mean_t - mean_z / r


def _solve3(a: list[list[float]], b: list[float]) -> list[float] | None:
    """Solve a 3x3 linear system by Gaussian elimination with partial pivoting; None when singular."""
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    for col in range(3):
        pivot = max(range(col, 3), key=lambda i: abs(m[i][col]))
        if abs(m[pivot][col]) < 1e-300:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for row in range(col + 1, 3):
            factor = m[row][col] / m[col][col]
            for j in range(col, 4):
                m[row][j] -= factor * m[col][j]
    x = [0.0, 0.0, 0.0]
    for row in (2, 1, 0):
        x[row] = (m[row][3] - sum(m[row][j] * x[j] for j in range(row + 1, 3))) / m[row][row]
    return x


def _refine(
    points: Sequence[tuple[float, float]], k: float, r: float, t0: float, k_max: float
) -> tuple[float, float, float]:
    """Levenberg-Marquardt on (k, r, t0) in ratio space, keeping 0 < k <= k_max and r > 0."""
    best = _sse(points, k, r, t0)
    damping = 1e-3
    for _ in range(LM_ITERATIONS):
        jtj = [[0.0] * 3 for _ in range(3)]
        jtr = [0.0] * 3
        for t, y in points:
            s = _sigmoid(r * (t - t0))
            grad = (s, k * s * (1 - s) * (t - t0), -k * s * (1 - s) * r)
            residual = y - k * s
            for i in range(3):
                jtr[i] += grad[i] * residual
                for j in range(3):
                    jtj[i][j] += grad[i] * grad[j]
        improved = False
        while damping < 1e12:
            lhs = [[jtj[i][j] + (damping * jtj[i][i] if i == j else 0.0) for j in range(3)] for i in range(3)]
            step = _solve3(lhs, jtr)
            if step is None:
                damping *= 10
                continue
            cand = (min(max(k + step[0], 1e-9), k_max), max(r + step[1], 1e-9), t0 + step[2])
            cand_sse = _sse(points, *cand)
            if cand_sse < best:
                gain = best - cand_sse
                k, r, t0, best = *cand, cand_sse
                damping = max(damping / 10, 1e-12)
                improved = gain > 1e-15 * max(best, 1e-30)
                break
            damping *= 10
        if not improved:
            break
    return k, r, t0


def fit_logistic(points: Sequence[tuple[float, float]], k_max: float = 1.0) -> LogisticFit:
    """Least-squares logistic fit to (days since go-live, adoption ratio) points, with k <= k_max."""
    if not points:
        raise ValueError("cannot fit a logistic curve to no points")
    y_max = max(y for _, y in points)
    if y_max <= 0:
        # Nobody adopted: the flat zero curve is the fit, and it never reaches any positive target.
        return LogisticFit(k=0.0, r=0.0, t0=0.0, rmse=0.0)
    low = min(y_max, k_max)
    grid = [k_max] if low >= k_max else [low + (k_max - low) * i / K_GRID_STEPS for i in range(1, K_GRID_STEPS + 1)]
    best: tuple[float, float, float, float] | None = None
    for k in grid:
        r, t0 = _logit_line(points, k)
        sse = _sse(points, k, r, t0)
        if best is None or sse < best[0]:
            best = (sse, k, r, t0)
    assert best is not None  # the grid is never empty
    _, k, r, t0 = best
    if r > 0:
        k, r, t0 = _refine(points, k, r, t0, k_max)
    return LogisticFit(k=k, r=r, t0=t0, rmse=math.sqrt(_sse(points, k, r, t0) / len(points)))


def forecast(
    daily_adoption: Mapping[date, float | None],
    plan: Plan,
    as_of: date,
    *,
    min_points: int = MIN_POINTS,
    horizon_days: int = HORIZON_DAYS,
    tolerance: float = TOLERANCE,
) -> Forecast:
    """Fit the daily adoption ratio from go_live to as_of and project the day the target is reached.

    The target counts as reached at target_ratio · (1 − tolerance), the tolerance of the status rule: adoption
    within it is on plan, and a logistic fit to data that follows an s-curve plan cannot tell a ceiling just
    under the target from one just over it. `at_risk` is True when that day is after target_date or never
    comes, and None when there are fewer than `min_points` known days since go-live. A target the latest known
    day already meets is not at risk, however late it was met: there is nothing left to miss.
    """
    goal = plan.target_ratio * (1.0 - tolerance)
    points = [
        (float((day - plan.go_live).days), ratio)
        for day, ratio in sorted(daily_adoption.items())
        if plan.go_live <= day <= as_of and ratio is not None
    ]
    if len(points) < max(min_points, 3):
        return Forecast(ForecastOutcome.INSUFFICIENT_DATA, points=len(points))
    if points[-1][1] >= goal:
        first = next(t for t, ratio in points if ratio >= goal)
        return Forecast(
            ForecastOutcome.REACHED,
            points=len(points),
            projected_date=plan.go_live + timedelta(days=int(first)),
            at_risk=False,
        )
    fit = fit_logistic(points)
    t_target = fit.time_to(goal)
    last_day = (as_of - plan.go_live).days + horizon_days
    # Compare as numbers first: a curve that barely rises can put t_target beyond any representable date.
    if t_target is not None and math.isfinite(t_target) and t_target <= last_day:
        # The first whole day on which the curve is at or above the target (never before go-live).
        projected = plan.go_live + timedelta(days=max(0, math.ceil(t_target - 1e-9)))
        return Forecast(
            ForecastOutcome.REACHED,
            points=len(points),
            projected_date=projected,
            at_risk=projected > plan.target_date,
            fit=fit,
        )
    return Forecast(ForecastOutcome.NOT_REACHED, points=len(points), at_risk=True, fit=fit)
