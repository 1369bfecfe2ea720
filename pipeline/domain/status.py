"""Status of an investment on day D (not_started, unknown, low with hysteresis, or on_track) and its reason."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from enum import StrEnum
from typing import NamedTuple

from pipeline.domain.plan import Plan
from pipeline.domain.rules import LOW_DAYS, MIN_COVERAGE, TOLERANCE


class Status(StrEnum):
    """The four statuses of docs/metrics.md; the values are the strings shown everywhere."""

    NOT_STARTED = "not_started"
    UNKNOWN = "unknown"
    LOW = "low"
    ON_TRACK = "on_track"


class Reason(StrEnum):
    """Why a status is not on_track (docs/metrics.md, Data completeness); the values are the strings stored."""

    BEFORE_GO_LIVE = "before_go_live"
    NO_DIRECTORY = "no_directory"
    LOW_COVERAGE = "low_coverage"
    INSUFFICIENT_HISTORY = "insufficient_history"
    BELOW_PLAN = "below_plan"
    SMALL_POPULATION = "small_population"


# The statuses and reasons in words, for the people who read mails and reports (one wording everywhere).
STATUS_WORDS: dict[str, str] = {
    Status.ON_TRACK: "on track",
    Status.NOT_STARTED: "not started",
    Status.LOW: "low",
    Status.UNKNOWN: "unknown",
}
REASON_WORDS: dict[str, str] = {
    Reason.BELOW_PLAN: "adoption below plan beyond the tolerance on each recent day with data",
    Reason.INSUFFICIENT_HISTORY: "too few recent days with enough telemetry to tell (missing data is not non-use)",
    Reason.LOW_COVERAGE: "too little of the target population sends telemetry to tell",
    Reason.NO_DIRECTORY: "no directory, so the target population is unknown",
    Reason.BEFORE_GO_LIVE: "before go-live",
    Reason.SMALL_POPULATION: "the target population is smaller than k people, so its adoption is not shown (privacy)",
}


class Verdict(NamedTuple):
    """A status and, for every status but on_track, its reason."""

    status: Status
    reason: Reason | None


def is_low_day(adoption: float | None, planned: float | None, tolerance: float = TOLERANCE) -> bool:
    """One day below plan: adoption < planned * (1 - tolerance); an unknown value is never low."""
    if adoption is None or planned is None:
        return False
    return adoption < planned * (1.0 - tolerance)


def verdict(
    as_of: date,
    plan: Plan,
    coverage: float | None,
    daily_adoption: Mapping[date, float | None],
    *,
    min_coverage: float = MIN_COVERAGE,
    tolerance: float = TOLERANCE,
    low_days: int = LOW_DAYS,
) -> Verdict:
    """Status on `as_of` and its reason.

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
        return Verdict(Status.NOT_STARTED, Reason.BEFORE_GO_LIVE)
    if coverage is None:
        return Verdict(Status.UNKNOWN, Reason.NO_DIRECTORY)
    if coverage < min_coverage:
        return Verdict(Status.UNKNOWN, Reason.LOW_COVERAGE)
    days = [as_of - timedelta(days=back) for back in range(low_days)]
    values = [(daily_adoption.get(day), plan.planned_ratio(day)) for day in days]
    on_track = Verdict(Status.ON_TRACK, None)
    if not is_low_day(*values[0], tolerance):
        return on_track
    if any(a is not None and p is not None and not is_low_day(a, p, tolerance) for a, p in values):
        return on_track
    if all(is_low_day(a, p, tolerance) for a, p in values):
        return Verdict(Status.LOW, Reason.BELOW_PLAN)
    return Verdict(Status.UNKNOWN, Reason.INSUFFICIENT_HISTORY)
