"""The Kafka record format: packing one device's events, splitting runs, reading both shapes back."""

from __future__ import annotations

import json

import pytest

from collectors.record import (
    MAX_BYTES,
    MAX_EVENTS,
    Record,
    events_of,
    from_bytes,
    is_packed,
    pack,
    records,
    runs,
    to_bytes,
)


def ev(n: int, device: str = "d1", pad: int = 0) -> tuple[bytes, bytes]:
    """(device key, compact event JSON) with an optional padding field to control its size."""
    body = {"event_id": f"{device}-{n}", "device_id": device}
    if pad:
        body["app"] = "x" * pad
    return device.encode(), json.dumps(body, separators=(",", ":")).encode()


def sized(n: int, size: int) -> tuple[bytes, bytes]:
    """An event of device d1 whose compact JSON is exactly `size` bytes long."""
    bare = ev(n)[1]
    value = bare[:-1] + b',"app":"' + b"x" * (size - len(bare) - 9) + b'"}'
    assert len(value) == size
    return b"d1", value


def test_pack_of_one_event_is_the_object_itself() -> None:
    assert pack([b'{"event_id":"a"}']) == b'{"event_id":"a"}'


def test_pack_of_several_is_a_json_array_in_order() -> None:
    assert pack([b'{"n":1}', b'{"n":2}', b'{"n":3}']) == b'[{"n":1},{"n":2},{"n":3}]'


def test_pack_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        pack([])


def test_events_of_reads_both_shapes() -> None:
    assert events_of(b'{"event_id":"a","duration_s":1.5}') == [{"event_id": "a", "duration_s": 1.5}]
    assert events_of(b'[{"event_id":"a"},{"event_id":"b"}]') == [{"event_id": "a"}, {"event_id": "b"}]


def test_records_split_where_the_device_changes_and_keep_order() -> None:
    pairs = [ev(0, "d1"), ev(1, "d1"), ev(2, "d2"), ev(3, "d1"), ev(4, "d1"), ev(5, "d1")]
    got = list(records(pairs))
    assert [r.key for r in got] == [b"d1", b"d2", b"d1"]
    assert [[e["event_id"] for e in events_of(r.value)] for r in got] == [
        ["d1-0", "d1-1"],
        ["d2-2"],
        ["d1-3", "d1-4", "d1-5"],
    ]
    assert got[1] == Record(b"d2", pairs[2][1])  # a lone event stays a plain object


def test_records_of_nothing_is_nothing() -> None:
    assert list(records([])) == []


def test_records_split_at_max_events() -> None:
    pairs = [ev(n) for n in range(1201)]
    got = list(records(pairs))
    assert MAX_EVENTS == 500
    assert [len(events_of(r.value)) for r in got] == [500, 500, 201]
    flat = [e["event_id"] for r in got for e in events_of(r.value)]
    assert flat == [f"d1-{n}" for n in range(1201)]


def test_records_split_at_a_smaller_max_events() -> None:
    got = list(records([ev(n) for n in range(7)], max_events=3))
    assert [len(events_of(r.value)) for r in got] == [3, 3, 1]


def test_records_split_at_max_bytes_and_never_exceed_it() -> None:
    # Each event is exactly 100 bytes; packed, n events take 100 n + (n - 1) commas + 2 brackets = 101 n + 1.
    # So 1000 bytes hold 9 events (910 bytes); a tenth would make 1011.
    pairs = [sized(n, 100) for n in range(25)]
    got = list(records(pairs, max_bytes=1000))
    assert [len(events_of(r.value)) for r in got] == [9, 9, 7]
    assert [len(r.value) for r in got] == [910, 910, 708]
    assert [e["event_id"] for r in got for e in events_of(r.value)] == [f"d1-{n}" for n in range(25)]


def test_a_full_record_fits_max_bytes_exactly() -> None:
    # 10 events of 100 bytes pack into 101 * 10 + 1 = 1011 bytes: allowed at 1011, split at 1010.
    pairs = [sized(n, 100) for n in range(10)]
    assert [len(r.value) for r in records(pairs, max_bytes=1011)] == [1011]
    assert [len(events_of(r.value)) for r in records(pairs, max_bytes=1010)] == [9, 1]


def test_the_default_byte_limit_splits_large_events() -> None:
    # 300 events of ~1 KiB: 256 KiB holds fewer than MAX_EVENTS of them, so bytes decide.
    pairs = [ev(n, pad=1000) for n in range(300)]
    size = len(pairs[0][1])
    per_record = (MAX_BYTES - 1) // (size + 1)
    got = list(records(pairs))
    assert per_record < 300
    assert [len(events_of(r.value)) for r in got] == [per_record, 300 - per_record]
    assert all(len(r.value) <= MAX_BYTES for r in got)


def test_an_event_larger_than_max_bytes_still_gets_a_record_of_its_own() -> None:
    pairs = [ev(0), ev(1, pad=2000), ev(2)]
    got = list(records(pairs, max_bytes=1000))
    assert [r.value for r in got] == [pairs[0][1], pairs[1][1], pairs[2][1]]


def test_runs_give_the_events_each_record_holds() -> None:
    pairs = [ev(0, "a"), ev(1, "a"), ev(2, "b")]
    assert list(runs(pairs)) == [(b"a", [pairs[0][1], pairs[1][1]]), (b"b", [pairs[2][1]])]


def test_a_record_as_bytes_round_trips() -> None:
    record = Record(b"laptop-\xc3\xa9", b'{"x": 1}')
    assert from_bytes(to_bytes(record)) == record
    assert to_bytes(record)[:2] == b"\x00\x09"  # key length prefix, big-endian


def test_packed_is_told_by_the_first_non_blank_byte() -> None:
    assert is_packed(b' \n[{"a":1}]') and not is_packed(b'{"a":1}') and not is_packed(b"")
