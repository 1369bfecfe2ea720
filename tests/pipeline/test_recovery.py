"""The pipeline's guarantees under failure, on real Kafka and real DuckDB files.

kill -9 mid-stream, a broker restart, records lost to retention, and poison messages: after each,
every event is stored exactly once, the stored offsets are the ends of the partitions, and the daily
rollup (written in the same transaction) equals the sum recomputed here from the events sent.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.process import Service, free_port
from alignmon.stack.stack import Stack, StackConfig
from metrics.exporter import PipelineCollector
from pipeline.consumer import Consumer
from pipeline.store import Store

pytestmark = pytest.mark.integration

BASE = datetime(2026, 9, 1, 6, tzinfo=UTC)  # fixed and in the past: never "in the future" for the contract
APPS = ("teams.exe", "excel.exe", "sap.exe", "chrome.exe", "code.exe")
KINDS = ("focus", "focus", "focus", "open", "launch")


def synthetic(i: int, source: str = "recovery") -> dict[str, Any]:
    """Event i: 60 users on 40 devices, one start every 31 s; spans up to 2 h, so some cross midnight."""
    kind = KINDS[i % len(KINDS)]
    return {
        "event_id": f"{source}-{i}",
        "kind": kind,
        "device_id": f"dev-{i % 40}",
        "user": f"u_{i % 60}",
        "app": APPS[i % len(APPS)],
        "start": (BASE + timedelta(seconds=31 * i)).isoformat(),
        "duration_s": 0.0 if kind == "launch" else 60.0 + (i * 7919) % 7200 + 0.25,
        "source": source,
    }


def with_resends(events: list[dict[str, Any]], every: int = 20) -> Iterator[dict[str, Any]]:
    """The stream as sent: each event once, plus a resend of an earlier one after every `every` (5%)."""
    for i, e in enumerate(events):
        yield e
        if i % every == every - 1:
            yield events[i - every // 2]


def produce(bootstrap: str, topic: str, payloads: Iterator[bytes] | list[bytes], key: bytes | None = None) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024)
    n = 0
    for p in payloads:
        producer.send(topic, value=p, key=key)
        n += 1
    producer.flush(timeout=120)
    producer.close()
    return n


def produce_events(bootstrap: str, topic: str, events: Iterator[dict[str, Any]]) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024)
    n = 0
    for e in events:
        producer.send(topic, key=e["device_id"].encode(), value=json.dumps(e).encode())
        n += 1
    producer.flush(timeout=120)
    producer.close()
    return n


def expected_rollup(events: list[dict[str, Any]]) -> dict[tuple[date, str, str], tuple[float, float, int]]:
    """usage_user_daily recomputed by hand: spans split at UTC midnight, seconds summed per day/user/app."""
    out: dict[tuple[date, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for e in events:
        start = datetime.fromisoformat(e["start"])
        if e["kind"] == "launch":
            out[(start.date(), e["user"], e["app"])][2] += 1
            continue
        end = start + timedelta(seconds=e["duration_s"])
        t = start
        while True:
            midnight = datetime.combine(t.date() + timedelta(days=1), datetime.min.time(), UTC)
            stop = min(end, midnight)
            out[(t.date(), e["user"], e["app"])][0 if e["kind"] == "focus" else 1] += (stop - t).total_seconds()
            if end <= midnight:
                break
            t = midnight
    return {k: (v[0], v[1], int(v[2])) for k, v in out.items()}


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def assert_consistent(path: Path, topic: str, events: list[dict[str, Any]]) -> set[str]:
    """What one committed state must satisfy: no event twice, nothing but sent events, no row past its
    partition's stored offset, and the rollup equal to the one recomputed by hand from the stored events.
    Returns the stored event ids."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        count, distinct = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()  # type: ignore[misc]
        assert count == distinct
        stored = {r[0] for r in con.execute("SELECT event_id FROM events").fetchall()}
        beyond = con.execute(
            "SELECT count(*) FROM events e JOIN kafka_offsets o "
            'ON o.topic = e.kafka_topic AND o."partition" = e.kafka_partition WHERE e.kafka_offset >= o.next_offset'
        ).fetchone()
        unpositioned = con.execute(
            "SELECT count(*) FROM events e ANTI JOIN kafka_offsets o "
            'ON o.topic = e.kafka_topic AND o."partition" = e.kafka_partition'
        ).fetchone()
        assert beyond == (0,) and unpositioned == (0,)
        assert con.execute("SELECT count(*) FROM rejected_events").fetchone() == (0,)
        rollup = {
            (day, user, app): (focus, open_, launches)
            for day, user, app, focus, open_, launches in con.execute(
                'SELECT day, "user", app, focus_s, open_s, launches FROM usage_user_daily'
            ).fetchall()
        }
    finally:
        con.close()
    by_id = {e["event_id"]: e for e in events}
    assert stored <= by_id.keys()
    expected = expected_rollup([by_id[i] for i in stored])
    assert rollup.keys() == expected.keys()
    for key, (focus, open_, launches) in expected.items():
        got = rollup[key]
        assert got[0] == pytest.approx(focus, rel=1e-9, abs=1e-6), key
        assert got[1] == pytest.approx(open_, rel=1e-9, abs=1e-6), key
        assert got[2] == launches, key
    return stored


