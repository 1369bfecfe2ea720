"""Calendar days: the oracle's midnight split (tests/oracle/adoption.py) and the as-of windows of both sides."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pipeline.domain import days
from tests.oracle import adoption as oracle
from tests.oracle.adoption import days_between, split_by_day

AMS = ZoneInfo("Europe/Amsterdam")


def test_span_within_one_day_is_one_piece() -> None:
    start = datetime(2025, 5, 6, 9, 0, tzinfo=AMS)
    assert split_by_day(start, 600.0, AMS) == [(date(2025, 5, 6), 600.0)]


def test_span_over_midnight_is_split() -> None:
    # 23:50 local + 20 min -> 10 min on the 6th, 10 min on the 7th.
    start = datetime(2025, 5, 6, 23, 50, tzinfo=AMS)
    assert split_by_day(start, 1200.0, AMS) == [(date(2025, 5, 6), 600.0), (date(2025, 5, 7), 600.0)]


def test_span_over_two_midnights() -> None:
    # 22:00 on the 6th for 28 h: 2 h, 24 h, 2 h.
    start = datetime(2025, 5, 6, 22, 0, tzinfo=AMS)
    assert split_by_day(start, 28 * 3600.0, AMS) == [
        (date(2025, 5, 6), 7200.0),
        (date(2025, 5, 7), 86400.0),
        (date(2025, 5, 8), 7200.0),
    ]


def test_days_are_local_not_utc() -> None:
    # 23:30 UTC on 5 May is 01:30 on 6 May in Amsterdam (CEST, +02:00).
    start = datetime(2025, 5, 5, 23, 30, tzinfo=UTC)
    assert split_by_day(start, 60.0, AMS) == [(date(2025, 5, 6), 60.0)]
    assert split_by_day(start, 60.0, ZoneInfo("UTC")) == [(date(2025, 5, 5), 60.0)]


def test_spring_forward_day_has_23_hours() -> None:
    # 2025-03-30 02:00 CET -> 03:00 CEST. Start 22:00 CET on the 29th (21:00 UTC), 30 h of real time:
    # 29th: 2 h; 30th: 23 h (a short day); 31st: the remaining 5 h.
    start = datetime(2025, 3, 29, 22, 0, tzinfo=AMS)
    assert split_by_day(start, 30 * 3600.0, AMS) == [
        (date(2025, 3, 29), 7200.0),
        (date(2025, 3, 30), 82800.0),
        (date(2025, 3, 31), 18000.0),
    ]


def test_fall_back_day_has_25_hours_and_no_empty_piece_at_midnight() -> None:
    # 2025-10-26 03:00 CEST -> 02:00 CET: the day lasts 25 h; a span covering exactly it stays on one day.
    start = datetime(2025, 10, 26, 0, 0, tzinfo=AMS)
    assert split_by_day(start, 25 * 3600.0, AMS) == [(date(2025, 10, 26), 90000.0)]


def test_pieces_use_real_elapsed_seconds_across_offsets() -> None:
    # Same instant given with a +05:00 offset; the local (Amsterdam) split must not change.
    start = datetime(2025, 5, 7, 2, 50, tzinfo=timezone(timedelta(hours=5)))  # 23:50 CEST on the 6th
    assert split_by_day(start, 1200.0, AMS) == [(date(2025, 5, 6), 600.0), (date(2025, 5, 7), 600.0)]


def test_zero_length_launch_evidence_keeps_its_day() -> None:
    start = datetime(2025, 5, 6, 12, 0, tzinfo=AMS)
    assert split_by_day(start, 0.0, AMS) == [(date(2025, 5, 6), 0.0)]


def test_rejects_naive_start_and_negative_duration() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        split_by_day(datetime(2025, 5, 6, 12, 0), 10.0, AMS)
    with pytest.raises(ValueError, match=">= 0"):
        split_by_day(datetime(2025, 5, 6, 12, 0, tzinfo=AMS), -1.0, AMS)


@pytest.mark.parametrize("window", [days.window, oracle.window], ids=["production", "oracle"])
def test_windows_end_at_as_of_inclusive(window: Callable[[date, int], tuple[date, date]]) -> None:
    d = date(2025, 3, 31)
    assert window(d, 1) == (d, d)
    assert window(d, 7) == (date(2025, 3, 25), d)
    assert window(d, 28) == (date(2025, 3, 4), d)
    with pytest.raises(ValueError):
        window(d, 0)


def test_days_between_is_inclusive() -> None:
    assert list(days_between(date(2025, 2, 27), date(2025, 3, 1))) == [
        date(2025, 2, 27),
        date(2025, 2, 28),
        date(2025, 3, 1),
    ]
