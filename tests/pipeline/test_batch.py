"""decode(): records of one event or of a packed array become rows; bad events are rejected one by one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.batch import Record, decode

PRODUCED = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
MS = int(PRODUCED.timestamp() * 1000)


def event(n: int, **changes: Any) -> dict[str, Any]:
    e = {
        "event_id": f"e{n}",
        "kind": "focus",
        "device_id": "dev-1",
        "user": "u1",
        "app": "excel.exe",
        "start": "2026-11-19T09:00:00+01:00",
        "duration_s": 60.0 + n,
        "source": "agent",
    }
    return e | changes


def rec(offset: int, value: Any, partition: int = 0, timestamp: int = MS) -> Record:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return Record("usage", partition, offset, timestamp, raw)


def test_one_object_per_record_and_packed_records_give_the_same_rows() -> None:
    single = decode([rec(0, event(1)), rec(1, event(2)), rec(2, event(3))])
    packed = decode([rec(0, [event(1), event(2), event(3)])])
    for batch in (single, packed):
        assert batch.rows.column("event_id").to_pylist() == ["e1", "e2", "e3"]
        assert batch.rows.column("duration_s").to_pylist() == [61.0, 62.0, 63.0]
        # 09:00 at +01:00 is 08:00 UTC
        assert batch.rows.column("start").to_pylist()[0] == datetime(2026, 11, 19, 8, 0, tzinfo=UTC)
        assert batch.rejected == [] and batch.duplicates == 0 and batch.size == 3
    assert packed.rows.column("kafka_offset").to_pylist() == [0, 0, 0]
    assert packed.next_offsets == {("usage", 0): 1}
    assert single.next_offsets == {("usage", 0): 3}


def test_a_bad_event_in_a_packed_record_is_rejected_alone_with_its_position() -> None:
    bad = event(2, duration_s=-5)
    batch = decode([rec(7, [event(1), bad, event(3)])])
    assert batch.rows.column("event_id").to_pylist() == ["e1", "e3"]
    assert batch.rows.column("kafka_offset").to_pylist() == [7, 7]
    [r] = batch.rejected
    assert (r.offset, r.position) == (7, 1)
    assert r.reason.startswith("duration_s: ")
    assert json.loads(r.payload) == bad  # the event itself, not the whole record
    assert r.value == r.payload.encode()  # what the dead-letter topic receives: replayable on its own
    assert batch.size == 3


def test_records_that_hold_no_usable_array_are_rejected_whole() -> None:
    broken = b'[{"event_id": "e1",'
    batch = decode([rec(0, broken), rec(1, []), rec(2, b"\xff\xfe not json"), rec(3, event(4))])
    assert batch.rows.column("event_id").to_pylist() == ["e4"]
    by_offset = {r.offset: r for r in batch.rejected}
    assert by_offset[0].reason.startswith("record: invalid JSON") and by_offset[0].value == broken
    assert by_offset[1].reason.startswith("record: empty array")
    assert by_offset[2].value == b"\xff\xfe not json"  # the original bytes, even when not UTF-8
    assert all(r.position is None for r in batch.rejected)


def test_a_non_object_inside_a_packed_record_is_rejected_at_its_position() -> None:
    batch = decode([rec(0, [event(1), 42, "x"])])
    assert batch.rows.num_rows == 1
    assert [(r.position, r.payload) for r in batch.rejected] == [(1, "42"), (2, '"x"')]


def test_repeats_within_a_batch_keep_the_first_and_are_counted() -> None:
    first, again = event(1, app="first.exe"), event(1, app="again.exe")
    batch = decode([rec(0, [first, event(2)], partition=1), rec(0, again, partition=2)])
    assert batch.rows.column("event_id").to_pylist() == ["e1", "e2"]
    assert batch.rows.column("app").to_pylist()[0] == "first.exe"
    assert batch.duplicates == 1 and batch.size == 3


def test_future_start_is_judged_by_the_records_produce_time() -> None:
    ahead = event(1, start="2026-11-19T12:10:00+00:00")  # 10 minutes after PRODUCED
    late_ms = MS + 15 * 60 * 1000
    batch = decode([rec(0, [ahead]), rec(1, [event(2, start="2026-11-19T12:10:00+00:00")], timestamp=late_ms)])
    assert batch.rows.column("event_id").to_pylist() == ["e2"]
    [r] = batch.rejected
    assert r.position == 0 and "future" in r.reason


def test_a_record_timestamp_beyond_any_date_does_not_stop_the_decoder() -> None:
    """Review finding: a timestamp past year 9999 (a broker that does not check) once raised outside the record."""
    far = 10**15  # ms: year ~33,658
    batch = decode([rec(0, event(1), timestamp=far), rec(1, event(2))], ingested_at=PRODUCED)
    assert batch.rows.column("event_id").to_pylist() == ["e1", "e2"]


def test_a_record_stamped_far_ahead_does_not_widen_the_future_bound() -> None:
    ahead = PRODUCED + timedelta(days=30)
    batch = decode(
        [rec(0, event(1, start=(PRODUCED + timedelta(days=29)).isoformat()), timestamp=int(ahead.timestamp() * 1000))],
        ingested_at=PRODUCED,
    )
    assert batch.rows.num_rows == 0 and "in the future" in batch.rejected[0].reason