def assert_exactly_once(path: Path, topic: str, bootstrap: str, events: list[dict[str, Any]]) -> None:
    """The end state: a consistent store holding every event, positioned at the end of every partition."""
    assert assert_consistent(path, topic, events) == {e["event_id"] for e in events}
    con = duckdb.connect(str(path), read_only=True)
    try:
        offsets = dict(
            con.execute('SELECT "partition", next_offset FROM kafka_offsets WHERE topic = ?', [topic]).fetchall()
        )
    finally:
        con.close()
    assert offsets == end_offsets(bootstrap, topic)


class PipelineRunner:
    """Starts `alignmon pipeline` subprocesses on one DuckDB file, each on a fresh exporter port.

    The pipeline joins no consumer group, so Kafka knows nothing of its position: only the offsets
    stored in DuckDB can prevent a re-read.
    """

    def __init__(self, alignmon: Any, tmp: Path, bootstrap: str, topic: str) -> None:
        self.alignmon, self.tmp, self.topic = alignmon, tmp, topic
        self.db = tmp / "pipeline.duckdb"
        self.env = {
            "ALIGNMON_KAFKA_BOOTSTRAP": bootstrap,
            "ALIGNMON_TOPIC": topic,
            "ALIGNMON_DLQ_TOPIC": f"{topic}.dlq",
            "ALIGNMON_DUCKDB_PATH": str(self.db),
            "ALIGNMON_SNAPSHOT_PATH": str(tmp / "snapshot.duckdb"),
            "ALIGNMON_CATALOG_DIR": str(tmp / "no-catalog"),
            "ALIGNMON_DEV_MODE": "1",
            # The synthetic events are months old: retention would delete raw events the consistency check
            # recomputes the rollup from (retention has its own tests: test_retention.py).
            "ALIGNMON_RAW_RETENTION_DAYS": "3650",
            # Small batches (~2k events): many transactions per run, so a kill lands mid-stream.
            "ALIGNMON_BATCH_MAX_MIB": "0.5",
        }
        (tmp / "no-catalog").mkdir(exist_ok=True)
        self.runs = 0

    def start(self) -> tuple[subprocess.Popen[bytes], str]:
        self.runs += 1
        port = free_port()
        env = {
            **self.env,
            "ALIGNMON_EXPORTER_PORT": str(port),
        }
        return self.alignmon.start(["pipeline"], env, f"pipeline-{self.runs}"), f"http://127.0.0.1:{port}/metrics"

    def log(self, run: int) -> str:
        return (self.tmp / f"pipeline-{run}.log").read_text(errors="replace")


