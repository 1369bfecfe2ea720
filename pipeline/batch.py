"""Turn a poll of Kafka records into accepted rows and rejected records (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pyarrow as pa
from pydantic import ValidationError

from collectors.event import UsageEvent

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
    topic: str
    partition: int
    offset: int
    reason: str
    payload: str


@dataclass
class Batch:
    """Rows to insert, records to dead-letter, and the next offset of every partition seen."""

    rows: pa.Table
    rejected: list[Rejected] = field(default_factory=list)
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.rows.num_rows) + len(self.rejected)


def reason_of(exc: ValidationError | ValueError) -> str:
    """A short, stable reason: `field: message` for each problem."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
    return str(exc)


# The contract's fields, in COLUMNS order; the Kafka position and ingestion time follow them.
_EVENT_FIELDS = COLUMNS.names[:11]


def decode(records: Iterable[Any], ingested_at: datetime | None = None) -> Batch:
    """Validate each record against the event contract; a bad one is rejected, never fatal."""
    now = ingested_at or datetime.now(UTC)
    values: list[dict[str, Any]] = []
    topics: list[str] = []
    partitions: list[int] = []
    offsets: list[int] = []
    rejected: list[Rejected] = []
    next_offsets: dict[tuple[str, int], int] = {}
    last_timestamp, produced = None, now
    for rec in records:
        next_offsets[(rec.topic, rec.partition)] = rec.offset + 1
        raw = rec.value or b""
        try:
            # "Now" for the future-start check is when the producer wrote the record, so a replay
            # long after the fact validates exactly as the first read did. Records of one producer
            # batch share their timestamp: convert it once.
            if rec.timestamp != last_timestamp:
                last_timestamp = rec.timestamp
                produced = datetime.fromtimestamp(rec.timestamp / 1000, UTC) if rec.timestamp >= 0 else now
            ev = UsageEvent.model_validate_json(raw, context={"now": produced})
        except (ValidationError, ValueError) as exc:
            rejected.append(Rejected(rec.topic, rec.partition, rec.offset, reason_of(exc), _text(raw)))
            continue
        # A validated model keeps its field values in __dict__; reading them there, column by column
        # below, is much cheaper than per-row attribute access and tuples (bench/ingest.py).
        values.append(ev.__dict__)
        topics.append(rec.topic)
        partitions.append(rec.partition)
        offsets.append(rec.offset)
    columns: list[list[Any]] = [[v[name] for v in values] for name in _EVENT_FIELDS]
    columns += [topics, partitions, offsets, [now] * len(values)]
    table = pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, COLUMNS, strict=True)], schema=COLUMNS
    )
    return Batch(table, rejected, next_offsets)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")
