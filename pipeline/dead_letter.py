"""Dead letters: each rejected record (or event of a packed record) as a Kafka message Kafka will take.

The rejected_events table, written in the batch's transaction, is the exactly-once record of a
rejection; the dead-letter topic is a replayable copy, sent before that transaction commits (a crash
between the two can repeat a letter: at-least-once there).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from kafka.errors import KafkaError

from pipeline.batch import Rejected

log = logging.getLogger(__name__)

# Well under the producer's max_request_size and the broker's message.max.bytes (both ~1 MiB by
# default), whatever the reason header adds. The whole record stays in its topic until retention.
MAX_VALUE = 512 * 1024
MAX_REASON = 1000
_FLUSH_S = 30.0


def letter(r: Rejected) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The message for one rejection: the bytes as received (cut to MAX_VALUE) and headers saying why.

    A cut letter says so, with the original's length and SHA-256, so it can be matched with the record
    still in the topic (`source` is topic/partition/offset, `#index` for an event of a packed record).
    """
    value = r.value if r.value is not None else r.payload.encode()
    where = f"{r.topic}/{r.partition}/{r.offset}" + ("" if r.position is None else f"#{r.position}")
    headers = [("reason", r.reason.encode()[:MAX_REASON]), ("source", where.encode())]
    if len(value) > MAX_VALUE:
        headers += [
            ("truncated", b"true"),
            ("length", str(len(value)).encode()),
            ("sha256", hashlib.sha256(value).hexdigest().encode()),
        ]
        value = value[:MAX_VALUE]
    return value, headers


def dead_letter(producer: Any, topic: str, rejected: Sequence[Rejected]) -> None:
    """Send every letter and wait until Kafka has them.

    Kafka being away (a time-out, a retriable error) raises: the batch is not committed and is read
    again later, letters included. A letter Kafka refuses for itself (e.g. too large) is logged and
    skipped: the rejection is kept in rejected_events all the same, and one letter never holds up
    the stream.
    """
    if not rejected:
        return
    sent = []
    for r in rejected:
        value, headers = letter(r)
        try:
            sent.append((r, producer.send(topic, value=value, headers=headers)))
        except KafkaError as exc:
            if exc.retriable:  # Kafka is away (a time-out included): read the batch again later
                raise
            log.error("dead letter for %s/%d/%d not sent: %s", r.topic, r.partition, r.offset, exc)
    producer.flush(timeout=_FLUSH_S)
    for r, future in sent:
        if not future.failed():
            continue
        if getattr(future.exception, "retriable", False):
            raise future.exception
        log.error("dead letter for %s/%d/%d not stored: %s", r.topic, r.partition, r.offset, future.exception)