def stop_cleanly(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0


def test_kill_9_mid_stream_three_times_loses_and_repeats_nothing(
    alignmon: Any, kafka_bootstrap: str, topic: str, tmp_path: Path, wait_for: Callable[..., Any], ingested: Any
) -> None:
    ensure_topics(kafka_bootstrap, {f"{topic}.dlq": 1})
    events = [synthetic(i) for i in range(200_000)]
    sent = produce_events(kafka_bootstrap, topic, with_resends(events))
    assert sent == 210_000
    runner = PipelineRunner(alignmon, tmp_path, kafka_bootstrap, topic)
    rng = random.Random(3)
    seen = 0
    kept: list[int] = []
    for _ in range(3):
        proc, url = runner.start()

        def progressed(url: str = url, before: int = seen) -> int | None:
            n = ingested(url)
            return n if n is not None and before < n < len(events) else None

        # A restart reads at once: no group to rejoin (it once waited ~45 s for the killed member's session
        # to expire). The bound is generous; bench/chaos.py measures the restart time.
        timeout = 120 if runner.runs == 1 else 30
        seen = wait_for(progressed, timeout=timeout, what=f"progress past {seen} events (run {runner.runs})")
        # Land the kill at a random point of the next batches, often inside a write transaction.
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        # The state the crash left (after DuckDB's WAL replay) is already consistent, before any restart.
        stored = assert_consistent(runner.db, topic, events)
        assert seen <= len(stored) < len(events)
        kept.append(len(stored))
    assert kept == sorted(kept)

    proc, url = runner.start()
    wait_for(lambda: ingested(url) == len(events), timeout=180, what="all 200,000 distinct events stored")
    stop_cleanly(proc)
    assert "Traceback" not in runner.log(runner.runs)
    assert_exactly_once(runner.db, topic, kafka_bootstrap, events)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[Stack, Service]]:
    """A broker of this test alone, so stopping it does not disturb the session's."""
    stack = Stack(StackConfig(state_dir=tmp_path / "broker", kafka_port=free_port(), kafka_controller_port=free_port()))
    svc = stack.kafka()
    svc.start()
    yield stack, svc
    svc.stop()


def test_broker_restart_mid_stream(
    alignmon: Any, own_broker: tuple[Stack, Service], tmp_path: Path, wait_for: Callable[..., Any], ingested: Any
) -> None:
    stack, broker = own_broker
    bootstrap = stack.kafka_bootstrap
    topic = f"restart.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: 3, f"{topic}.dlq": 1})
    events = [synthetic(i, "restart") for i in range(150_000)]
    stream = list(with_resends(events))
    fed = threading.Event()
    errors: list[BaseException] = []

    def feed() -> None:
        """Events keep arriving at ~20k/s; across the outage the producer buffers and retries."""
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=20,
            batch_size=256 * 1024,
            delivery_timeout_ms=240_000,
            request_timeout_ms=10_000,
            max_block_ms=240_000,
            reconnect_backoff_max_ms=1000,
        )
        try:
            for i in range(0, len(stream), 5000):
                for e in stream[i : i + 5000]:
                    producer.send(topic, key=e["device_id"].encode(), value=json.dumps(e).encode())
                time.sleep(0.1)
            producer.flush(timeout=240)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            producer.close(timeout=10)
            fed.set()

    runner = PipelineRunner(alignmon, tmp_path, bootstrap, topic)
    proc, url = runner.start()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()

    def midway() -> int | None:
        n = ingested(url)
        return n if n is not None and 0 < n < len(events) // 2 else None

    wait_for(midway, timeout=120, what="the pipeline part-way through the stream")
    broker.stop()
    # Without its broker the pipeline keeps running: what it had already fetched commits (the batch in
    # the writer, the client's buffer), then nothing more while kafka-python reconnects.
    counts: list[int | None] = []

    def settled() -> int | None:  # the same count two seconds apart
        assert proc.poll() is None, runner.log(1)
        counts.append(ingested(url))
        return counts[-1] if len(counts) >= 3 and counts[-1] == counts[-3] else None

    down_at = wait_for(settled, 30, lambda: f"the count to settle with the broker down: {counts}", interval=1)
    assert down_at is not None and down_at < len(events)
    broker.start()
    wait_for(fed.is_set, timeout=300, what="the producer to deliver the whole stream")
    assert not errors, errors
    wait_for(lambda: ingested(url) == len(events), timeout=180, what="all events after the broker restart")
    assert proc.poll() is None
    stop_cleanly(proc)
    log = runner.log(1)
    assert "Traceback" not in log
    # kafka-python logs each reconnect attempt (tens a second, some with a traceback); the console script
    # lets one line a kind a minute through, so the outage reads in a few lines.
    library_lines = [line for line in log.splitlines() if " kafka." in line]
    assert 0 < len(library_lines) <= 40, "\n".join(library_lines)
    assert_exactly_once(runner.db, topic, bootstrap, events)


