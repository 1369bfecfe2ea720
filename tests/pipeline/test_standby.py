"""A standby takes over: two real `alignmon pipeline` processes on one lake, the writer killed with SIGKILL.

Each process is its own "machine" (its own DuckDB file, analysts' database and exporter); they share Kafka and the
lake. The writer stores twenty simulated days and writes the closed ones to the lake; the standby waits without
touching anything. Every record is then sent again (an agent's spool resending) and the writer is killed while it
reads them. The standby takes the lease, rebuilds its file from the lake, reads Kafka from where the lake ends and
publishes the writer's figures value for value, with every event once.
"""

from __future__ import annotations

import csv
import json
import re
import signal
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from alignmon.stack.process import free_port
from metrics.scrape import total
from pipeline.lease import Lease
from pipeline.schema import ANALYST_VIEWS
from tests.pipeline.test_analyst_access import pipeline_env
from tests.pipeline.test_lake_rebuild import AS_OF, published

pytestmark = pytest.mark.integration

DAYS = 20
LATE = datetime.fromisoformat(AS_OF).replace(hour=10, tzinfo=UTC) - timedelta(days=6)  # a closed day
COMMIT = "alignmon_pipeline_last_commit_timestamp_seconds"
WRITER = "alignmon_pipeline_writer"


