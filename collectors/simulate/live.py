"""A live feed: the simulated fleet's events, released as simulated time passes their end."""

from __future__ import annotations

import heapq
import time as _time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from collectors.event import UsageEvent

if TYPE_CHECKING:
    from collectors.simulate.organisation import Organisation


def _utc_now() -> datetime:
    return datetime.now(UTC)


def live_events(
    org: Organisation,
    *,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
    speed: float = 1.0,
    start: datetime | None = None,
    until: datetime | None = None,
    allow_future: bool = False,
    max_sleep_s: float = 1.0,
    pseudonymise_with: bytes | None = None,
) -> Iterator[UsageEvent]:
    """Yield each event once simulated time reaches its end (a span is reported when it finishes).

    Simulated time starts at `start` (default: the start of today in the organisation's time zone, so
    the feed first catches up with today) and runs `speed` times as fast as `clock`. Unless
    `allow_future`, it never runs ahead of the clock: the event contract rejects starts in the future.
    Days are generated as simulated time enters them; with `until` the feed ends there, else never.
    Events that ended before `start` are skipped (a backfill up to yesterday plus a live feed from
    today's midnight gives every event exactly once).
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    clock = clock or _utc_now
    sleep = sleep or _time.sleep
    real_start = clock()
    if start is None:
        local = real_start.astimezone(org.tz)
        start = datetime.combine(local.date(), datetime.min.time(), tzinfo=org.tz)
    next_day = start.astimezone(org.tz).date()
    pending: list[tuple[datetime, int, UsageEvent]] = []
    seq = 0

    while True:
        now = clock()
        sim = start + (now - real_start) * speed
        if not allow_future:
            sim = min(sim, now)
        horizon = sim if until is None else min(sim, until)
        while next_day <= horizon.astimezone(org.tz).date():
            for event in org.events_for_day(next_day, pseudonymise_with=pseudonymise_with):
                end = event.end
                if end >= start:
                    heapq.heappush(pending, (end, seq, event))
                    seq += 1
            next_day += timedelta(days=1)
        while pending and pending[0][0] <= horizon:
            yield heapq.heappop(pending)[2]
        if until is not None and sim >= until:
            return
        # Sleep until the next event is due (or a new day begins), in real seconds, in bounded steps.
        due = pending[0][0] if pending else datetime.combine(next_day, datetime.min.time(), tzinfo=org.tz)
        if until is not None:
            due = min(due, until)
        wait = (due - sim).total_seconds() / speed
        if not allow_future and sim >= now - timedelta(microseconds=1):
            wait = (due - now).total_seconds()  # running at the clock's pace now
        sleep(min(max_sleep_s, max(wait, 0.001)))
