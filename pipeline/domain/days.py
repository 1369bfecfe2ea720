"""Calendar days in the organisation's time zone: the as-of windows."""

from __future__ import annotations

from datetime import date, timedelta


def window(as_of: date, days: int) -> tuple[date, date]:
    """The inclusive window of `days` calendar days ending at `as_of` (7 -> D-6..D, 28 -> D-27..D)."""
    if days < 1:
        raise ValueError(f"a window has at least one day, got {days}")
    return as_of - timedelta(days=days - 1), as_of
