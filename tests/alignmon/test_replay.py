"""alignmon/replay.py: a working day replayed at speed, whatever the day the demo runs; and the demo's status line."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from alignmon.demo import status_line
from alignmon.replay import IDLE_TICKS, WORKING_DAY, at_speed, days_to_replay, event_end, speed_for
from collectors.simulate import Organisation

FRIDAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("today", "first", "count"),
    [
        (date(2026, 12, 7), FRIDAY, 4),  # Monday: Friday, the weekend, today
        (date(2026, 12, 6), FRIDAY, 3),  # Sunday
        (date(2026, 12, 5), FRIDAY, 2),  # Saturday
        (date(2026, 12, 9), date(2026, 12, 8), 2),  # Wednesday: yesterday and today
    ],
)
def test_the_replay_starts_at_the_most_recent_working_day_before_today(today: date, first: date, count: int) -> None:
    days = days_to_replay(today)
    assert days[0] == first and days[0].weekday() < 5
    assert len(days) == count and days[-1] == today
    assert all(b - a == timedelta(days=1) for a, b in pairwise(days))


class FakeClock:
    """A monotonic clock that moves only when the replay sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_simulated_working_day_is_released_once_in_the_order_devices_report_it() -> None:
    org = Organisation.build(7, 1.0, FRIDAY)
    events = list(org.dicts_for_day(FRIDAY))
    assert len(events) > 1000
    clock = FakeClock()
    ticks = list(at_speed(events, speed_for(90), clock=clock, sleep=clock.sleep))

    released = [e for tick in ticks for e in tick.events]
    assert sorted(e["event_id"] for e in released) == sorted(e["event_id"] for e in events)  # each exactly once
    ends = [event_end(e) for e in released]
    assert ends == sorted(ends)
    for tick in ticks:
        assert all(event_end(e) <= tick.simulated for e in tick.events)  # reported only once its span ended
    # The working day (08:30-18:00) takes the 90 seconds asked for, with events in almost every tick; the late
    # workers' evening spans follow at once, the idle evening skipped.
    day_end = datetime(2026, 12, 4, 8, 30, tzinfo=ZoneInfo("UTC")) + WORKING_DAY
    working = [tick for tick in ticks if tick.simulated <= day_end]
    assert 80 <= len(working) <= 91
    assert sum(1 for tick in working if tick.events) >= len(working) - 5
    evening = [e for tick in ticks[len(working) :] for e in tick.events]
    assert evening and all(event_end(e) > day_end for e in evening)
    assert len(ticks) - len(working) <= len(evening) * (IDLE_TICKS + 1)


def test_no_events_no_ticks() -> None:
    assert list(at_speed([], 100.0, sleep=lambda _s: pytest.fail("slept"))) == []
    with pytest.raises(ValueError, match="some seconds"):
        speed_for(0)


def test_the_status_line_shows_the_flow_since_the_line_before() -> None:
    states = {"on_track": 4.0, "low": 1.0}
    alerts = [("AdoptionLow", "firing"), ("ShadowITSpreading", "pending"), ("LicenceWasteBeforeRenewal", "firing")]
    first = status_line((120, 283_311), None, datetime(2026, 12, 4, 9, 33), states, [])
    assert first == (
        "replayed up to Fri 09:33 | events: 120 through the gateway, 283,311 stored | investments: 1 low, 4 on_track "
        "| alerts: none"
    )
    later = status_line((1_193, 284_028), (120, 283_311), None, states, alerts)
    assert later == (
        "events: +1,073 through the gateway, 284,028 stored (+717) | investments: 1 low, 4 on_track "
        "| alerts: 2 firing, 1 pending"
    )
    assert "not computed yet" in status_line((0, 0), None, None, {}, [])
