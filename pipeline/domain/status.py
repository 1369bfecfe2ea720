"""Status of an investment on day D: not_started, unknown, low (with hysteresis) or on_track."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from enum import StrEnum

from pipeline.domain.plan import Plan
from pipeline.domain.rules import LOW_DAYS, MIN_COVERAGE, TOLERANCE


class Status(StrEnum):
    """The four statuses of METRICS.md; the values are the strings shown everywhere."""

    NOT_STARTED = "not_started"
    UNKNOWN = "unknown"
    LOW = "low"
    ON_TRACK = "on_track"


def is_low_day(adoption: float | None, planned: float | None, tolerance: float = TOLERANCE) -> bool:
    """One day below plan: adoption < planned * (1 - tolerance); an unknown value is never low."""
    if adoption is None or planned is None:
        return False
    return adoption < planned * (1.0 - tolerance)


def status(
    as_of: date,
    plan: Plan,
    coverage: float | None,
    daily_adoption: Mapping[date, float | None],
    *,
    min_coverage: float = MIN_COVERAGE,
    tolerance: float = TOLERANCE,
    low_days: int = LOW_DAYS,
) -> Status:
    """Status on `as_of`.

    `coverage` is today's coverage, None when there is no directory (or an empty target population).
    `daily_adoption` maps each day to that day's adoption ratio if the day is *known* (coverage at least
    min_coverage; None or absent otherwise); only the last `low_days` days (as_of included) are read.
    `low` needs every one of them known and below plan: missing data is not non-use. Below plan today with
    a known day at or above the threshold in the window is `on_track` (hysteresis); below plan today with
    only some days known is `unknown` (insufficient history), never `low`.
    """
    if low_days < 1:
        raise ValueError(f"low_days must be >= 1, got {low_days}")
    if not plan.is_started(as_of):
        return Status.NOT_STARTED
    if coverage is None or coverage < min_coverage:
        return Status.UNKNOWN
    days = [as_of - timedelta(days=back) for back in range(low_days)]
    values = [(daily_adoption.get(day), plan.planned_ratio(day)) for day in days]
    if not is_low_day(*values[0], tolerance):
        return Status.ON_TRACK
    if any(a is not None and p is not None and not is_low_day(a, p, tolerance) for a, p in values):
        return Status.ON_TRACK
    if all(is_low_day(a, p, tolerance) for a, p in values):
        return Status.LOW
    return Status.UNKNOWN
