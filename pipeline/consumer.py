"""Kafka -> DuckDB with effectively-once writes: offsets live in DuckDB, committed with the rows."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.batch import Batch, decode
from pipeline.store import Store

log = logging.getLogger(__name__)


@dataclass
class ConsumerStats:
    """What the pipeline process knows about itself (the exporter reads it alongside DuckDB)."""

    batches: int = 0
    events: int = 0
    duplicates: int = 0
    rejected: int = 0
    out_of_range: int = 0
    last_batch_s: float = 0.0
    batch_seconds_total: float = 0.0
    last_refresh_s: float = 0.0
    snapshot_at: float = 0.0  # unix time of the last published snapshot


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, continue exactly where the last committed DuckDB transaction ended.

    kafka-python runs this on its IO thread, where blocking broker calls are not allowed, so it
    only seeks (a local operation) and leaves the retention check to the consumer loop.
    """

    def __init__(self, consumer: KafkaConsumer, store: Store, topic: str) -> None:
        self.consumer, self.store, self.topic = consumer, store, topic
        self.to_check: dict[TopicPartition, int] = {}

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass  # nothing to commit: every written batch already carries its offsets

    def on_partitions_assigned(self, assigned: Any) -> None:
        stored = self.store.stored_offsets(self.topic)
        for tp in assigned:
            offset = stored.get(tp.partition)
            if offset is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
                self.to_check[tp] = offset
        log.info("assigned %s", ", ".join(f"{tp.topic}-{tp.partition}" for tp in assigned) or "nothing")


class Consumer:
    """Poll, validate, dead-letter and commit, batch after batch, until stopped."""

    def __init__(
        self,
        store: Store,
        bootstrap: str,
        topic: str,
        dlq_topic: str,
        *,
        group: str,
        max_batch: int = 20000,
        max_wait_s: float = 0.5,
    ) -> None:
        self.store, self.topic, self.dlq_topic = store, topic, dlq_topic
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.stats = ConsumerStats()
        self.stopping = threading.Event()
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        self.listener = _SeekToStored(self.consumer, store, topic)
        self.consumer.subscribe([topic], listener=self.listener)
        self.dlq = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)

    def run(self, on_batch: Callable[[Batch], None] | None = None) -> None:
        while not self.stopping.is_set():
            self.step(on_batch)

    def step(self, on_batch: Callable[[Batch], None] | None = None) -> int:
        """One poll -> one transaction; returns the number of records handled."""
        records = self._poll()
        if not records:
            return 0
        began = time.monotonic()
        batch = decode(records)
        self._dead_letter(batch, records)
        hw = {(tp.topic, tp.partition): self.consumer.highwater(tp) for tp in self.consumer.assignment()}
        inserted = self.store.write(batch, {k: v for k, v in hw.items() if v is not None})
        took = time.monotonic() - began
        s = self.stats
        s.batches += 1
        s.events += inserted
        s.duplicates += batch.rows.num_rows - inserted
        s.rejected += len(batch.rejected)
        s.last_batch_s = took
        s.batch_seconds_total += took
        if on_batch is not None:
            on_batch(batch)
        return batch.size

    def check_retention(self) -> None:
        """Report stored offsets that Kafka no longer has: never a silent auto_offset_reset."""
        pending, self.listener.to_check = self.listener.to_check, {}
        if not pending:
            return
        first = self.consumer.beginning_offsets(list(pending))
        last = self.consumer.end_offsets(list(pending))
        for tp, offset in pending.items():
            if offset < first[tp]:
                self.stats.out_of_range += 1
                log.error(
                    "DATA LOSS: stored offset %d of %s-%d is before the earliest retained offset %d: "
                    "%d records were deleted by retention before the pipeline read them",
                    offset,
                    tp.topic,
                    tp.partition,
                    first[tp],
                    first[tp] - offset,
                )
                # auto_offset_reset may already have moved past the gap and handed us records from
                # first[tp] on in this very poll; seeking back would read them a second time.
                if self.consumer.position(tp) < first[tp]:
                    self.consumer.seek(tp, first[tp])
            elif offset > last[tp]:
                self.stats.out_of_range += 1
                log.error(
                    "stored offset %d of %s-%d is beyond the end %d: was the topic re-created? reading from the end",
                    offset,
                    tp.topic,
                    tp.partition,
                    last[tp],
                )
                self.consumer.seek(tp, last[tp])

    def _poll(self) -> list[Any]:
        records: list[Any] = []
        deadline = time.monotonic() + self.max_wait_s
        while len(records) < self.max_batch and not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            polled = self.consumer.poll(timeout_ms=int(remaining * 1000), max_records=self.max_batch - len(records))
            if self.listener.to_check:
                self.check_retention()
            for part in polled.values():
                records.extend(part)
        return records

    def _dead_letter(self, batch: Batch, records: list[Any]) -> None:
        """Rejected records also go to the dead-letter topic, before the transaction that skips them commits.

        A crash between the two can repeat a dead-letter message (at-least-once there); the
        rejected_events table, written with the offsets, is the exactly-once record.
        """
        if not batch.rejected:
            return
        # The value as received, byte for byte (rejected_events keeps a text rendering, which is
        # lossy for non-UTF-8 bytes), so a dead letter can be replayed once its cause is fixed.
        values = {(r.topic, r.partition, r.offset): r.value for r in records}
        for r in batch.rejected:
            self.dlq.send(
                self.dlq_topic,
                value=values.get((r.topic, r.partition, r.offset), r.payload.encode()),
                headers=[
                    ("reason", r.reason.encode()[:1000]),
                    ("source", f"{r.topic}/{r.partition}/{r.offset}".encode()),
                ],
            )
        self.dlq.flush(timeout=30)

    def close(self) -> None:
        self.consumer.close(autocommit=False)
        self.dlq.close(timeout=10)
