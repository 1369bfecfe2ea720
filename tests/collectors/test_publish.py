"""The bulk path packs like the gateway and still counts, and reports progress, in events."""

from __future__ import annotations

from typing import Any

import pytest

from base.errors import TransientError
from collectors.publish import publish_to
from collectors.record import events_of
from collectors.sink import MemorySink


def rows(device: str, first: int, count: int) -> list[dict[str, Any]]:
    return [{"event_id": f"{device}-{n}", "device_id": device} for n in range(first, first + count)]


def shape(sink: MemorySink) -> list[tuple[bytes, list[str]]]:
    return [(r.key, [e["event_id"] for e in events_of(r.value)]) for r in sink.records]


def test_runs_of_a_device_are_packed_in_order_and_events_are_counted() -> None:
    sink = MemorySink()
    events = rows("a", 0, 3) + rows("b", 0, 1) + rows("a", 3, 2)
    assert publish_to(sink, events) == 6
    assert shape(sink) == [(b"a", ["a-0", "a-1", "a-2"]), (b"b", ["b-0"]), (b"a", ["a-3", "a-4"])]
    assert sink.records[1].value == b'{"event_id":"b-0","device_id":"b"}'  # compact JSON, a lone object


def test_progress_is_reported_in_events_per_chunk() -> None:
    sink = MemorySink()
    seen: list[int] = []
    assert publish_to(sink, rows("a", 0, 1100), progress=seen.append, chunk_events=400) == 1100
    assert seen == [400, 800]  # after each full chunk; the last, partial one is in the return value
    # Chunks cut runs: 400 events per chunk, so 400 + 400 + 300, never past 500 per record anyway.
    assert [len(ids) for _, ids in shape(sink)] == [400, 400, 300]
    assert [i for _, ids in shape(sink) for i in ids] == [f"a-{n}" for n in range(1100)]


def test_a_chunk_of_more_than_max_events_is_split_into_records() -> None:
    sink = MemorySink()
    assert publish_to(sink, rows("a", 0, 1200)) == 1200
    assert [len(ids) for _, ids in shape(sink)] == [500, 500, 200]


def test_a_partly_acknowledged_chunk_raises_a_transient_error() -> None:
    sink = MemorySink()
    sink.fail_after = 1
    with pytest.raises(TransientError, match=r"acknowledged 1 of 2 records \(3 events\)"):
        publish_to(sink, rows("a", 0, 2) + rows("b", 0, 1))
