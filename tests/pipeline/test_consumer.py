"""The consumer on a real Kafka broker: rows, rejects, dead letters and offsets in one transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from kafka import KafkaConsumer, KafkaProducer

from alignmon.stack.kafka import ensure_topics
from base.errors import TransientError
from pipeline.consumer import Consumer
from pipeline.errors import StoreFailedError
from pipeline.store import Store

pytestmark = pytest.mark.integration


def event(i: int, device: str = "dev-1") -> dict[str, object]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1, minutes=i)
    return {
        "event_id": f"ev-{i}",
        "kind": "focus",
        "device_id": device,
        "user": "u_1",
        "app": "teams.exe",
        "start": start.isoformat(),
        "duration_s": 60.0,
        "source": "test",
    }


def produce(bootstrap: str, topic: str, payloads: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for p in payloads:
        producer.send(topic, value=p, key=b"dev-1")
    producer.flush()
    producer.close()


def test_rows_rejects_and_offsets_commit_together(kafka_bootstrap: str, topic: str, tmp_path: Path, drain: Any) -> None:
    dlq = f"{topic}.dlq"
    ensure_topics(kafka_bootstrap, {dlq: 1})
    good = [json.dumps(event(i)).encode() for i in range(50)]
    dupes = good[:5]  # a resend: same event ids
    bad = [b"{not json", json.dumps({**event(99), "duration_s": -1}).encode()]
    produce(kafka_bootstrap, topic, good + dupes + bad)

    store = Store(tmp_path / "a.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, dlq)
    try:
        assert drain(consumer, 57) == 57
    finally:
        consumer.close()

    con = store.con
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone() == (50, 50)
    reasons = [r[0] for r in con.execute("SELECT reason FROM rejected_events ORDER BY kafka_offset").fetchall()]
    assert len(reasons) == 2
    assert "Invalid JSON" in reasons[0]
    assert reasons[1].startswith("duration_s:")
    # Every partition's stored position equals the end of the topic: nothing left, nothing skipped.
    stored = dict(con.execute('SELECT "partition", next_offset FROM kafka_offsets').fetchall())
    assert sum(stored.values()) == 57
    assert consumer.stats.duplicates == 5

    dead = KafkaConsumer(dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000)
    letters = list(dead)
    dead.close()
    assert sorted(m.value for m in letters) == sorted(bad)
    assert all(dict(m.headers)["reason"] for m in letters)
    store.close()


def test_restart_resumes_from_stored_offsets(kafka_bootstrap: str, topic: str, tmp_path: Path, drain: Any) -> None:
    path = tmp_path / "b.duckdb"
    produce(kafka_bootstrap, topic, [json.dumps(event(i)).encode() for i in range(20)])
    store = Store(path)
    first = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq")
    drain(first, 20)
    first.close()
    store.close()

    produce(kafka_bootstrap, topic, [json.dumps(event(i)).encode() for i in range(20, 30)])
    store = Store(path)
    # No group: Kafka knows nothing of our position, so only the offsets stored in DuckDB prevent a re-read.
    second = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq")
    assert drain(second, 10) == 10
    second.close()
    assert second.stats.duplicates == 0
    assert store.con.execute("SELECT count(*) FROM events").fetchone() == (30,)
    store.close()


def test_a_batch_ends_near_its_byte_bound(kafka_bootstrap: str, topic: str, tmp_path: Path) -> None:
    payloads = [json.dumps(event(i)).encode() for i in range(3000)]
    produce(kafka_bootstrap, topic, payloads)
    record = max(len(p) for p in payloads)
    bound = 50 * record  # ~50 records: a small fraction of the backlog

    store = Store(tmp_path / "b.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq")
    consumer.max_batch_bytes = bound
    sizes: list[int] = []
    try:
        for _ in range(1000):
            if sum(sizes) >= len(payloads):
                break
            consumer.step(on_batch=lambda b: sizes.append(b.size))
        consumer.flush()
    finally:
        consumer.close()
    assert sum(sizes) == len(payloads)
    # The bound stops the reading; the last poll may add a slice sized for what was left under it.
    assert max(sizes) * min(len(p) for p in payloads) <= 2 * bound
    assert len(sizes) >= len(payloads) // 100
    assert store.con.execute("SELECT count(*) FROM events").fetchone() == (len(payloads),)
    store.close()


class PickyStore(Store):
    """A store that cannot take one event (standing in for a value DuckDB refuses); `broken` refuses all."""

    broken = False

    def write(self, batch: Any, high_watermarks: Any = None, *, dry_run: bool = False) -> int:
        if self.broken or "ev-13" in batch.rows.column("event_id").to_pylist():
            raise duckdb.ConversionException("Conversion Error: cannot store this value")
        return super().write(batch, high_watermarks, dry_run=dry_run)


def test_a_record_the_store_refuses_is_found_by_halves_and_dead_lettered(
    kafka_bootstrap: str, topic: str, tmp_path: Path, read_topic: Any
) -> None:
    dlq = f"{topic}.dlq"
    ensure_topics(kafka_bootstrap, {dlq: 1})
    payloads = [json.dumps(event(i)).encode() for i in range(40)]
    produce(kafka_bootstrap, topic, payloads)
    store = PickyStore(tmp_path / "p.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, dlq)
    batches: list[Any] = []
    try:
        for _ in range(50):
            consumer.step(on_batch=batches.append)
            consumer.flush()
            if sum(store.stored_offsets(topic).values()) == 40:
                break
    finally:
        consumer.close()
    con = store.con
    assert sorted(r[0] for r in con.execute("SELECT event_id FROM events").fetchall()) == sorted(
        f"ev-{i}" for i in range(40) if i != 13
    )
    (reason, payload), *more = con.execute("SELECT reason, payload FROM rejected_events").fetchall()
    assert not more and reason.startswith("store: ConversionException") and json.loads(payload)["event_id"] == "ev-13"
    assert sum(store.stored_offsets(topic).values()) == 40
    assert consumer.stats.rejected == 1 and consumer.stats.events == 39
    assert sum(b.size for b in batches) == 40  # on_batch saw every part that was committed
    letters = read_topic(kafka_bootstrap, dlq)
    assert [json.loads(m.value)["event_id"] for m in letters] == ["ev-13"]
    assert dict(letters[0].headers)["reason"].startswith(b"store: ConversionException")
    store.close()


def test_a_store_that_refuses_everything_stops_the_pipeline_instead_of_dead_lettering(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    produce(kafka_bootstrap, topic, [json.dumps(event(i)).encode() for i in range(10)])
    store = PickyStore(tmp_path / "b.duckdb")
    store.broken = True
    consumer = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq")
    try:
        with pytest.raises(duckdb.ConversionException):
            for _ in range(50):
                consumer.step()
                consumer.flush()
    finally:
        store.broken = False
        consumer.close()
    assert store.con.execute("SELECT count(*) FROM rejected_events").fetchone() == (0,)
    assert store.stored_offsets(topic) == {}  # nothing committed past the failure: a restart reads it all again
    store.close()


class FailedStore(Store):
    """A store whose database DuckDB invalidated (as after a failed write of its log)."""

    def write(self, batch: Any, high_watermarks: Any = None, *, dry_run: bool = False) -> int:
        raise duckdb.FatalException("FATAL Error: Failed: database has been invalidated")


def test_a_database_duckdb_invalidated_is_a_terminal_error_with_its_reason(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    produce(kafka_bootstrap, topic, [json.dumps(event(i)).encode() for i in range(3)])
    store = FailedStore(tmp_path / "x.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq")
    try:
        with pytest.raises(StoreFailedError, match=r"x\.duckdb failed and DuckDB refuses further writes") as caught:
            for _ in range(50):
                consumer.step()
                consumer.flush()
    finally:
        consumer.close()
    assert not isinstance(caught.value, TransientError)  # terminal: the process stops with the reason
    assert isinstance(caught.value.__cause__, duckdb.FatalException)
    assert store.stored_offsets(topic) == {}
    store.close()


def test_the_first_batch_keeps_its_byte_bound(kafka_bootstrap: str, topic: str, tmp_path: Path) -> None:
    """Finding 12: the first batch once took 1,000 packed records (9.5 MB) whatever the bound."""
    packed = [json.dumps([event(r * 50 + i) for i in range(50)]).encode() for r in range(200)]
    produce(kafka_bootstrap, topic, packed)
    bound = 256 * 1024
    store = Store(tmp_path / "f.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq", max_batch_bytes=bound)
    sizes: list[int] = []
    try:
        for _ in range(500):
            consumer.step(on_batch=lambda b: sizes.append(int(b.rows.num_rows)))
            consumer.flush()
            if sum(sizes) == 200 * 50:
                break
    finally:
        consumer.close()
    record = max(len(p) for p in packed)
    assert sum(sizes) == 200 * 50
    assert max(sizes) * record / 50 <= bound + record  # every batch, the first included
    store.close()


def test_the_consumer_reads_without_a_group(kafka_bootstrap: str, topic: str, tmp_path: Path, drain: Any) -> None:
    """Finding 12: offsets live in DuckDB, so no group is joined and a restart need not wait for one."""
    produce(kafka_bootstrap, topic, [json.dumps(event(i)).encode() for i in range(5)])
    store = Store(tmp_path / "g.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq")
    try:
        assert drain(consumer, 5) == 5
        assert consumer.consumer.config["group_id"] is None
        assert {tp.topic for tp in consumer.consumer.assignment()} == {topic}
    finally:
        consumer.close()
    store.close()


class FlakyStore(Store):
    """A store whose disk fails for its first `failures` writes (standing in for a full disk, then freed)."""

    failures = 2

    def write(self, batch: Any, high_watermarks: Any = None, *, dry_run: bool = False) -> int:
        if self.failures > 0 and batch.rows.num_rows:
            self.failures -= 1
            raise duckdb.IOException("IO Error: No space left on device")
        return super().write(batch, high_watermarks, dry_run=dry_run)


def _run_until_stored(consumer: Consumer, expected: int, steps: int = 300) -> None:
    """Step as Pipeline.run does (no flush in between) until `expected` events were committed."""
    committed = 0

    def count(batch: Any) -> None:
        nonlocal committed
        committed += batch.rows.num_rows

    for _ in range(steps):
        consumer.step(on_batch=count)
        if committed >= expected:
            break
    consumer.flush()


def test_an_infrastructure_failure_is_retried_from_the_last_commit(
    kafka_bootstrap: str, topic: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    produce(kafka_bootstrap, topic, [json.dumps(event(i)).encode() for i in range(30)])
    store = FlakyStore(tmp_path / "f.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq", max_batch=10)
    try:
        # Never raises: it waits (1 s, then 2 s) and reads again from the last commit; the batch read
        # while the failed one was in the writer is not committed past it.
        _run_until_stored(consumer, 30)
    finally:
        consumer.close()
    assert store.failures == 0
    assert sorted(r[0] for r in store.con.execute("SELECT event_id FROM events").fetchall()) == sorted(
        f"ev-{i}" for i in range(30)
    )
    assert store.stored_offsets(topic) == {0: 30}
    assert consumer.stats.duplicates == 0 and consumer.stats.rejected == 0
    assert store.con.execute("SELECT count(*) FROM rejected_events").fetchone() == (0,)  # nothing blamed on a record
    assert any("No space left on device" in r.getMessage() for r in caplog.records)
    store.close()


def test_a_rewind_waits_until_kafka_names_the_partitions_again(
    kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    """Review finding: after a failure, metadata briefly without the topic must not let reading go on unpositioned."""
    produce(kafka_bootstrap, topic, [json.dumps(event(i)).encode() for i in range(30)])
    store = FlakyStore(tmp_path / "m.duckdb")
    store.failures = 1
    consumer = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq", max_batch=10)
    real = consumer.consumer.partitions_for_topic
    gaps = iter([set(), set()])  # the first two look-ups after the failure find no partitions

    def flaky_metadata(name: str) -> Any:
        if store.failures == 0:  # the write has failed: the rewind's look-ups come first
            gap = next(gaps, None)
            if gap is not None:
                return gap
        return real(name)

    consumer.consumer.partitions_for_topic = flaky_metadata  # type: ignore[method-assign]
    try:
        _run_until_stored(consumer, 30)
    finally:
        consumer.close()
    assert next(gaps, None) is None  # both gaps were met
    assert sorted(r[0] for r in store.con.execute("SELECT event_id FROM events").fetchall()) == sorted(
        f"ev-{i}" for i in range(30)
    )
    assert store.stored_offsets(topic) == {0: 30}
    store.close()
