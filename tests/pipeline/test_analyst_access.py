"""An analyst's read-only session on the published snapshot neither blocks nor breaks ingestion.

The pipeline runs as the real `alignmon pipeline` process and publishes its snapshot every second;
the analyst holds a transaction and a half-read result open on it while more events arrive.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from kafka import KafkaProducer

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.process import free_port

pytestmark = pytest.mark.integration

BASE = datetime(2026, 10, 1, 8, tzinfo=UTC)
# Events stored, as the analysts' database shows them (it holds no event row: those stay in the pipeline's file).
STORED = "SELECT coalesce(sum(events), 0)::BIGINT FROM ingest_totals"


def produce(bootstrap: str, topic: str, first: int, n: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024)
    for i in range(first, first + n):
        event: dict[str, Any] = {
            "event_id": f"analyst-{i}",
            "kind": "focus",
            "device_id": f"dev-{i % 30}",
            "user": f"u_{i % 45}",
            "app": ("excel.exe", "teams.exe", "sap.exe")[i % 3],
            "start": (BASE + timedelta(seconds=20 * i)).isoformat(),
            "duration_s": 120.0,
            "source": "analyst",
        }
        producer.send(topic, key=event["device_id"].encode(), value=json.dumps(event).encode())
    producer.flush(timeout=120)
    producer.close()


def count_in_new_process(snapshot: Path) -> int | None:
    """Events stored, from a new connection in another process (this one holds the analyst's copy: DuckDB would
    hand a second in-process connect the same open database instance)."""
    code = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        f"print(con.execute({STORED!r}).fetchone()[0])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(snapshot)], capture_output=True, text=True, timeout=60, check=False
    )
    return int(result.stdout) if result.returncode == 0 else None


def pipeline_env(kafka_bootstrap: str, topic: str, tmp_path: Path, port: int, interval_s: float) -> dict[str, str]:
    ensure_topics(kafka_bootstrap, {f"{topic}.dlq": 1})
    (tmp_path / "no-catalog").mkdir(exist_ok=True)
    return {
        "ALIGNMON_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_DLQ_TOPIC": f"{topic}.dlq",
        "ALIGNMON_DUCKDB_PATH": str(tmp_path / "pipeline.duckdb"),
        "ALIGNMON_SNAPSHOT_PATH": str(tmp_path / "snapshot.duckdb"),
        "ALIGNMON_SNAPSHOT_INTERVAL_S": str(interval_s),
        "ALIGNMON_EXPORTER_PORT": str(port),
        "ALIGNMON_CATALOG_DIR": str(tmp_path / "no-catalog"),
        "ALIGNMON_DEV_MODE": "1",
    }


def test_open_analyst_session_neither_blocks_nor_breaks_ingestion(
    alignmon: Any, kafka_bootstrap: str, topic: str, tmp_path: Path, wait_for: Callable[..., Any], ingested: Any
) -> None:
    port = free_port()
    env = pipeline_env(kafka_bootstrap, topic, tmp_path, port, interval_s=1)
    snapshot = tmp_path / "snapshot.duckdb"
    url = f"http://127.0.0.1:{port}/metrics"
    proc = alignmon.start(["pipeline"], env, "pipeline")
    produce(kafka_bootstrap, topic, 0, 20_000)
    wait_for(lambda: ingested(url) == 20_000, timeout=120, what="the first 20,000 events ingested")
    # The snapshot is published after a batch (see the idle test below), so it may hold fewer.
    wait_for(lambda: count_in_new_process(snapshot), timeout=60, what="a snapshot with events")

    # The analyst: an open transaction, and a long result read only in part. What it sees is counted on its own
    # connection: the pipeline may publish a newer copy between any other count and this open.
    analyst = duckdb.connect(str(snapshot), read_only=True)
    analyst.execute("BEGIN TRANSACTION")
    counted = analyst.execute(STORED).fetchone()
    assert counted is not None and 0 < counted[0] <= 20_000
    seen = counted[0]
    reader = analyst.cursor()
    # A long result (one row per stored event, each with the count read from the file), read only in part.
    reader.execute(f"SELECT i, ({STORED}) FROM range({seen}) r(i) ORDER BY i")
    first_rows = reader.fetchmany(500)
    assert len(first_rows) == 500

    produce(kafka_bootstrap, topic, 20_000, 20_000)
    # Ingestion goes on while the analyst holds the old snapshot open ...
    wait_for(lambda: ingested(url) == 40_000, timeout=120, what="the next 20,000 events ingested")
    # ... and the snapshot is republished under the analyst's feet: a new connection sees the new data.
    newer = wait_for(
        lambda: (n := count_in_new_process(snapshot)) is not None and n > 20_000 and n,
        timeout=60,
        what="a newer snapshot",
    )
    assert proc.poll() is None

    # The analyst's session still answers, from the copy it opened.
    assert analyst.execute(STORED).fetchone() == (seen,)
    rest = reader.fetchall()
    assert len(first_rows) + len(rest) == seen
    assert [r[0] for r in first_rows + rest] == list(range(seen))
    assert {r[1] for r in first_rows + rest} == {seen}
    analyst.execute("COMMIT")
    # The open connection keeps its file (the rename replaced the name, not the data it reads).
    assert analyst.execute(STORED).fetchone() == (seen,)
    reader.close()
    analyst.close()

    result = alignmon.run(["sql", f"{STORED} AS n"], env)
    assert result.returncode == 0, result.stderr
    counts = [int(w) for w in result.stdout.split() if w.isdigit()]
    assert counts and newer <= counts[0] <= 40_000
    log = (tmp_path / "pipeline.log").read_text(errors="replace")
    assert "Traceback" not in log
    assert not re.search(r"\block", log.lower())  # no DuckDB lock conflict ("blocking" is kafka-python's, under load)


def test_snapshot_catches_up_when_the_stream_goes_idle(
    alignmon: Any, kafka_bootstrap: str, topic: str, tmp_path: Path, wait_for: Callable[..., Any], ingested: Any
) -> None:
    port = free_port()
    env = pipeline_env(kafka_bootstrap, topic, tmp_path, port, interval_s=3)
    snapshot = tmp_path / "snapshot.duckdb"
    url = f"http://127.0.0.1:{port}/metrics"
    alignmon.start(["pipeline"], env, "pipeline")
    produce(kafka_bootstrap, topic, 0, 1000)
    wait_for(lambda: ingested(url) == 1000, timeout=120, what="1,000 events ingested")
    # One more event, a moment after the first snapshot: then nothing for several snapshot intervals.
    produce(kafka_bootstrap, topic, 1000, 1)
    wait_for(lambda: ingested(url) == 1001, timeout=60, what="the last event ingested")
    wait_for(lambda: count_in_new_process(snapshot) == 1001, timeout=12, what="the snapshot to hold every event")
