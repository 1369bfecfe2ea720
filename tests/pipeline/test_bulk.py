"""The decoder's fast path (pipeline/bulk.py) against the contract's own validation, record for record.

decode() certifies records as columns and validates only the rest with pydantic; decode(bulk=False)
validates every record with pydantic. Whatever the records hold, both must give the same rows, rejects,
reasons, positions, dead-letter payloads and duplicate counts, and the fast path must certify what
producers really write (else it would be a slow path in disguise).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.event import UsageEvent
from collectors.record import records as packed_records
from pipeline import bulk
from pipeline.batch import Batch, Record, decode
from pipeline.bulk import UTC_US, Certified, certify
from tests.corpus.hostile import RECORDS, event

PRODUCED = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
NOW = datetime(2026, 11, 1, 0, 3, 7, 123456, tzinfo=UTC)


def assert_same(records: list[Record]) -> Batch:
    """The fast path's batch equals the reference's; returns it."""
    fast, reference = decode(records, NOW), decode(records, NOW, bulk=False)
    assert fast.rows.equals(reference.rows), (fast.rows.to_pylist(), reference.rows.to_pylist())
    # equals() holds 0.0 == -0.0: the stored bits must match too.
    bits = [b.rows.column("duration_s").combine_chunks().view(pa.int64()) for b in (fast, reference)]
    assert bits[0].equals(bits[1])
    assert fast.rejected == reference.rejected
    assert fast.duplicates == reference.duplicates and fast.next_offsets == reference.next_offsets
    return fast


def certified_of(records: list[Record]) -> Certified:
    """What the fast path certifies of `records`, for a receiver whose window ends 5 minutes from NOW."""
    latest = pa.array([NOW + timedelta(minutes=5)] * len(records), UTC_US)
    return certify(pa.array([r.value for r in records], pa.binary()), latest, datetime(2000, 1, 1, tzinfo=UTC))


def as_records(values: list[bytes], produced: int = PRODUCED) -> list[Record]:
    return [Record("usage", offset % 2, offset, produced, v) for offset, v in enumerate(values)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Values near the edges of what the fast path certifies: whitespace and unusual characters at either end,
# lengths around each bound, times in every RFC 3339 form and around the receiver's window.
edge_text = st.one_of(
    st.text(min_size=0, max_size=6),
    st.sampled_from(["", " ", "a ", " a", "\u00a0a", "a\u3000", "é", "Ü.app", "x\ny", "\ufeffa", "a\x1f", "日本"]),
    st.integers(120, 520).map(lambda n: "a" * n),
    st.integers(120, 130).map(lambda n: "é" * n),
)
edge_start = st.one_of(
    st.sampled_from(
        [
            "2026-10-31T23:59:59Z",
            "2026-10-31T23:59:59.999999+00:00",
            "2026-10-31T23:59:59.1234567Z",
            "2026-11-01T00:04:59Z",
            "2026-11-01T00:05:00Z",
            "2026-11-01T00:05:00.000001Z",
            "2026-11-01T01:05:00+01:00",
            "2026-10-31T19:05:00-05:00",
            "2026-10-31t10:00:00z",
            "2026-10-31 10:00:00Z",
            "2026-10-31T10:00:00",
            "2026-10-31T10:00Z",
            "2026-10-31T10:00:00+0100",
            "2026-10-31T10:00:00-00:00",
            "2026-02-29T10:00:00Z",
            "2024-02-29T10:00:00Z",
            "2026-04-31T10:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-10-31T24:00:00Z",
            "2026-10-31T23:60:00Z",
            "2026-10-31T23:59:60Z",
            "1999-12-31T23:59:59Z",
            "2000-01-01T00:00:00Z",
            "2000-01-01T00:30:00+01:00",
            "2100-02-29T10:00:00Z",
            "2026-10-31T10:00:00+24:00",
            "2026-10-31T10:00:00+23:59",
            " 2026-10-31T10:00:00Z",
            "1700000000",
            "2026-10-31",
        ]
    ),
    st.datetimes(min_value=datetime(1999, 12, 30), max_value=datetime(2026, 11, 2), timezones=st.just(UTC)).map(
        lambda d: d.isoformat()
    ),
)
edge_number = st.one_of(
    st.sampled_from([0, 0.0, -0.0, 1, 86400, 86400.0, 86400.000001, -1e-300, 1e-300, 1e308, 30.000000000000004]),
    st.floats(-1, 90000),
    st.integers(-2, 10**20),
)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "event_id": edge_text,
    "device_id": edge_text,
    "user": edge_text,
    "app": edge_text,
    "title": st.none() | edge_text,
    "department": st.none() | edge_text,
    "source": st.sampled_from(["agent", "Agent", "a" * 32, "a" * 33, "x-1_y", "1x", " agent", "agent "]),
    "kind": st.sampled_from(["focus", "open", "launch", "Focus", " focus", "idle"]),
    "start": edge_start,
    "duration_s": edge_number,
    "schema_version": st.sampled_from([1, 1.0, 2, None, "1", True]),
}
_ABSENT = object()


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    e = event(draw(st.integers(0, 30)), start="2026-10-31T10:00:00Z", schema_version=1)
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=3)):
        value = draw(st.one_of(FIELD_VALUES[name], json_values, st.just(_ABSENT)))
        if value is _ABSENT:
            e.pop(name, None)
        else:
            e[name] = value
    if draw(st.integers(0, 9)) == 0:
        e[draw(st.text(max_size=8))] = draw(json_values)
    return e


def _dump(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, allow_nan=True, ensure_ascii=ascii_only).encode()


record_values = st.one_of(
    st.builds(_dump, events(), st.booleans()),
    st.builds(_dump, st.lists(events(), max_size=6), st.booleans()),
    st.builds(_dump, json_values, st.booleans()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"[]", b" [ ] ", b"{}", b"null", b"[null]", b"[{},{}]", b'{"a":1},{"b":2}']),
)


# When producers stamped their records (ms): the receiver's window follows the stamp, capped at now + 1 h.
stamps = st.one_of(
    st.just(PRODUCED),
    st.integers(PRODUCED - 3_600_000, PRODUCED + 7_200_000),
    st.sampled_from([-1, 0, 253402300799999, 253402300800000, 2**62]),
)


@given(st.lists(st.tuples(record_values, stamps), min_size=1, max_size=12))
def test_the_fast_path_decides_every_record_as_the_contract_does(values: list[tuple[bytes, int]]) -> None:
    assert_same([Record("usage", offset % 2, offset, stamp, v) for offset, (v, stamp) in enumerate(values)])


@given(st.lists(st.builds(_dump, st.lists(events(), min_size=1, max_size=4), st.booleans()), max_size=8))
def test_records_with_a_line_break_between_tokens_are_decided_as_the_contract_does(values: list[bytes]) -> None:
    assert_same(as_records([v.replace(b", ", b",\n ").replace(b": ", b":\r\n") for v in values]))


def test_the_hostile_corpus_is_decided_as_the_contract_does() -> None:
    good = json.dumps(event(1)).encode()
    assert_same(as_records([good, *(case.value for case in RECORDS), good]))


def test_what_producers_write_is_certified_whole_with_the_contracts_values() -> None:
    """Packed and one-event records as the gateway, simulator and importers write them take the fast path."""
    base = datetime(2026, 10, 30, 8, tzinfo=UTC)
    models = [
        UsageEvent.model_validate(
            event(
                n,
                device_id=f"dev-{n % 7}",
                kind=("focus", "open", "launch")[n % 3],
                duration_s=0.0 if n % 3 == 2 else n * 1.25,
                start=base + timedelta(seconds=n * 61, microseconds=n),
                department="Sales" if n % 2 else None,
                title="Book1 – Excel" if n % 5 == 0 else None,
            ),
        )
        for n in range(300)
    ]
    lines = [(m.device_id.encode(), m.to_json_bytes()) for m in models]
    values = [r.value for r in packed_records(lines, max_events=40)] + [line for _, line in lines[:50]]
    records = as_records(values)
    certified = certified_of(records)
    assert certified.uncertain == []
    assert certified.events.num_rows == 350
    batch = assert_same(records)
    assert batch.rows.num_rows == 300 and batch.duplicates == 50 and batch.rejected == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"app": " excel.exe"}, "whitespace the contract strips"),
        ({"user": "Jürgen\u00a0"}, "an unusual last character"),
        ({"start": "2026-10-31T10:00:00+0100"}, "a rarer RFC 3339 form"),
        ({"duration_s": -1}, "an invalid event"),
    ],
)
def test_a_record_the_fast_path_cannot_prove_goes_whole_to_the_contract(change: dict[str, Any], why: str) -> None:
    one = {"schema_version": 1}
    values = [json.dumps([event(1, **one), event(2, **one) | change]).encode(), json.dumps(event(3, **one)).encode()]
    records = as_records(values)
    certified = certified_of(records)
    assert certified.uncertain == [0], why
    assert certified.events.column("event_id").to_pylist() == ["corpus-3"]
    assert_same(records)


def test_a_record_that_would_read_as_two_lines_is_the_contracts_to_decide() -> None:
    """A raw line break could make one record look like two wrapped lines: the fast path must not read it so."""
    one, two, three = (json.dumps(event(n, schema_version=1)).encode() for n in (1, 2, 3))
    forged = [b"[" + one + b']}\n{"e":[' + two + b"]", b"[" + one + b']} {"e":[' + two + b"]"]
    good = [json.dumps(event(n, schema_version=1)).encode() for n in range(10, 72)]
    records = as_records([*forged, b"[" + three + b"]\r", *good])  # a trailing \r is JSON whitespace: valid
    uncertain = certified_of(records).uncertain
    # Their part of the poll (at most bulk._SMALLEST_PART records) is read by the contract; the rest is certified.
    assert {0, 1} <= set(uncertain) and len(uncertain) <= bulk._SMALLEST_PART
    batch = assert_same(records)
    assert batch.rows.column("event_id").to_pylist() == ["corpus-3", *(f"corpus-{n}" for n in range(10, 72))]
    assert [r.offset for r in batch.rejected] == [0, 1]


@pytest.mark.parametrize(("chosen", "pool"), [(None, "jemalloc"), ("system", "system"), ("mimalloc", "mimalloc")])
def test_the_pipeline_allocates_through_jemalloc_unless_the_operator_chose_a_pool(
    chosen: str | None, pool: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    code = "import pyarrow as pa, pipeline.bulk as b; b.use_jemalloc(); print(pa.default_memory_pool().backend_name)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == pool


def test_a_negative_zero_duration_is_stored_as_the_contract_reads_it() -> None:
    """JSON's integer -0 is 0 to pydantic but -0.0 to pyarrow; the written -0.0 is -0.0 to both."""
    values = [
        json.dumps(event(n, schema_version=1)).replace('"duration_s": 30.0', f'"duration_s": {zero}').encode()
        for n, zero in enumerate(["-0", "-0.0", "0", "-0e0"])
    ]
    batch = assert_same(as_records(values))
    assert [math.copysign(1, d) for d in batch.rows.column("duration_s").to_pylist()] == [1, -1, 1, -1]


def test_a_poll_of_records_that_all_fail_to_parse_costs_a_parse_per_few_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Halving stops at small parts, which the contract then reads whole: never two parses a record."""
    parses = 0
    read_json = bulk.pj.read_json

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal parses
        parses += 1
        return read_json(*args, **kwargs)

    monkeypatch.setattr(bulk.pj, "read_json", counted)
    records = as_records([json.dumps(event(n, schema_version=1, extra=1)).encode() for n in range(1024)])
    assert certified_of(records).uncertain == list(range(1024))
    assert parses <= 2 * 1024 // bulk._SMALLEST_PART
    batch = assert_same(records)
    assert len(batch.rejected) == 1024 and all("extra" in r.reason for r in batch.rejected)
