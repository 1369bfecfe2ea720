"""Time granularity as pure functions: spans split at local midnight (DST days included), starts truncated, ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.event import MAX_TEXT, UsageEvent
from collectors.granularity import Granularity, coarsen, piece_id, split_at_midnight
from collectors.policy import PrivacyPolicy

AMS = ZoneInfo("Europe/Amsterdam")


def event(start: str, duration_s: float, event_id: str = "e1", kind: str = "focus") -> UsageEvent:
    return UsageEvent.model_validate(
        {"event_id": event_id, "kind": kind, "device_id": "laptop-1", "user": "jdoe", "app": "code.exe",
         "start": start, "duration_s": duration_s, "source": "agent"}
    )  # fmt: skip


def shown(events: list[UsageEvent]) -> list[tuple[str, str, float]]:
    return [(e.event_id, e.start.isoformat(), e.duration_s) for e in events]


@pytest.mark.parametrize(
    ("start", "duration_s", "expected"),
    [
        # Autumn: 2026-10-25 has 25 hours. 00:00 to 03:00+02:00 (= 02:00+01:00) is 3 real hours, not the 2 of the clock.
        ("2026-10-24T23:00:00+02:00", 4 * 3600.0, [(date(2026, 10, 24), 3600.0), (date(2026, 10, 25), 3 * 3600.0)]),
        # Spring: 2026-03-29 has 23 hours. 00:00+01:00 to 05:00+02:00 is 4 real hours, not the 5 of the clock.
        ("2026-03-28T22:00:00+01:00", 6 * 3600.0, [(date(2026, 3, 28), 7200.0), (date(2026, 3, 29), 4 * 3600.0)]),
        # 24 hours from the start of a 23-hour day: the whole day, then one hour of the next.
        ("2026-03-29T00:00:00+01:00", 24 * 3600.0, [(date(2026, 3, 29), 23 * 3600.0), (date(2026, 3, 30), 3600.0)]),
        # 24 hours from the start of a 25-hour day stay on that day; so does a span that ends at midnight.
        ("2026-10-25T00:00:00+02:00", 24 * 3600.0, [(date(2026, 10, 25), 24 * 3600.0)]),
        ("2026-10-24T23:00:00+02:00", 3600.0, [(date(2026, 10, 24), 3600.0)]),
        # A start in another offset is placed on its local day: 22:30Z is 00:30 in Amsterdam summer time.
        ("2026-07-01T22:30:00+00:00", 600.25, [(date(2026, 7, 2), 600.25)]),
    ],
)
def test_a_span_is_split_at_local_midnight_in_real_seconds(
    start: str, duration_s: float, expected: list[tuple[date, float]]
) -> None:
    pieces = split_at_midnight(datetime.fromisoformat(start), duration_s, AMS)
    assert [(p.day, p.duration_s) for p in pieces] == expected
    assert sum(p.duration_s for p in pieces) == duration_s
    assert pieces[0].start == datetime.fromisoformat(start)
    assert [p.start.astimezone(AMS).time().isoformat() for p in pieces[1:]] == ["00:00:00"] * (len(pieces) - 1)


@pytest.mark.parametrize(
    ("granularity", "first_start"), [("hour", "2026-10-24T23:00:00+02:00"), ("day", "2026-10-24T00:00:00+02:00")]
)
def test_the_policy_splits_then_truncates_each_start_in_local_time(granularity: Granularity, first_start: str) -> None:
    # 23:40:10.5 for 4 h: 19 min 49.5 s on the 24th, the rest (with the repeated hour) on the 25th.
    sent = event("2026-10-24T21:40:10.5Z", 4 * 3600.0)
    out = PrivacyPolicy(b"key", granularity=granularity, timezone=AMS).apply(sent)
    assert shown(out) == [("e1", first_start, 1189.5), ("e1#2026-10-25", "2026-10-25T00:00:00+02:00", 13210.5)]
    assert {e.user for e in out} == {PrivacyPolicy(b"key").apply(sent)[0].user}  # still pseudonymised


def test_hours_are_local_hours_and_the_repeated_hour_keeps_its_offset() -> None:
    # 02:30 occurs twice on 2026-10-25: 00:30Z is the first (+02:00), 01:30Z the second (+01:00).
    first, second = event("2026-10-25T00:30:00Z", 60.0), event("2026-10-25T01:30:00Z", 60.0)
    assert [e.start.isoformat() for e in coarsen(first, "hour", AMS)] == ["2026-10-25T02:00:00+02:00"]
    assert [e.start.isoformat() for e in coarsen(second, "hour", AMS)] == ["2026-10-25T02:00:00+01:00"]
    # A zone half an hour off UTC truncates to its own hours, and never before its own midnight.
    kolkata = ZoneInfo("Asia/Kolkata")
    assert coarsen(event("2026-03-01T18:45:00Z", 60.0), "hour", kolkata)[0].start.isoformat() == (
        "2026-03-02T00:00:00+05:30"
    )


def test_a_launch_keeps_no_duration_and_loses_its_time_of_day() -> None:
    launch = event("2026-03-02T09:17:00+01:00", 0.0, kind="launch")
    (out,) = coarsen(launch, "day", AMS)
    assert (out.event_id, out.start.isoformat(), out.duration_s) == ("e1", "2026-03-02T00:00:00+01:00", 0.0)
    UsageEvent.model_validate(out.model_dump())  # still a valid event of the contract


def test_piece_ids_are_distinct_stable_and_within_the_contract() -> None:
    # 24 hours from 23:30 before the 23-hour day touch three days.
    three_days = event("2026-03-28T23:30:00+01:00", 24 * 3600.0, event_id="dev-42")
    out = coarsen(three_days, "day", AMS)
    assert [(e.event_id, e.duration_s) for e in out] == [
        ("dev-42", 1800.0), ("dev-42#2026-03-29", 23 * 3600.0), ("dev-42#2026-03-30", 1800.0)
    ]  # fmt: skip
    ids = [e.event_id for e in out]
    assert ids == [e.event_id for e in coarsen(three_days, "day", AMS)]  # a redelivery: the same ids
    assert ids == [e.event_id for e in coarsen(three_days, "hour", AMS)]
    longest = "x" * MAX_TEXT
    assert len(piece_id(longest, date(2026, 3, 2))) <= MAX_TEXT
    assert (
        piece_id(longest, date(2026, 3, 2))
        == piece_id(longest, date(2026, 3, 2))
        != piece_id(longest, date(2026, 3, 3))
    )
    assert len({piece_id(f"e{n}", date(2026, 3, 2)) for n in range(100)}) == 100


def test_exact_leaves_the_event_as_sent_apart_from_the_pseudonyms() -> None:
    sent = event("2026-10-24T23:59:59.999999+02:00", 7200.0)
    (out,) = PrivacyPolicy(b"key").apply(sent)
    assert (out.event_id, out.start, out.duration_s) == ("e1", sent.start, 7200.0)
    assert out.start.astimezone(UTC) == datetime(2026, 10, 24, 21, 59, 59, 999999, tzinfo=UTC)
