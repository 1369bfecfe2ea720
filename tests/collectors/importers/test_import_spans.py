"""Interval arithmetic for focus spans: union, intersection and the local-midnight split."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from collectors.importers.spans import Interval, intersect, split_at_midnight, union


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def test_union_merges_overlapping_and_touching_and_drops_empty() -> None:
    merged = union(
        [
            Interval(t(1, 10), t(1, 11)),
            Interval(t(1, 9), t(1, 10)),  # touches the first
            Interval(t(1, 10, 30), t(1, 12)),  # overlaps
            Interval(t(1, 13), t(1, 13)),  # empty
            Interval(t(1, 14), t(1, 15)),
        ]
    )
    assert merged == [Interval(t(1, 9), t(1, 12)), Interval(t(1, 14), t(1, 15))]


def test_intersect_keeps_only_covered_parts() -> None:
    cover = [Interval(t(1, 9), t(1, 9, 20)), Interval(t(1, 9, 25), t(1, 10))]
    parts = list(intersect(Interval(t(1, 9, 10), t(1, 9, 30)), cover))
    assert parts == [Interval(t(1, 9, 10), t(1, 9, 20)), Interval(t(1, 9, 25), t(1, 9, 30))]
    assert list(intersect(Interval(t(1, 11), t(1, 12)), cover)) == []


def test_split_at_utc_midnight_over_two_nights() -> None:
    pieces = list(split_at_midnight(Interval(t(1, 22), t(3, 1)), UTC))
    assert pieces == [
        Interval(t(1, 22), t(2, 0)),
        Interval(t(2, 0), t(3, 0)),
        Interval(t(3, 0), t(3, 1)),
    ]
    assert sum(p.seconds for p in pieces) == 27 * 3600


def test_split_in_a_zone_on_its_dst_night() -> None:
    # Europe/Amsterdam springs forward on 2025-03-30 (02:00 CET -> 03:00 CEST): the local day
    # of the 30th runs 2025-03-29T23:00Z .. 2025-03-30T22:00Z, 23 hours.
    amsterdam = ZoneInfo("Europe/Amsterdam")
    pieces = list(split_at_midnight(Interval(t(29, 22), t(30, 23)), amsterdam))
    assert pieces == [
        Interval(t(29, 22), t(29, 23)),
        Interval(t(29, 23), t(30, 22)),
        Interval(t(30, 22), t(30, 23)),
    ]
    assert [p.seconds / 3600 for p in pieces] == [1, 23, 1]
    assert {p.start.tzinfo for p in pieces} == {UTC}


def test_span_within_one_day_is_not_split() -> None:
    span = Interval(t(5, 8), t(5, 9))
    assert list(split_at_midnight(span, ZoneInfo("America/New_York"))) == [span]
