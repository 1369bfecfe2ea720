"""Kafka -> DuckDB with effectively-once writes: offsets live in DuckDB, committed with the rows.

Two threads share the work so both cores are busy: this one polls Kafka and validates (Python),
a writer thread commits the previous batch to DuckDB (C++, which releases the GIL). At most one
batch is in the writer and one being read, so memory follows the batch size, never the backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.batch import Batch, decode
from pipeline.store import Store

log = logging.getLogger(__name__)

_POLL_RECORDS = 1000  # records per poll() call: small next to a batch, large next to a call's overhead


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

    kafka-python calls this from inside poll(), where blocking broker calls are not allowed, so it
    only seeks (a local operation) and leaves the retention check to the consumer loop.
    """

    def __init__(self, consumer: KafkaConsumer, store: Store, topic: str, flush: Callable[[], None]) -> None:
        self.consumer, self.store, self.topic, self.flush = consumer, store, topic, flush
        self.to_check: dict[TopicPartition, int] = {}
        self.rebalanced = False

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass  # nothing to commit: every written batch already carries its offsets

    def on_partitions_assigned(self, assigned: Any) -> None:
        # The batch in the writer commits first, so the offsets read here include it; records read
        # before this rebalance but not yet handed over are dropped by _poll and read again.
        self.flush()
        self.rebalanced = True
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
    """Poll, validate, dead-letter and commit, batch after batch, until stopped.

    `step()` hands a batch to the writer and returns; everything handed over is committed once the
    next `step()`, `flush()` or `close()` returns.
    """

    def __init__(
        self,
        store: Store,
        bootstrap: str,
        topic: str,
        dlq_topic: str,
        *,
        group: str,
        max_batch: int = 100_000,
        max_batch_bytes: int = 32 * 1024 * 1024,
        max_wait_s: float = 0.5,
    ) -> None:
        self.store, self.topic, self.dlq_topic = store, topic, dlq_topic
        self.max_batch, self.max_batch_bytes, self.max_wait_s = max_batch, max_batch_bytes, max_wait_s
        self.stats = ConsumerStats()
        self.stopping = threading.Event()
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            fetch_max_bytes=16 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="duckdb-writer")
        self._pending: Future[None] | None = None
        self._on_batch: tuple[Callable[[Batch], None], Batch] | None = None
        self._record_bytes = 256.0  # running mean of a record's value size, for sizing polls
        self.listener = _SeekToStored(self.consumer, store, topic, self.flush)
        self.consumer.subscribe([topic], listener=self.listener)
        self.dlq = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)

    def run(self, on_batch: Callable[[Batch], None] | None = None) -> None:
        while not self.stopping.is_set():
            self.step(on_batch)

    def step(self, on_batch: Callable[[Batch], None] | None = None) -> int:
        """One poll -> one transaction, written while the next poll is read; returns the events handed over.

        `on_batch` runs (in this thread) once the batch is committed, at the latest in `flush()`.
        """
        records = self._poll()
        if not records:
            self.flush()
            return 0
        began = time.monotonic()
        batch = decode(records)
        self._dead_letter(batch)
        hw = {(tp.topic, tp.partition): self.consumer.highwater(tp) for tp in self.consumer.assignment()}
        self.flush()  # one batch in the writer at a time: it commits in order
        self._pending = self._writer.submit(self._write, batch, {k: v for k, v in hw.items() if v is not None}, began)
        self._on_batch = (on_batch, batch) if on_batch is not None else None
        return batch.size

    def flush(self) -> None:
        """Wait until the batch in the writer is committed; a failed write raises here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()
            done, self._on_batch = self._on_batch, None
            if done is not None:
                done[0](done[1])

    def _write(self, batch: Batch, high_watermarks: dict[tuple[str, int], int], began: float) -> None:
        inserted = self.store.write(batch, high_watermarks)
        took = time.monotonic() - began
        s = self.stats
        s.batches += 1
        s.events += inserted
        s.duplicates += batch.duplicates + batch.rows.num_rows - inserted
        s.rejected += len(batch.rejected)
        s.last_batch_s = took
        s.batch_seconds_total += took

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
        """Records until the batch is full (records or bytes) or max_wait_s has passed."""
        records: list[Any] = []
        size = 0
        deadline = time.monotonic() + self.max_wait_s
        while len(records) < self.max_batch and size < self.max_batch_bytes and not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # Each poll takes a slice of what kafka-python buffered, sized by the records seen so far,
            # so a batch ends close to max_batch_bytes instead of a whole fetch beyond it.
            fits = int((self.max_batch_bytes - size) / self._record_bytes) + 1
            take = min(self.max_batch - len(records), _POLL_RECORDS, fits)
            polled = self.consumer.poll(timeout_ms=int(remaining * 1000), max_records=take)
            if self.listener.rebalanced:
                # Positions were reset to the stored offsets: what was read before is read again.
                self.listener.rebalanced = False
                records, size = [], 0
            if self.listener.to_check:
                self.check_retention()
            for part in polled.values():
                if not part:
                    continue
                records.extend(part)
                got = sum(len(r.value or b"") for r in part)
                size += got
                self._record_bytes = max(1.0, 0.8 * self._record_bytes + 0.2 * got / len(part))
        return records

    def _dead_letter(self, batch: Batch) -> None:
        """Rejected events also go to the dead-letter topic, before the transaction that skips them commits.

        A crash between the two can repeat a dead-letter message (at-least-once there); the
        rejected_events table, written with the offsets, is the exactly-once record.
        """
        if not batch.rejected:
            return
        for r in batch.rejected:
            # The bytes as received (rejected_events keeps a text rendering, lossy for non-UTF-8),
            # or the one bad event of a packed record, so a dead letter can be replayed once fixed.
            where = f"{r.topic}/{r.partition}/{r.offset}" + ("" if r.position is None else f"#{r.position}")
            self.dlq.send(
                self.dlq_topic,
                value=r.value if r.value is not None else r.payload.encode(),
                headers=[("reason", r.reason.encode()[:1000]), ("source", where.encode())],
            )
        self.dlq.flush(timeout=30)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._writer.shutdown()
            self.consumer.close(autocommit=False)
        self.dlq.close(timeout=10)
