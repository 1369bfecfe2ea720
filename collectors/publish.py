"""Bulk path into Kafka for producers that bypass the gateway (simulator backfills, importers).

Events must already be what the gateway would have produced: pseudonymised, titles dropped,
departments added. Keyed by device like the gateway, and packed like it (collectors.record:
consecutive events of one device share a record), so each device's events stay in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from base.errors import TransientError
from base.kafka_security import PLAINTEXT, KafkaSecurity
from collectors.record import records

if TYPE_CHECKING:
    from collectors.sink import Sink

CHUNK = 20000  # events handed to the producer at once (and between progress calls)


def publish(
    bootstrap: str,
    topic: str,
    events: Iterable[Mapping[str, Any]],
    progress: Callable[[int], None] | None = None,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> int:
    """Send JSON-ready events; returns how many events Kafka acknowledged (all, or it raises).

    Raises KafkaRefusedError first, with its one line, when the cluster refuses this client's certificate or password.
    """
    from collectors.sink import KafkaSink  # noqa: PLC0415  (kafka-python only when used)

    security.check(bootstrap)  # asked once at the start, as the gateway and the pipeline do
    sink = KafkaSink(bootstrap, topic, timeout_s=30, security=security)
    try:
        return publish_to(sink, events, progress)
    finally:
        sink.close()


def publish_to(
    sink: Sink,
    events: Iterable[Mapping[str, Any]],
    progress: Callable[[int], None] | None = None,
    chunk_events: int = CHUNK,
) -> int:
    """Send events through `sink` in packed records; returns the events acknowledged, reports progress in events."""
    total = 0
    chunk: list[tuple[bytes, bytes]] = []
    for event in events:
        chunk.append((str(event["device_id"]).encode(), json.dumps(event, separators=(",", ":")).encode()))
        if len(chunk) >= chunk_events:
            total += _send(sink, chunk)
            chunk = []
            if progress:
                progress(total)
    if chunk:
        total += _send(sink, chunk)
    return total


def _send(sink: Sink, chunk: list[tuple[bytes, bytes]]) -> int:
    """Send one chunk of events; returns its event count once every record of it is acknowledged."""
    packed = list(records(chunk))
    sent = sink.send(packed)
    if sent != len(packed):
        raise TransientError(
            f"Kafka acknowledged {sent} of {len(packed)} records ({len(chunk)} events); is the broker up?"
        )
    return len(chunk)
