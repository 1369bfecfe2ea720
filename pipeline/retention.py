"""Retention: the writer itself deletes per-person rows past their horizons; the k-safe daily figures stay.

Raw events and the per-person daily rollups are personal data kept only as long as the settings allow. The
adoption series computed from them is aggregate and is kept: the refresh never recomputes a day whose 28-day
window reaches before the rollups still held (`kept_until`), so history survives retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

import duckdb

from base.errors import AlignmonError
from pipeline.domain.rules import MONTH_DAYS
from pipeline.transaction import transaction


@dataclass(frozen=True)
class Retention:
    """How many days (the as-of day included) per-person raw events and daily rollups are kept."""

    raw_days: int
    daily_days: int

    def __post_init__(self) -> None:
        if self.raw_days < 1:
            raise AlignmonError(f"ALIGNMON_RAW_RETENTION_DAYS={self.raw_days}: keep raw events at least 1 day")
        if self.daily_days < MONTH_DAYS:
            raise AlignmonError(
                f"ALIGNMON_DAILY_RETENTION_DAYS={self.daily_days} is below the {MONTH_DAYS}-day window every figure "
                f"needs (MAU, adoption, coverage): keep the daily rollups at least {MONTH_DAYS} days"
            )

    def raw_from(self, today: date) -> date:
        """The first day whose raw events are kept."""
        return today - timedelta(days=self.raw_days - 1)

    def daily_from(self, today: date) -> date:
        """The first day whose per-person daily rollups are kept."""
        return today - timedelta(days=self.daily_days - 1)


class Deleted(NamedTuple):
    """The per-person rows one retention run deleted, per table."""

    events: int
    daily: int  # usage_user_daily
    device_days: int  # device_daily


def enforce(con: duckdb.DuckDBPyConnection, retention: Retention, today: date, tz: str) -> Deleted:
    """Delete what is past the horizons as of `today`, in one transaction; the rows deleted.

    The devices' days (device_daily) go with the raw events.

    Each run is recorded in `retention_runs` (when, horizons, rows deleted per table): the audit of what was deleted.
    """
    raw_from, daily_from = retention.raw_from(today), retention.daily_from(today)
    with transaction(con):
        events = con.execute("DELETE FROM events WHERE timezone($tz, start)::DATE < $cut", {"tz": tz, "cut": raw_from})
        n_events = _count(events.fetchone())
        n_daily = _count(con.execute("DELETE FROM usage_user_daily WHERE day < ?", [daily_from]).fetchone())
        # Which device reported when (and whose it is) is as personal as the raw events: it goes at their horizon.
        n_device_days = _count(con.execute("DELETE FROM device_daily WHERE day < ?", [raw_from]).fetchone())
        deleted = Deleted(n_events, n_daily, n_device_days)
        con.execute(
            "INSERT INTO retention_runs BY NAME SELECT now() AS run_at, $raw_from AS raw_from, "
            "$daily_from AS daily_from, $events AS events_deleted, $daily AS daily_deleted, "
            "$device_days AS device_days_deleted",
            {"raw_from": raw_from, "daily_from": daily_from, **deleted._asdict()},
        )
    return deleted


def _count(row: tuple[Any, ...] | None) -> int:
    return int(row[0]) if row else 0


def kept_until(con: duckdb.DuckDBPyConnection) -> date | None:
    """The last day of the series that can no longer be recomputed (its window lost rollups); None if none."""
    row = con.execute("SELECT max(daily_from) FROM retention_runs").fetchone()
    if row is None or row[0] is None:
        return None
    return row[0] + timedelta(days=MONTH_DAYS - 2)  # type: ignore[no-any-return]
