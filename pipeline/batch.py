"""Turn a poll of Kafka records into accepted rows and rejected events (pure: no I/O).

A record holds one event or a JSON array of one device's events (collectors/record.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import TypeAdapter, ValidationError

from collectors.event import UsageEvent, window
from collectors.record import is_packed
from pipeline.bulk import EVENTS, UTC_US, Certified, certify

COLUMNS = pa.schema(
    [
        ("event_id", pa.string()),
        ("kind", pa.string()),
        ("device_id", pa.string()),
        ("user", pa.string()),
        ("app", pa.string()),
        ("start", pa.timestamp("us", tz="UTC")),
        ("duration_s", pa.float64()),
        ("source", pa.string()),
        ("title", pa.string()),
        ("department", pa.string()),
        ("schema_version", pa.int32()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


class Record(NamedTuple):
    """The part of a Kafka record the pipeline uses (kafka-python's ConsumerRecord fits)."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # ms since the epoch, set by the producer
    value: bytes | None


class Rejected(NamedTuple):
    """An event (or a whole record that holds none) the contract refused, and why."""

    topic: str
    partition: int
    offset: int
    reason: str
    payload: str
    position: int | None = None  # index in a packed record; None for a record of one object
    value: bytes | None = None  # the bytes to dead-letter: the record's, or the event's own JSON


@dataclass
class Batch:
    """Rows to insert, records to dead-letter, and the next offset of every partition seen."""

    rows: pa.Table
    rejected: list[Rejected] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    duplicates: int = 0  # events dropped because an earlier one in this batch had the same (device_id, event_id)

    @property
    def size(self) -> int:
        """Events handled: stored, dropped as duplicates of the batch, or rejected."""
        return int(self.rows.num_rows) + self.duplicates + len(self.rejected)


def reason_of(exc: ValidationError | ValueError) -> str:
    """A short, stable reason: `field: message` for each problem."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
    return str(exc)


# The contract's fields, in COLUMNS order; the Kafka position and ingestion time follow them.
_EVENT_FIELDS = frozenset(COLUMNS.names[:11])
# A packed record is validated in one call (pydantic's Rust core walks the array): much cheaper than
# an event at a time. Only a record that fails is taken apart to find and keep its good events.
_PACKED = TypeAdapter(list[UsageEvent])
_ONE = UsageEvent.__pydantic_validator__  # model_validate_json without its Python wrapper: one record, one event
_EMPTY = "record: empty array, a packed record must hold at least one event"


def decode(
    records: Iterable[Any],
    ingested_at: datetime | None = None,
    bounds: Mapping[str, Any] | None = None,
    *,
    bulk: bool = True,
) -> Batch:
    """Validate each event against the contract; a bad one is rejected, never fatal.

    `bounds` are the contract's time bounds (Settings.event_bounds); the contract's defaults otherwise.
    The records pipeline/bulk.py certifies as columns skip the per-event validation below; `bulk=False`
    validates every record here (the reference the fast path is tested against).
    """
    now = ingested_at or datetime.now(UTC)
    records = list(records)
    context = window(now, **(bounds or {}))
    next_offsets = {(rec.topic, rec.partition): rec.offset + 1 for rec in records}
    timestamps = [rec.timestamp for rec in records]
    if bulk and records:
        values = pa.array([rec.value or b"" for rec in records], pa.binary())
        certified = certify(values, _latest(timestamps, now, context["max_future"]), context["earliest"])
    else:
        certified = Certified(EVENTS.empty_table(), list(range(len(records))))
    rejected: list[Rejected] = []
    validated: list[dict[str, Any]] = []
    last_timestamp = None
    for i in certified.uncertain:
        rec = records[i]
        # "Now" for the future-start check is when the producer wrote the record, so a replay long after the fact
        # validates exactly as the first read did. Records of one producer batch share their timestamp.
        if rec.timestamp != last_timestamp:
            last_timestamp = rec.timestamp
            context = window(_produced(rec.timestamp, now), **(bounds or {}))
        for position, ev in enumerate(_contained(rec, rec.value or b"", context, rejected)):
            # A validated model keeps its field values in __dict__; reading them there, column by
            # column below, is much cheaper than per-row attribute access and tuples (bench/ingest.py).
            validated.append(ev.__dict__ | {"_record": i, "_position": position})
    events = certified.events
    if validated:
        columns = [pa.array([v[f.name] for v in validated], f.type) for f in EVENTS]
        events = pa.concat_tables([events, pa.Table.from_arrays(columns, schema=EVENTS)])
        events = events.sort_by([("_record", "ascending"), ("_position", "ascending")])
    events, duplicates = _first_of_each_key(events)
    record = events.column("_record")
    kafka = [
        pa.array([r.topic for r in records], COLUMNS.field("kafka_topic").type),
        pa.array([r.partition for r in records], COLUMNS.field("kafka_partition").type),
        pa.array([r.offset for r in records], COLUMNS.field("kafka_offset").type),
    ]
    arrays = [events.column(f.name) for f in COLUMNS if f.name in _EVENT_FIELDS]
    arrays += [pc.take(column, record) for column in kafka]
    arrays.append(pa.repeat(pa.scalar(now, COLUMNS.field("ingested_at").type), events.num_rows))  # one conversion
    table = pa.Table.from_arrays(arrays, schema=COLUMNS)
    return Batch(table, rejected, next_offsets, duplicates)


def _first_of_each_key(events: pa.Table) -> tuple[pa.Table, int]:
    """The events without those whose (device_id, event_id) an earlier one in the poll had, and how many went."""
    n = events.num_rows
    key = pc.binary_join_element_wise(events.column("device_id"), events.column("event_id"), "\x1f")
    if len(pc.unique(key)) == n:  # the usual case; joining can make two keys look alike, never two alike differ
        return events, 0
    rows = events.append_column("_row", pa.array(range(n), pa.int64()))
    first = rows.group_by(["device_id", "event_id"], use_threads=False).aggregate([("_row", "min")])
    keep = pc.sort_indices(first.column("_row_min"))
    return events.take(pc.take(first.column("_row_min"), keep)), n - first.num_rows


# Kafka's default message.timestamp.after.max.ms: a record stamped later than this was not written now
# (a producer's clock, or a broker that does not check): it must not widen the contract's future bound.
_MAX_STAMP_AHEAD = timedelta(hours=1)


def _latest(timestamps_ms: list[int], now: datetime, max_future: timedelta) -> pa.Array:
    """The latest `start` each record may carry, `_produced` + the receiver's max_future, as one column."""
    stamps = pa.array(timestamps_ms, pa.int64())
    now_us = (now - _EPOCH) // _US
    # As _produced: a negative stamp, or one past datetime's range, means now; never later than now + 1 h.
    bad = pc.or_(pc.less(stamps, 0), pc.greater(stamps, _LAST_MS))
    produced_us = pc.if_else(bad, now_us, pc.multiply(pc.if_else(bad, 0, stamps), 1000))
    latest_us = pc.add(pc.min_element_wise(produced_us, now_us + _MAX_STAMP_AHEAD // _US), max_future // _US)
    return pc.cast(latest_us, UTC_US)


_EPOCH, _US = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)
_LAST_MS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)


def _produced(timestamp_ms: int, now: datetime) -> datetime:
    """When the producer wrote a record, for the contract's future bound: never past now + 1 h."""
    try:
        produced = datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms >= 0 else now
    except (ValueError, OverflowError, OSError):  # beyond year 9999: a record cannot stop the stream
        return now
    return min(produced, now + _MAX_STAMP_AHEAD)


def _contained(rec: Any, raw: bytes, context: dict[str, Any], rejected: list[Rejected]) -> list[UsageEvent]:
    """`_events`, with any failure of one record turned into that record's rejection: never a stalled stream."""
    mark = len(rejected)
    try:
        return _events(rec, raw, context, rejected)
    except RecursionError:
        reason = "record: JSON nested too deeply to read"
    except Exception as exc:  # whatever one record does, the next one is read
        reason = f"record: could not be decoded: {type(exc).__name__}: {exc}"
    del rejected[mark:]  # the record is rejected whole, not also event by event
    rejected.append(Rejected(rec.topic, rec.partition, rec.offset, reason, _text(raw), None, raw))
    return []


def _events(rec: Any, raw: bytes, context: dict[str, Any], rejected: list[Rejected]) -> list[UsageEvent]:
    """The valid events of one record; the invalid ones (or the whole record) go to `rejected`."""
    try:
        if not is_packed(raw):
            return [_ONE.validate_json(raw, context=context)]
        events = _PACKED.validate_json(raw, context=context)
        if not events:
            raise ValueError(_EMPTY)
        return events
    except (ValidationError, ValueError) as exc:
        whole = _whole_record_problem(raw, exc)
        if whole is not None:
            rejected.append(Rejected(rec.topic, rec.partition, rec.offset, whole, _text(raw), None, raw))
            return []
    # A packed record with some bad events: keep the good ones, reject each bad one on its own.
    good: list[UsageEvent] = []
    for index, item in enumerate(json.loads(raw)):
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        try:
            good.append(UsageEvent.model_validate_json(text, context=context))
        except (ValidationError, ValueError) as exc:
            rejected.append(Rejected(rec.topic, rec.partition, rec.offset, reason_of(exc), text, index, text.encode()))
    return good


def _whole_record_problem(raw: bytes, exc: ValidationError | ValueError) -> str | None:
    """Why the record as a whole is unusable, or None when it is an array with some bad events."""
    if not is_packed(raw):
        return reason_of(exc)
    try:
        items = json.loads(raw)
    except ValueError as bad_json:
        return f"record: invalid JSON: {bad_json}"
    if not isinstance(items, list):
        return reason_of(exc)
    if not items:
        return _EMPTY
    return None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")
