"""Property tests of the decoder: whatever the records hold, decode() returns, and accounts for each one.

Hypothesis draws records from valid events, events with one field replaced by any JSON value, packed
arrays of those, nested JSON and raw bytes. CI runs a fixed, bounded set of examples (tests/conftest.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from collectors.event import EARLIEST
from pipeline.batch import COLUMNS, Record, decode
from tests.corpus.hostile import event

PRODUCED = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
FIELDS = sorted(event())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    e = event(draw(st.integers(0, 50)))  # few ids: duplicates happen
    if draw(st.booleans()):
        e[draw(st.sampled_from(FIELDS))] = draw(json_values)
    return e


def _dump(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


record_values = st.one_of(
    events().map(_dump),
    st.lists(events(), max_size=6).map(_dump),
    json_values.map(_dump),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.binary(max_size=64),
)


@given(st.lists(record_values, min_size=1, max_size=12))
def test_every_record_is_stored_rejected_or_a_duplicate(values: list[bytes]) -> None:
    records = [Record("usage", 0, offset, PRODUCED, v) for offset, v in enumerate(values)]
    batch = decode(records)
    assert batch.rows.schema == COLUMNS
    assert batch.next_offsets == {("usage", 0): len(values)}
    stored = set(batch.rows.column("kafka_offset").to_pylist())
    rejected = {r.offset for r in batch.rejected}
    for offset, value in enumerate(values):
        if offset not in stored | rejected:  # only a record whose every event repeats an earlier one
            assert batch.duplicates > 0, value
    assert all(r.reason for r in batch.rejected)
    assert all(start >= EARLIEST for start in batch.rows.column("start").to_pylist())
    keys = list(zip(batch.rows.column("device_id").to_pylist(), batch.rows.column("event_id").to_pylist(), strict=True))
    assert len(keys) == len(set(keys))
