"""Bulk path into Kafka for producers that bypass the gateway (simulator backfills, importers).

Events must already be what the gateway would have produced: pseudonymised, titles dropped,
departments added. Keyed by device like the gateway, so each device's events stay in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from alignmon.errors import TransientError

CHUNK = 20000


def publish(
    bootstrap: str,
    topic: str,
    events: Iterable[Mapping[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send JSON-ready events; returns how many Kafka acknowledged (all, or it raises)."""
    from collectors.gateway.sink import KafkaSink, Record  # noqa: PLC0415  (kafka-python only when used)

    sink = KafkaSink(bootstrap, topic, timeout_s=30)
    total = 0
    try:
        chunk: list[Record] = []
        for event in events:
            chunk.append(Record(str(event["device_id"]).encode(), json.dumps(event, separators=(",", ":")).encode()))
            if len(chunk) >= CHUNK:
                total += _send(sink, chunk)
                chunk = []
                if progress:
                    progress(total)
        if chunk:
            total += _send(sink, chunk)
    finally:
        sink.close()
    return total


def _send(sink: Any, chunk: list[Any]) -> int:
    sent = int(sink.send(chunk))
    if sent != len(chunk):
        raise TransientError(f"Kafka acknowledged {sent} of {len(chunk)} events; is the broker up?")
    return sent
