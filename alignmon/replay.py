"""Working days replayed at speed: how the demo shows devices at work whatever the day and hour it runs.

The simulated fleet works 08:30-18:00 on weekdays (collectors.simulate.workday), so following the wall
clock shows nothing at night or at the weekend. The demo instead sends the most recent working day
through the gateway in a minute or two, in the order devices would have reported it (a span is
reported when it ends), then what has passed of today, then follows the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

# The simulated working day, 08:30 to 18:00 local time (collectors/simulate/workday.py EARLIEST_S .. LATEST_S).
WORKING_DAY = timedelta(hours=9, minutes=30)
# Ticks with nothing due after which the replay skips ahead to the next event.
IDLE_TICKS = 3


class Tick(NamedTuple):
    """What the simulated clock reached, and the events that ended since the previous tick."""

    simulated: datetime
    events: list[dict[str, Any]]


def event_end(event: dict[str, Any]) -> datetime:
    """When a JSON-shaped event's span ends (when a device reports it)."""
    return datetime.fromisoformat(event["start"]) + timedelta(seconds=float(event["duration_s"]))


def days_to_replay(today: date) -> list[date]:
    """The most recent working day before `today`, and every day after it up to `today` (weekend days included:
    the simulator has no events on them)."""
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return [day + timedelta(days=n) for n in range((today - day).days + 1)]


def speed_for(seconds_per_working_day: float) -> float:
    """How many times faster than real time a working day passes in `seconds_per_working_day`."""
    if seconds_per_working_day <= 0:
        raise ValueError("a working day must take some seconds")
    return WORKING_DAY.total_seconds() / seconds_per_working_day


def at_speed(
    events: Iterable[dict[str, Any]],
    speed: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    tick_s: float = 1.0,
) -> Iterator[Tick]:
    """Release `events` as a simulated clock, starting at the first event's start and running `speed` times as
    fast as `clock`, passes their ends: one Tick every `tick_s` real seconds until every event is out. Idle
    stretches (the evening before late workers' spans) are skipped, so events flow every tick or two."""
    ordered = sorted(events, key=event_end)
    if not ordered:
        return
    began = min(datetime.fromisoformat(e["start"]) for e in ordered)
    started, i, skipped = clock(), 0, timedelta()
    idle = timedelta(seconds=speed * tick_s * IDLE_TICKS)
    while i < len(ordered):
        sleep(tick_s)
        simulated = began + timedelta(seconds=(clock() - started) * speed) + skipped
        if event_end(ordered[i]) > simulated + idle:
            skipped += event_end(ordered[i]) - simulated
            simulated = event_end(ordered[i])
        batch = []
        while i < len(ordered) and event_end(ordered[i]) <= simulated:
            batch.append(ordered[i])
            i += 1
        yield Tick(simulated, batch)
