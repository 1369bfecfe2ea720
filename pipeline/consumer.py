"""Kafka -> DuckDB with effectively-once writes: offsets live in DuckDB, committed with the rows.

Two threads share the work so both cores are busy: this one polls Kafka and validates (Python),
a writer thread commits the previous batch to DuckDB (C++, which releases the GIL). At most one
batch is in the writer and one being read, so memory follows the batch size, never the backlog.

No record can stop the stream: whatever fails while one record is decoded, validated or stored is
that record's rejection (a batch whose write fails is bisected to the record to blame), and a dead
letter too large for Kafka is sent truncated. Only the infrastructure (Kafka, the disk, DuckDB
itself) can stop it, and then nothing is committed past the failure.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import duckdb
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from base.kafka_security import PLAINTEXT, KafkaSecurity
from pipeline.batch import COLUMNS, Batch, Record, Rejected, decode
from pipeline.bulk import use_jemalloc
from pipeline.dead_letter import dead_letter
from pipeline.errors import BrokerUnavailableError, StoreFailedError
from pipeline.stats import ConsumerStats
from pipeline.store import Store

log = logging.getLogger(__name__)

_WHILE_WRITING_S = 0.05  # a poll's wait past max_wait_s while the writer is busy (asked again after each poll)
_POLL_RECORDS = 1000  # records per poll() call: small next to a batch, large next to a call's overhead
_PARTITIONS_CHECK_S = 30.0  # how often the topic's partition count is looked at again (from cached metadata)
_FIRST_BACKOFF_S, _MAX_BACKOFF_S = 1.0, 60.0  # waits before reading again after an infrastructure failure
_MIN_BATCH_BYTES = 256 * 1024  # the smallest batch bound an out-of-memory failure halves it to
LAG_TIMEOUT_S = 2.0  # how long a lag check waits for Kafka's answer (it runs on the consumer's thread)
# Failures of the machinery, never of one record: they stop the batch (nothing is committed past them)
# instead of condemning records. Anything else a write raises is blamed on a record and bisected.
INFRASTRUCTURE = (duckdb.OperationalError, duckdb.InterruptException, KafkaError, OSError)
# DuckDB invalidates a database after a fatal error (e.g. its log could not be written): every later
# statement fails alike, so the process stops and its supervisor starts it on the file anew.
TERMINAL = (duckdb.FatalException,)


def check_reachable(bootstrap: str, timeout_s: float = 5.0, security: KafkaSecurity = PLAINTEXT) -> None:
    """BrokerUnavailableError unless some bootstrap address accepts a connection within `timeout_s`; KafkaRefusedError
    (terminal) when the cluster refuses this client's certificate or credentials (base.kafka_security).

    Asked before kafka-python is: its own check blocks for 30 s (no signal ends it) and, when it fails, leaves
    its I/O thread running, one more for every attempt of a process waiting for its broker.
    """
    failures = []
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
        except (OSError, ValueError) as exc:
            failures.append(f"{address.strip()}: {exc}")
            continue
        security.check(bootstrap)
        return
    raise BrokerUnavailableError(bootstrap, "; ".join(failures))


class Consumer:
    """Poll, validate, dead-letter and commit, batch after batch, until stopped.

    The consumer assigns itself every partition of the topic (no group: offsets live in DuckDB, and
    DuckDB has one writer), so a restart reads at once instead of waiting for a group to rebalance.
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
        max_batch: int = 250_000,
        max_batch_bytes: int = 32 * 1024 * 1024,
        max_wait_s: float = 0.5,
        event_bounds: dict[str, Any] | None = None,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.store, self.topic, self.dlq_topic = store, topic, dlq_topic
        self.max_batch, self.max_batch_bytes, self.max_wait_s = max_batch, max_batch_bytes, max_wait_s
        self.event_bounds = event_bounds
        use_jemalloc()  # decoding's memory returned between polls
        self.stats = ConsumerStats()
        self.stopping = threading.Event()
        check_reachable(bootstrap, security=security)
        try:
            self.consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=max_batch,
                fetch_max_bytes=16 * 1024 * 1024,
                max_partition_fetch_bytes=8 * 1024 * 1024,
                **security.options(),
            )
            self.dlq = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **security.options())
        except KafkaError as exc:  # kafka-python asks a broker its version here (KafkaTimeoutError if none answers)
            if hasattr(self, "consumer"):
                self.consumer.close()
            raise BrokerUnavailableError(bootstrap, exc) from exc
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="duckdb-writer")
        self._pending: _InFlight | None = None
        self._on_batch: Callable[[Batch], None] | None = None
        self._record_bytes = 256.0  # running mean of a record's value size, for sizing polls
        self._carry: list[Any] = []  # records read beyond the last batch's byte bound: the next batch's first
        self._partitions: set[int] = set()
        self._committed: dict[tuple[str, int], int] = {}  # next offset of each partition, as committed
        self._partitions_checked = -_PARTITIONS_CHECK_S  # the first step assigns the partitions
        self._resume_at: float | None = None  # after an infrastructure failure: when to read again
        self._backoff_s = _FIRST_BACKOFF_S
        self._last_failure_log = -60.0

    def run(self, on_batch: Callable[[Batch], None] | None = None) -> None:
        while not self.stopping.is_set():
            self.step(on_batch)

    def step(self, on_batch: Callable[[Batch], None] | None = None) -> int:
        """One poll -> one transaction, written while the next poll is read; returns the events handed over.

        `on_batch` runs (in this thread) once the batch is committed, at the latest in `flush()`.
        """
        try:
            return self._step(on_batch)
        except TERMINAL as exc:
            raise StoreFailedError(self.store.path, exc) from exc
        except INFRASTRUCTURE as exc:
            self._interrupted(exc)
            return 0

    def _step(self, on_batch: Callable[[Batch], None] | None) -> int:
        if self._resume_at is not None:  # after an infrastructure failure: wait, then read again
            if (wait := self._resume_at - time.monotonic()) > 0:
                self.stopping.wait(min(wait, 1.0))
                return 0
            self._resume_at = None  # set again if the failure persists
            self._assign(rewind=True)
            if self._resume_at is not None:  # not positioned at the last commit yet: nothing may be read
                return 0
        elif time.monotonic() - self._partitions_checked >= _PARTITIONS_CHECK_S:
            self._assign()
        records = self._poll()
        if not records:
            self.flush()
            return 0
        began = time.monotonic()
        batch = decode(records, bounds=self.event_bounds)
        dead_letter(self.dlq, self.dlq_topic, batch.rejected)
        hw = {(tp.topic, tp.partition): self.consumer.highwater(tp) for tp in self.consumer.assignment()}
        known = {k: v for k, v in hw.items() if v is not None}
        self.flush()  # one batch in the writer at a time: it commits in order
        if self._resume_at is not None:
            # The batch before failed: this one lies past it and must not commit. Both are read again
            # from the last commit (this one's dead letters may repeat: at-least-once there).
            return 0
        self._pending = _InFlight(self._writer.submit(self._write, batch, known, began), records, batch, known)
        self._on_batch = on_batch
        return batch.size

    def flush(self) -> None:
        """Wait until the batch in the writer is committed.

        An infrastructure failure (disk, DuckDB's own errors, Kafka) commits nothing: the next steps
        wait, with a backoff, then read again from the last commit. Any other failure is blamed on a
        record: the batch is stored again by halves until the record is found, which is then
        dead-lettered, and everything else of the batch is committed.
        """
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            try:
                pending.future.result()
                written = [pending.batch]
                self._backoff_s = _FIRST_BACKOFF_S
            except (*TERMINAL, *INFRASTRUCTURE):
                raise
            except Exception as exc:  # a record's fault: find it, keep the rest
                log.warning(
                    "a batch of %d records failed to store (%s); looking for the record to blame",
                    len(pending.records),
                    exc,
                )
                written = self._by_halves(pending.records, pending.high_watermarks)
        except TERMINAL as exc:
            raise StoreFailedError(self.store.path, exc) from exc
        except INFRASTRUCTURE as exc:
            self._on_batch = None
            self._interrupted(exc)
            return
        on_batch, self._on_batch = self._on_batch, None
        if on_batch is not None:
            for batch in written:
                on_batch(batch)

    def _by_halves(self, records: list[Any], high_watermarks: dict[tuple[str, int], int]) -> list[Batch]:
        """Store `records` in offset order, halving any part that fails; returns the batches committed.

        The decoder's rejections were dead-lettered when the whole batch was first read: not again here.
        """
        began = time.monotonic()
        try:
            batch = decode(records, bounds=self.event_bounds)
            self._write(batch, high_watermarks, began)
            return [batch]
        except (*TERMINAL, *INFRASTRUCTURE):
            raise
        except Exception as exc:  # narrowed down below
            if len(records) > 1:
                mid = len(records) // 2
                return self._by_halves(records[:mid], high_watermarks) + self._by_halves(records[mid:], high_watermarks)
            return [self._blame(records[0], exc, high_watermarks, began)]

    def _blame(self, record: Any, exc: Exception, high_watermarks: dict[tuple[str, int], int], began: float) -> Batch:
        """Reject one record that cannot be stored, unless the store fails on a known-good event too."""
        if not self.store.accepts(decode([_canary()], bounds=self.event_bounds)):
            raise exc  # not this record's fault: a defect or a broken store, which must stop the pipeline
        raw = record.value or b""
        reason = f"store: {type(exc).__name__}: {exc}"
        rejected = Rejected(record.topic, record.partition, record.offset, reason, _text(raw), None, raw)
        log.error(
            "record %s/%d/%d cannot be stored, dead-lettered: %s", record.topic, record.partition, record.offset, reason
        )
        dead_letter(self.dlq, self.dlq_topic, [rejected])
        batch = Batch(COLUMNS.empty_table(), [rejected], {(record.topic, record.partition): record.offset + 1})
        self._write(batch, high_watermarks, began)
        return batch

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
        self._committed.update(batch.next_offsets)
        s.committed_at = time.monotonic()

    def _interrupted(self, exc: Exception) -> None:
        """An infrastructure failure: read again from the last commit after a backoff (logged once a minute)."""
        self._resume_at = time.monotonic() + self._backoff_s
        if isinstance(exc, duckdb.OutOfMemoryException) and self.max_batch_bytes > _MIN_BATCH_BYTES:
            # The same batch would run out of memory again: read smaller ones from now on.
            self.max_batch_bytes = max(_MIN_BATCH_BYTES, self.max_batch_bytes // 2)
            log.warning("DuckDB ran out of memory: batches of at most %d bytes from now on", self.max_batch_bytes)
        if time.monotonic() - self._last_failure_log >= 60.0:
            log.error(
                "the pipeline could not go on (%s: %s); nothing after the last commit is kept: reading again "
                "from it in %g s, retrying with a backoff up to %g s",
                type(exc).__name__,
                exc,
                self._backoff_s,
                _MAX_BACKOFF_S,
            )
            self._last_failure_log = time.monotonic()
        self._backoff_s = min(self._backoff_s * 2, _MAX_BACKOFF_S)

    def _assign(self, *, rewind: bool = False) -> None:
        """Read every partition of the topic from the offsets stored in DuckDB (the beginning if none).

        Called at start, every _PARTITIONS_CHECK_S (so partitions added to the topic are read too) and,
        with `rewind`, after a failure (what was read past the last commit is read again).
        """
        self._partitions_checked = time.monotonic()
        partitions = self.consumer.partitions_for_topic(self.topic)
        if not partitions or (partitions == self._partitions and not rewind):
            if not partitions:
                log.warning("topic %s has no partitions yet (does it exist?); looking again shortly", self.topic)
                self._partitions_checked -= _PARTITIONS_CHECK_S - 1.0
                if rewind:  # positions must not move on from what was read past the last commit
                    self._resume_at = time.monotonic() + 1.0
            return
        self.flush()  # positions are set from what is committed: nothing may be in the writer
        self._carry = []
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        stored = self.store.stored_offsets(self.topic)
        to_check = {}
        for tp in assigned:
            offset = stored.get(tp.partition)
            if offset is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
                to_check[tp] = offset
        self._partitions = set(partitions)
        self._committed.update(((self.topic, p), o) for p, o in stored.items())
        self.stats.partitions = len(assigned)
        log.info("reading %s", ", ".join(f"{tp.topic}-{tp.partition}" for tp in assigned))
        self.check_retention(to_check)

    def check_retention(self, stored: dict[TopicPartition, int]) -> None:
        """Report stored offsets that Kafka no longer has: never a silent auto_offset_reset."""
        if not stored:
            return
        first = self.consumer.beginning_offsets(list(stored))
        last = self.consumer.end_offsets(list(stored))
        for tp, offset in stored.items():
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
        """Records until the batch is full (records or bytes) or max_wait_s has passed and the writer is idle.

        While the writer still commits the batch before, reading on costs no latency (this batch could not be
        written sooner) and makes batches larger under load, where a DuckDB write costs much per batch as well as per
        event (bench/ingest.py, one event a record: 1M events took 29 batches, now 13).

        What a poll returns beyond the byte bound is carried over to the next batch, so every batch
        keeps its bound (a single record larger than the bound makes a batch of its own).
        """
        records: list[Any] = []
        size = 0
        carry, self._carry = self._carry, []
        deadline = time.monotonic() + self.max_wait_s
        while not self.stopping.is_set():
            if not carry:
                if len(records) >= self.max_batch or size >= self.max_batch_bytes:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if not self._writing():
                        break
                    remaining = _WHILE_WRITING_S
                # Each poll takes a slice of what kafka-python buffered, sized by the records seen so far.
                fits = int((self.max_batch_bytes - size) / self._record_bytes) + 1
                take = min(self.max_batch - len(records), _POLL_RECORDS, fits)
                polled = self.consumer.poll(timeout_ms=int(remaining * 1000), max_records=take)
                carry = [r for part in polled.values() for r in part]
                if carry:
                    got = sum(len(r.value or b"") for r in carry)
                    self._record_bytes = max(1.0, 0.8 * self._record_bytes + 0.2 * got / len(carry))
                continue
            for i, rec in enumerate(carry):
                grown = size + len(rec.value or b"")
                if records and (grown > self.max_batch_bytes or len(records) >= self.max_batch):
                    self._carry = carry[i:]
                    return records
                records.append(rec)
                size = grown
            carry = []
        self._carry = carry + self._carry
        return records

    def check_lag(self, timeout_s: float = LAG_TIMEOUT_S) -> int | None:
        """Ask Kafka for its end offsets: the records past the last commit (in `stats`), or None if it does not
        answer within `timeout_s` or no partition is assigned (the stats keep the last answer and its time)."""
        assigned = sorted(self.consumer.assignment())
        if not assigned:
            return None
        deadline = time.monotonic() + timeout_s  # both questions together: the loop waits `timeout_s` at most
        try:
            end = self.consumer.end_offsets(assigned, timeout_ms=int(timeout_s * 1000))
            # A partition with nothing committed yet is read from its first retained record.
            unread = [tp for tp in assigned if (tp.topic, tp.partition) not in self._committed]
            left_ms = max(int((deadline - time.monotonic()) * 1000), 1)
            first = self.consumer.beginning_offsets(unread, timeout_ms=left_ms) if unread else {}
        except (KafkaError, OSError) as exc:
            log.debug("lag check: Kafka did not answer: %s", exc)
            return None
        lag = 0
        for tp in assigned:
            start = self._committed.get((tp.topic, tp.partition), first.get(tp, 0))
            lag += max(end[tp] - start, 0)
        now = time.monotonic()
        self.stats.lag_records, self.stats.lag_checked_at = lag, now
        if lag == 0:
            self.stats.caught_up_at = now
        return lag

    def _writing(self) -> bool:
        return self._pending is not None and not self._pending.future.done()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._writer.shutdown()
            self.consumer.close(autocommit=False)
        self.dlq.close(timeout=10)


class _InFlight(NamedTuple):
    """The batch in the writer, with what it takes to store it again by halves if it fails."""

    future: Future[None]
    records: list[Any]
    batch: Batch
    high_watermarks: dict[tuple[str, int], int]


def _canary() -> Record:
    """A valid one-event record: if even this cannot be stored, the store is to blame, not a record."""
    now = datetime.now(UTC)
    event = {
        "event_id": "canary",
        "kind": "focus",
        "device_id": "canary",
        "user": "canary",
        "app": "canary",
        "start": (now - timedelta(minutes=1)).isoformat(),
        "duration_s": 1.0,
        "source": "canary",
    }
    return Record("canary", 0, 0, int(now.timestamp() * 1000), json.dumps(event).encode())


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="backslashreplace")
