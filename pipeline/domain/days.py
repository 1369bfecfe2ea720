"""Calendar days in the organisation's time zone: midnight splitting and as-of windows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK_DAYS = 7
MONTH_DAYS = 28


def _start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant (in UTC) whose local date is `day`."""
    # fold=0 on a midnight that does not exist (DST gap at 00:00) maps to the gap's end: the right instant.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def split_by_day(start: datetime, duration_s: float, tz: ZoneInfo) -> list[tuple[date, float]]:
    """Split a span into (local day, real elapsed seconds) pieces at each local midnight it crosses.

    A span ending exactly at midnight gives no zero piece for the next day; a zero-length span
    (launch evidence) gives one piece of 0 seconds on its start day.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if duration_s < 0:
        raise ValueError(f"duration_s must be >= 0, got {duration_s}")
    # Arithmetic in UTC: local wall-clock arithmetic would gain or lose an hour on DST days.
    cursor = start.astimezone(UTC)
    end = cursor + timedelta(seconds=duration_s)
    if duration_s == 0:
        return [(cursor.astimezone(tz).date(), 0.0)]
    pieces: list[tuple[date, float]] = []
    while cursor < end:
        # Re-derive the day from the instant so a skipped calendar day (Samoa 2011) yields no empty piece.
        day = cursor.astimezone(tz).date()
        piece_end = min(_start_of_day(day + timedelta(days=1), tz), end)
        pieces.append((day, (piece_end - cursor).total_seconds()))
        cursor = piece_end
    return pieces


def window(as_of: date, days: int) -> tuple[date, date]:
    """The inclusive window of `days` calendar days ending at `as_of` (7 -> D-6..D, 28 -> D-27..D)."""
    if days < 1:
        raise ValueError(f"a window has at least one day, got {days}")
    return as_of - timedelta(days=days - 1), as_of


def days_between(first: date, last: date) -> Iterator[date]:
    """Every day from `first` to `last`, both inclusive."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
