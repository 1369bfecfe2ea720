"""The Kafka record format: one device's events, one event or several, keyed by the device.

A record's value is either one event's JSON object or a JSON array of events of ONE device, in the
order they happened. Producers pack (the gateway: the accepted events of one request; bulk producers:
runs of one device's events), because a Kafka record costs the pipeline's consumer (kafka-python
decodes records in pure Python) about as much as validating the event inside it: packing is what lets
one pipeline process keep up with a large fleet (docs/benchmarks.md). A producer that writes one
object per record stays valid; the pipeline reads both.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

# Far below Kafka's default 1 MiB message.max.bytes, even with the gateway's titles enabled.
MAX_EVENTS = 500
MAX_BYTES = 256 * 1024
_KEY_LEN = struct.Struct(">H")


class Record(NamedTuple):
    """One Kafka record: the partition key (the device id) and the value (one or more events' JSON)."""

    key: bytes
    value: bytes


def pack(events: list[bytes]) -> bytes:
    """One record value from compact JSON objects of one device: the object itself, or an array of them."""
    if not events:
        raise ValueError("a record holds at least one event")
    return events[0] if len(events) == 1 else b"[" + b",".join(events) + b"]"


def runs(
    events: Iterable[tuple[bytes, bytes]], max_events: int = MAX_EVENTS, max_bytes: int = MAX_BYTES
) -> Iterator[tuple[bytes, list[bytes]]]:
    """Group (device key, event JSON) pairs into what one record holds: consecutive events of one device.

    A run ends when the device changes, or when one more event would pass `max_events` or make the
    packed value longer than `max_bytes` (an event longer than that on its own still gets a record).
    """
    key = b""
    run: list[bytes] = []
    size = 1  # the packed length so far: "[" plus each event and its "," or closing "]"
    for device, value in events:
        if run and (device != key or len(run) >= max_events or size + len(value) + 1 > max_bytes):
            yield key, run
            run, size = [], 1
        key = device
        run.append(value)
        size += len(value) + 1
    if run:
        yield key, run


def records(
    events: Iterable[tuple[bytes, bytes]], max_events: int = MAX_EVENTS, max_bytes: int = MAX_BYTES
) -> Iterator[Record]:
    """Pack (device key, event JSON) pairs into records of consecutive events of one device.

    Order is kept: a record ends when the device changes or it is full, so each device's events
    reach its partition in the order given.
    """
    for key, run in runs(events, max_events, max_bytes):
        yield Record(key, pack(run))


def is_packed(value: bytes) -> bool:
    """Whether a record value is an array of events (packed) rather than one event's object."""
    return value.lstrip()[:1] == b"["


def events_of(value: bytes) -> list[dict[str, Any]]:
    """The events in a record value, as dicts (for readers other than the pipeline, and tests)."""
    parsed = json.loads(value)
    return parsed if isinstance(parsed, list) else [parsed]


def to_bytes(record: Record) -> bytes:
    """A record as one byte string (key length, key, value), for stores of records such as the gateway's spool."""
    return _KEY_LEN.pack(len(record.key)) + record.key + record.value


def from_bytes(data: bytes) -> Record:
    """The record `to_bytes` wrote."""
    (size,) = _KEY_LEN.unpack_from(data)
    start = _KEY_LEN.size
    return Record(data[start : start + size], data[start + size :])
