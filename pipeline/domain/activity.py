"""Focus time per day, active days and active users (DAU / WAU / MAU), per application or investment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from pipeline.domain.days import MONTH_DAYS, WEEK_DAYS, days_between, split_by_day, window

MIN_MINUTES = 5.0
FOCUS_KIND = "focus"


class Span(Protocol):
    """What the domain reads of a usage event (collectors.event.UsageEvent satisfies it)."""

    @property
    def kind(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def app(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def duration_s(self) -> float: ...


class DailyFocus(NamedTuple):
    """Focus seconds of one user on one application on one local day."""

    user: str
    app: str
    day: date
    focus_s: float


class ActiveDay(NamedTuple):
    """A day on which a user was active on an application."""

    user: str
    app: str
    day: date


class ActiveCounts(NamedTuple):
    """Active users on D, in the 7-day window and in the 28-day window."""

    dau: int
    wau: int
    mau: int


def focus_by_day(spans: Iterable[Span], tz: ZoneInfo) -> list[DailyFocus]:
    """Sum focus seconds per (user, app, local day); `open` and `launch` evidence never counts as focus."""
    totals: dict[tuple[str, str, date], float] = defaultdict(float)
    for span in spans:
        if span.kind != FOCUS_KIND:
            continue
        for day, seconds in split_by_day(span.start, span.duration_s, tz):
            totals[span.user, span.app, day] += seconds
    return [DailyFocus(user, app, day, s) for (user, app, day), s in sorted(totals.items())]


def is_active_day(focus_s: float, min_minutes: float = MIN_MINUTES) -> bool:
    """A day is active when focus time reaches `min_minutes` (inclusive)."""
    return focus_s >= min_minutes * 60


def active_days(
    rows: Iterable[DailyFocus],
    min_minutes: float = MIN_MINUTES,
    app_min_minutes: Mapping[str, float] | None = None,
) -> frozenset[ActiveDay]:
    """Active (user, app, day) triples; rows for the same key are summed first (several devices)."""
    overrides = app_min_minutes or {}
    totals: dict[ActiveDay, float] = defaultdict(float)
    for row in rows:
        totals[ActiveDay(row.user, row.app, row.day)] += row.focus_s
    return frozenset(
        key for key, seconds in totals.items() if is_active_day(seconds, overrides.get(key.app, min_minutes))
    )


def active_users(
    days: Iterable[ActiveDay], first: date, last: date, apps: Collection[str] | None = None
) -> frozenset[str]:
    """Users with at least one active day in first..last, on any of `apps` (all apps when None).

    Passing an investment's applications gives investment usage: a user counts once however many they use.
    """
    return frozenset(d.user for d in days if first <= d.day <= last and (apps is None or d.app in apps))


def active_counts(days: Iterable[ActiveDay], as_of: date, apps: Collection[str] | None = None) -> ActiveCounts:
    """DAU, WAU (D-6..D) and MAU (D-27..D) as of `as_of`."""
    rows = list(days)
    return ActiveCounts(
        dau=len(active_users(rows, as_of, as_of, apps)),
        wau=len(active_users(rows, *window(as_of, WEEK_DAYS), apps)),
        mau=len(active_users(rows, *window(as_of, MONTH_DAYS), apps)),
    )


def dau_series(
    days: Iterable[ActiveDay], as_of: date, n_days: int = MONTH_DAYS, apps: Collection[str] | None = None
) -> list[int]:
    """DAU for each day of the window ending at `as_of`, oldest first, zeros included."""
    first, last = window(as_of, n_days)
    users_by_day: dict[date, set[str]] = defaultdict(set)
    for d in days:
        if first <= d.day <= last and (apps is None or d.app in apps):
            users_by_day[d.day].add(d.user)
    return [len(users_by_day[day]) for day in days_between(first, last)]


def reporting_users(seen: Iterable[tuple[str, date]], first: date, last: date) -> frozenset[str]:
    """Users with any telemetry (any kind, any application) in first..last: the numerator of coverage."""
    return frozenset(user for user, day in seen if first <= day <= last)
