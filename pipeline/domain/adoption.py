"""Cost and trend figures of one investment: licences, waste, cost per user, stickiness, trend, gap.

The counting (active users, population, coverage, adoption ratio) is SQL; its plain-Python oracle is tests/oracle/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from pipeline.domain.days import window
from pipeline.domain.rules import MONTH_DAYS


def licence_utilisation(active_users: int, seats: int | None) -> float | None:
    """Active users (28-day, anyone) / seats; may exceed 1 when more people use it than were licensed."""
    if not seats:
        return None
    return active_users / seats


def wasted_spend(seats: int | None, active_users: int, annual_cost: float | None) -> float | None:
    """Annualised cost of idle seats: max(seats - active, 0) * annual_cost / seats."""
    if not seats or annual_cost is None:
        return None
    return max(seats - active_users, 0) * annual_cost / seats


def cost_per_active_user(annual_cost: float | None, active_users: int) -> float | None:
    """Annual cost / active users (28-day); None (never infinity) when nobody is active."""
    if annual_cost is None or active_users <= 0:
        return None
    return annual_cost / active_users


def stickiness(dau: Sequence[int], mau: int) -> float | None:
    """Mean DAU over the 28-day window / MAU; `dau` holds one value per day of the window, zeros included."""
    if mau <= 0 or not dau:
        return None
    return sum(dau) / len(dau) / mau


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Ordinary least-squares slope of y on x; None with fewer than two distinct x."""
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx


def trend(daily_ratio: Mapping[date, float | None], as_of: date, days: int = MONTH_DAYS) -> float | None:
    """Least-squares slope per day of the daily adoption ratio over the window ending at `as_of`.

    Days missing from the series or None (unknown) are left out rather than counted as zero.
    """
    first, last = window(as_of, days)
    points = [
        (float((day - first).days), ratio)
        for day, ratio in sorted(daily_ratio.items())
        if first <= day <= last and ratio is not None
    ]
    return slope(points)


def gap(planned: float | None, adoption: float | None) -> float | None:
    """planned - adoption (positive = behind plan); None when either is unknown."""
    if planned is None or adoption is None:
        return None
    return planned - adoption