def resend_everything(bootstrap: str, topic: str) -> int:
    """Every record of the topic produced again to its partition, as a spool resends after a lost acknowledgement."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    end = consumer.end_offsets(partitions)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024)
    sent = 0
    while any(consumer.position(tp) < end[tp] for tp in partitions):
        for tp, records in consumer.poll(timeout_ms=1000).items():
            for r in records:
                if r.offset < end[tp]:
                    producer.send(topic, value=r.value, key=r.key, partition=tp.partition)
                    sent += 1
    producer.flush()
    producer.close()
    consumer.close()
    return sent


def logged(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


def test_a_standby_takes_over_from_a_killed_writer_with_nothing_lost_or_duplicated(
    alignmon: Any, kafka_bootstrap: str, topic: str, tmp_path: Path, wait_for: Callable[..., Any], ingested: Any
) -> None:
    def machine(name: str) -> tuple[dict[str, str], Path]:
        folder = tmp_path / name
        folder.mkdir()
        port = free_port()
        env = pipeline_env(kafka_bootstrap, topic, folder, port, 0.5) | {
            "ALIGNMON_AS_OF": AS_OF,
            "ALIGNMON_PSEUDONYM_SECRET": "standby-secret",
            "ALIGNMON_DEV_MODE": "0",
            "ALIGNMON_CATALOG_DIR": str(tmp_path / "sim"),
            "ALIGNMON_DIRECTORY_CSV": str(tmp_path / "sim" / "directory.csv"),
            "ALIGNMON_STATE_DIR": str(folder),
            "ALIGNMON_LAKE_URL": str(tmp_path / "lake"),
            "ALIGNMON_LAKE_INTERVAL_S": "1",
            "ALIGNMON_REFRESH_INTERVAL_S": "1",
            "ALIGNMON_STANDBY": "1",
            "ALIGNMON_LEASE_TIMEOUT_S": "6",
        }
        return env, folder

    (env_a, a), (env_b, b) = machine("a"), machine("b")
    args = ["simulate", "--seed", "7", "--scale", "0.1", "--days", str(DAYS), "--as-of", AS_OF]
    sent = alignmon.run([*args, "--out-dir", str(tmp_path / "sim"), "--pseudonymise", "--to-kafka"], env_a)
    assert sent.returncode == 0, sent.stderr
    events = int(re.findall(r"([\d,]+) events acknowledged", sent.stderr)[-1].replace(",", ""))
    manifests = tmp_path / "lake" / "_manifests"

    writer = alignmon.start(["pipeline"], env_a, "pipeline-a")
    wait_for(lambda: logged(alignmon.tmp / "pipeline-a.log", "this pipeline writes"), timeout=60, what="a's lease")
    standby = alignmon.start(["pipeline"], env_b, "pipeline-b")
    last_closed = manifests / f"day={date.fromisoformat(AS_OF) - timedelta(days=3)}.json"
    wait_for(last_closed.exists, timeout=180, what="the lake")
    before = wait_for(lambda: published(a / "snapshot.duckdb", events), timeout=120, what="a's analysts' database")
    assert logged(alignmon.tmp / "pipeline-b.log", "standby: waiting for the writers' lease")
    assert not logged(alignmon.tmp / "pipeline-b.log", "this pipeline writes")
    assert not (b / "pipeline.duckdb").exists()  # a waiting standby holds nothing and writes nothing
    metrics_b = f"http://127.0.0.1:{env_b['ALIGNMON_EXPORTER_PORT']}/metrics"
    assert total(metrics_b, WRITER) == 0  # scraped as up, and as not writing

    metrics = f"http://127.0.0.1:{env_a['ALIGNMON_EXPORTER_PORT']}/metrics"
    assert total(metrics, WRITER) == 1
    committed = total(metrics, COMMIT)
    assert resend_everything(kafka_bootstrap, topic) > 0  # records (agents pack many events in one)
    # Killed once it has committed a batch of the resent records: mid-stream, with its file ahead of the lake.
    wait_for(lambda: (total(metrics, COMMIT) or 0) > (committed or 0), timeout=60, what="a reading the resent records")
    writer.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    writer.wait(timeout=10)

    wait_for(lambda: logged(alignmon.tmp / "pipeline-b.log", "this pipeline writes"), timeout=60, what="takeover")
    leased = time.monotonic() - killed
    wait_for(lambda: total(metrics_b, WRITER) == 1, timeout=30, what="b's exporter as the writer")
    after = wait_for(lambda: published(b / "snapshot.duckdb", events), timeout=180, what="b's analysts' database")
    caught_up = time.monotonic() - killed
    print(f"takeover: lease after {leased:.1f} s, same figures published after {caught_up:.1f} s")
    for view in ANALYST_VIEWS:
        assert after[view] == before[view], view
    assert sum(len(rows) for rows in before.values()) > 300
    closed = len(list(manifests.iterdir()))  # from the first day with telemetry (a Monday) to the last closed one
    assert logged(alignmon.tmp / "pipeline-b.log", f"rebuilt from the lake: {closed} closed days")

    # b writes the lake: a late event amends a closed day, so a's file is now behind the lake.
    amended = manifests / f"day={LATE.date()}.json"
    written_by_a = amended.read_bytes()
    send_late_event(kafka_bootstrap, topic, tmp_path / "sim" / "directory.csv")
    wait_for(lambda: amended.read_bytes() != written_by_a, timeout=60, what="b amending the late day")
    latest = wait_for(lambda: published(b / "snapshot.duckdb", events + 1), timeout=120, what="b's later figures")

    # The killed machine comes back as the standby: it waits while b writes and takes over when b stops, deleting
    # its own file (the lake is ahead of it) and rebuilding from the lake.
    again = alignmon.start(["pipeline"], env_a, "pipeline-a-again")
    wait_for(lambda: logged(alignmon.tmp / "pipeline-a-again.log", "standby: waiting"), timeout=60, what="a waiting")
    standby.send_signal(signal.SIGTERM)
    assert standby.wait(timeout=60) == 0
    wait_for(lambda: logged(alignmon.tmp / "pipeline-a-again.log", "this pipeline writes"), timeout=30, what="a again")
    (a / "snapshot.duckdb").unlink()
    final = wait_for(lambda: published(a / "snapshot.duckdb", events + 1), timeout=120, what="a's figures again")
    assert logged(alignmon.tmp / "pipeline-a-again.log", "is deleted and rebuilt from the lake")
    assert not [p.name for p in a.iterdir() if "superseded" in p.name]  # no copy of the old file is kept
    for view in ANALYST_VIEWS:
        assert final[view] == latest[view], view

    # A writer that stalls past the timeout (a pause, a hung disk) finds on waking that b holds the lease: it stops
    # writing and waits as the standby.
    standby = alignmon.start(["pipeline"], env_b, "pipeline-b-again")
    wait_for(lambda: logged(alignmon.tmp / "pipeline-b-again.log", "standby: waiting"), timeout=60, what="b waiting")
    again.send_signal(signal.SIGSTOP)
    wait_for(lambda: logged(alignmon.tmp / "pipeline-b-again.log", "this pipeline writes"), timeout=60, what="b")
    again.send_signal(signal.SIGCONT)
    wait_for(lambda: logged(alignmon.tmp / "pipeline-a-again.log", "lost the writers' lease"), timeout=60, what="a")
    wait_for(lambda: total(metrics, WRITER) == 0, timeout=30, what="a's exporter as a standby")
    for proc in (standby, again):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def send_late_event(bootstrap: str, topic: str, directory: Path) -> None:
    """One new event of a closed day, for a person of the directory."""
    with directory.open() as f:
        user = next(csv.DictReader(f))["user"]
    event = {"event_id": "late-1", "kind": "focus", "device_id": "d_late", "user": user, "app": "excel.exe",
             "start": LATE.isoformat(), "duration_s": 600.0, "source": "agent"}  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(topic, key=b"d_late", value=json.dumps(event).encode())
    producer.flush()
    producer.close()


def test_a_pipeline_that_cannot_start_as_the_writer_leaves_the_lease(
    alignmon: Any, kafka_bootstrap: str, topic: str, tmp_path: Path, wait_for: Callable[..., Any]
) -> None:
    """A machine that takes the lease but cannot start (its lake unreachable from there) leaves it at once, so a
    healthy standby writes instead, and asks for it again after a backoff."""
    env = pipeline_env(kafka_bootstrap, topic, tmp_path, free_port(), 1.0) | {
        "ALIGNMON_STATE_DIR": str(tmp_path),
        "ALIGNMON_STANDBY": "1",
        "ALIGNMON_LEASE_TIMEOUT_S": "6",
        "ALIGNMON_LAKE_URL": "s3://alignmon/lake",
        "ALIGNMON_LAKE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "ALIGNMON_LAKE_S3_ACCESS_KEY": "a",
        "ALIGNMON_LAKE_S3_SECRET_KEY": "b",
    }
    broken = alignmon.start(["pipeline"], env, "pipeline-broken")
    log = alignmon.tmp / "pipeline-broken.log"
    wait_for(lambda: logged(log, "cannot start as the writer, leaving the lease"), timeout=90, what="the lease left")
    healthy = Lease(kafka_bootstrap, f"{topic}.pipeline-lease", f"{topic}.pipeline-writers", 6)
    try:
        wait_for(healthy.held, timeout=60, what="the healthy member's lease")
        assert not (tmp_path / "pipeline.duckdb").exists()  # the failed start left no file behind
    finally:
        healthy.close()
    broken.send_signal(signal.SIGTERM)
    assert broken.wait(timeout=60) == 0