def test_offsets_lost_to_retention_are_reported_loudly(
    kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, drain: Any
) -> None:
    topic = f"retention.{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, {topic: 1, f"{topic}.dlq": 1})
    events = [synthetic(i, "retention") for i in range(60)]
    produce(kafka_bootstrap, topic, [json.dumps(e).encode() for e in events[:30]])
    store = Store(tmp_path / "r.duckdb")
    first = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq")
    assert drain(first, 30) == 30
    first.close()
    assert store.stored_offsets(topic) == {0: 30}

    # While the pipeline is down, 30 more arrive and retention deletes everything before offset 45:
    # records 30..44 were never read, and are gone.
    produce(kafka_bootstrap, topic, [json.dumps(e).encode() for e in events[30:]])
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.delete_records({TopicPartition(topic, 0): 45}, timeout_ms=10000)
    finally:
        admin.close()

    caplog.set_level(logging.INFO, logger="pipeline.consumer")
    second = Consumer(store, kafka_bootstrap, topic, f"{topic}.dlq")
    try:
        assert drain(second, 15) == 15
        # A few more polls: nothing else may arrive (no re-read after the retention seek).
        for _ in range(3):
            assert second.step() == 0
    finally:
        second.close()

    losses = [r for r in caplog.records if r.levelno == logging.ERROR and "DATA LOSS" in r.getMessage()]
    assert len(losses) == 1
    assert "stored offset 30" in losses[0].getMessage()
    assert "15 records were deleted" in losses[0].getMessage()
    assert second.stats.out_of_range == 1
    assert second.stats.duplicates == 0

    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(store.cursor, second.stats))
    assert registry.get_sample_value("alignmon_pipeline_offsets_out_of_range_total") == 1.0

    con = store.con
    stored = {r[0] for r in con.execute("SELECT event_id FROM events").fetchall()}
    assert stored == {e["event_id"] for e in events[:30] + events[45:]}
    assert store.stored_offsets(topic) == {0: 60}
    store.close()


POISON: list[bytes] = [
    b"{not json",
    b"",  # an empty value (e.g. a tombstone)
    b"\xff\xfe binary garbage",
    json.dumps({**synthetic(0, "poison"), "duration_s": -5}).encode(),
    json.dumps({**synthetic(0, "poison"), "unexpected": "field"}).encode(),
    json.dumps({**synthetic(0, "poison"), "kind": "launch", "duration_s": 30.0}).encode(),
    json.dumps({**synthetic(0, "poison"), "start": "2999-01-01T00:00:00+00:00"}).encode(),
    json.dumps({**synthetic(0, "poison"), "start": "2026-09-01T06:00:00"}).encode(),  # no UTC offset
    b"[]",  # a packed record with no event in it
]


