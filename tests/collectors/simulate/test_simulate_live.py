"""The live feed releases each event once simulated time passes its end, on an injected clock."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from collectors.event import UsageEvent
from collectors.simulate import Organisation

MONDAY = date(2026, 3, 2)
MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.sleeps = 0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps += 1
        self.now += timedelta(seconds=seconds)


def test_a_fast_day_yields_the_days_events_in_end_order() -> None:
    org = Organisation.build(42, 1.0, MONDAY)
    clock = FakeClock(MIDNIGHT)
    until = MIDNIGHT + timedelta(days=1)
    events = list(org.live(clock=clock, sleep=clock.sleep, speed=3600, start=MIDNIGHT, until=until, allow_future=True))
    expected = [e for e in org.events_for_day(MONDAY) if e.end <= until]
    assert sorted(e.event_id for e in events) == sorted(e.event_id for e in expected)
    assert len(events) > 1000
    assert all(a.end <= b.end for a, b in itertools.pairwise(events))
    # A simulated day at 3600x takes 24 real seconds.
    assert clock.now - MIDNIGHT == pytest.approx(timedelta(seconds=24), abs=timedelta(seconds=1.1))


def test_spans_crossing_midnight_are_released_the_next_day() -> None:
    org = Organisation.build(42, 1.0, MONDAY)
    clock = FakeClock(MIDNIGHT)
    until = MIDNIGHT + timedelta(days=2)
    events = list(org.live(clock=clock, sleep=clock.sleep, speed=7200, start=MIDNIGHT, until=until, allow_future=True))
    late = [e for e in org.events_for_day(MONDAY) if e.end > MIDNIGHT + timedelta(days=1)]
    assert late, "the default fleet has late workers"
    ids = {e.event_id for e in events}
    assert {e.event_id for e in late} <= ids
    assert len(ids) == len(events)  # nothing twice


def test_never_runs_ahead_of_the_clock_unless_allowed() -> None:
    org = Organisation.build(42, 1.0, MONDAY)
    real_start = MIDNIGHT + timedelta(hours=10)
    clock = FakeClock(real_start)
    until = MIDNIGHT + timedelta(hours=10, minutes=30)
    yielded: list[tuple[UsageEvent, datetime]] = []
    # Default start: today's midnight, so the feed first catches up at 60x, then keeps pace with the clock.
    for event in org.live(clock=clock, sleep=clock.sleep, speed=60, until=until):
        yielded.append((event, clock()))
    assert all(event.end <= seen_at for event, seen_at in yielded)
    expected = {e.event_id for e in org.events_for_day(MONDAY) if e.end <= until}
    assert {e.event_id for e, _ in yielded} == expected
    # Capped at the clock, simulated time reaches `until` (10:30) when the clock does: 30 minutes later.
    elapsed = clock.now - real_start
    assert timedelta(minutes=29) <= elapsed <= timedelta(minutes=32)


def test_live_events_can_be_pseudonymised() -> None:
    org = Organisation.build(42, 1.0, MONDAY)
    clock = FakeClock(MIDNIGHT)
    until = MIDNIGHT + timedelta(hours=10)
    feed = org.live(
        clock=clock, sleep=clock.sleep, speed=3600, start=MIDNIGHT, until=until, allow_future=True,
        pseudonymise_with=b"k",
    )  # fmt: skip
    assert all(e.user.startswith("u_") for e in feed)


def test_speed_must_be_positive() -> None:
    org = Organisation.build(42, 1.0, MONDAY)
    with pytest.raises(ValueError, match="speed"):
        next(org.live(speed=0))