def test_poison_messages_never_stall_the_stream(kafka_bootstrap: str, tmp_path: Path, drain: Any) -> None:
    topic = f"poison.{uuid.uuid4().hex[:8]}"
    dlq = f"{topic}.dlq"
    ensure_topics(kafka_bootstrap, {topic: 1, dlq: 1})
    good = [synthetic(i, "poison") for i in range(1, 2001)]
    # 150 invalid records first (the first batches hold nothing valid), then one every 10 valid ones.
    stream: list[bytes] = [POISON[i % len(POISON)] for i in range(150)]
    for i, e in enumerate(good):
        stream.append(json.dumps(e).encode())
        if i % 10 == 9:
            stream.append(POISON[i % len(POISON)])
    bad = [p for p in stream if p in POISON]
    assert len(bad) == 350
    produce(kafka_bootstrap, topic, stream, key=b"one-device")

    store = Store(tmp_path / "p.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, dlq, max_batch=100)
    try:
        assert drain(consumer, len(stream), max_steps=400) == len(stream)
    finally:
        consumer.close()
    con = store.con
    assert {r[0] for r in con.execute("SELECT event_id FROM events").fetchall()} == {e["event_id"] for e in good}
    rejected = con.execute("SELECT kafka_offset, reason, payload FROM rejected_events ORDER BY kafka_offset").fetchall()
    bad_offsets = [i for i, p in enumerate(stream) if p in POISON]
    assert [r[0] for r in rejected] == bad_offsets
    assert all(r[1] for r in rejected)
    for offset, reason, payload in rejected:
        raw = stream[offset]
        assert payload == raw.decode("utf-8", errors="backslashreplace")
        if raw == b"{not json":
            assert "Invalid JSON" in reason
        if b'"duration_s": -5' in raw:
            assert reason.startswith("duration_s:")
        if b"unexpected" in raw:
            assert reason.startswith("unexpected:")
    assert store.stored_offsets(topic) == {0: len(stream)}
    assert consumer.stats.rejected == 350
    store.close()

    dead = KafkaConsumer(dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000)
    letters = list(dead)
    dead.close()
    assert len(letters) == 350
    by_source = {dict(m.headers)["source"].decode(): m for m in letters}
    assert set(by_source) == {f"{topic}/0/{o}" for o in bad_offsets}
    for offset in bad_offsets:
        letter = by_source[f"{topic}/0/{offset}"]
        assert dict(letter.headers)["reason"]
        # The dead letter is the record as received, byte for byte, so it can be replayed after a fix.
        assert letter.value == stream[offset]


def test_bad_events_of_a_packed_record_are_dead_lettered_one_by_one(
    kafka_bootstrap: str, tmp_path: Path, drain: Any
) -> None:
    topic = f"packed.{uuid.uuid4().hex[:8]}"
    dlq = f"{topic}.dlq"
    ensure_topics(kafka_bootstrap, {topic: 1, dlq: 1})
    good1, good2 = synthetic(1, "packed"), synthetic(2, "packed")
    bad = {**synthetic(3, "packed"), "kind": "bogus"}
    produce(kafka_bootstrap, topic, [json.dumps([good1, bad, good2]).encode(), b"[]"], key=b"one-device")

    store = Store(tmp_path / "p.duckdb")
    consumer = Consumer(store, kafka_bootstrap, topic, dlq)
    try:
        assert drain(consumer, 4, max_steps=50) == 4  # 2 stored + 2 rejected (one event, one empty record)
    finally:
        consumer.close()
    con = store.con
    assert sorted(r[0] for r in con.execute("SELECT event_id FROM events").fetchall()) == ["packed-1", "packed-2"]
    rejected = con.execute(
        "SELECT kafka_offset, event_index, payload FROM rejected_events ORDER BY kafka_offset"
    ).fetchall()
    assert [(o, i) for o, i, _ in rejected] == [(0, 1), (1, None)]
    assert json.loads(rejected[0][2]) == bad
    assert store.stored_offsets(topic) == {0: 2}
    store.close()

    dead = KafkaConsumer(dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000)
    letters = {dict(m.headers)["source"].decode(): m.value for m in dead}
    dead.close()
    assert set(letters) == {f"{topic}/0/0#1", f"{topic}/0/1"}
    assert json.loads(letters[f"{topic}/0/0#1"]) == bad  # the bad event alone: replayable once fixed
    assert letters[f"{topic}/0/1"] == b"[]"
