"""`alignmon pipeline` as a service: /healthz and /readyz on its exporter port, and its stop on SIGTERM or SIGINT,
with real processes and a real Kafka broker (one of the test's own where the test stops it)."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.process import Service, free_port
from alignmon.stack.stack import Stack, StackConfig
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


def pipeline_env(bootstrap: str, topic: str, folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "no-catalog").mkdir(exist_ok=True)
    ensure_topics(bootstrap, {topic: 3, f"{topic}.dlq": 1})
    return {
        "ALIGNMON_KAFKA_BOOTSTRAP": bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_DLQ_TOPIC": f"{topic}.dlq",
        "ALIGNMON_STATE_DIR": str(folder),
        "ALIGNMON_DUCKDB_PATH": str(folder / "pipeline.duckdb"),
        "ALIGNMON_SNAPSHOT_PATH": str(folder / "snapshot.duckdb"),
        "ALIGNMON_EXPORTER_PORT": str(free_port()),
        "ALIGNMON_CATALOG_DIR": str(folder / "no-catalog"),
        "ALIGNMON_REFRESH_INTERVAL_S": "1",
        "ALIGNMON_SNAPSHOT_INTERVAL_S": "1",
        "ALIGNMON_DEV_MODE": "1",
    }


def produce(bootstrap: str, topic: str, count: int) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    for i in range(count):
        event = {
            "event_id": f"probe-{i}",
            "kind": "focus",
            "device_id": f"dev-{i % 7}",
            "user": f"u_{i % 11}",
            "app": "code.exe",
            "start": (start + timedelta(seconds=i)).isoformat(),
            "duration_s": 30.0,
            "source": "probe-test",
        }
        producer.send(topic, key=event["device_id"].encode(), value=json.dumps(event).encode())
    producer.flush(timeout=60)
    producer.close()


def probe(env: dict[str, str], path: str) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{env['ALIGNMON_EXPORTER_PORT']}{path}", timeout=5)
    except httpx.HTTPError:
        return None


def answered(env: dict[str, str], path: str, status: int, proc: subprocess.Popen[bytes], log: Path) -> Any:
    """Wait until `path` answers `status`; its JSON body."""

    def check() -> Any:
        assert proc.poll() is None, log.read_text(errors="replace")
        answer = probe(env, path)
        return answer.json() if answer is not None and answer.status_code == status else None

    def awaited() -> str:
        last = probe(env, path)
        return f"{path} to answer {status}; last: {None if last is None else (last.status_code, last.text)}"

    return wait_until(check, 120, awaited, interval=0.5)


def stopped_cleanly(proc: subprocess.Popen[bytes], log: Path, sig: signal.Signals = signal.SIGTERM) -> str:
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == 0, log.read_text(errors="replace")
    text = log.read_text(errors="replace")
    assert "INFO alignmon.process: stopping" in text, text
    assert "INFO alignmon.process: pipeline stopped cleanly" in text, text
    assert "Traceback" not in text, text
    return text


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[str, Service]]:
    """A broker of this test alone, so stopping it does not disturb the session's."""
    stack = Stack(StackConfig(state_dir=tmp_path / "broker", kafka_port=free_port(), kafka_controller_port=free_port()))
    broker = stack.kafka()
    broker.start()
    yield stack.kafka_bootstrap, broker
    broker.stop()


def test_the_pipeline_is_ready_while_it_consumes_and_not_while_its_broker_is_away(
    alignmon: Any, own_broker: tuple[str, Service], tmp_path: Path
) -> None:
    bootstrap, broker = own_broker
    topic = f"probes.{uuid.uuid4().hex[:8]}"
    env = pipeline_env(bootstrap, topic, tmp_path / "pipeline")
    proc = alignmon.start(["pipeline"], env, "pipeline")
    log = tmp_path / "pipeline.log"

    # Nothing to read yet: an idle pipeline with zero lag is ready, however long ago (never) it committed.
    idle = answered(env, "/readyz", 200, proc, log)
    assert idle["role"] == "writer" and idle["partitions"] == 3 and idle["lag_records"] == 0
    assert idle["reasons"] == []
    assert answered(env, "/healthz", 200, proc, log)["status"] == "ok"

    produce(bootstrap, topic, 3000)
    consumed = wait_until(
        lambda: (r := probe(env, "/readyz")) is not None and r.json()["commit_age_s"] is not None and r.json(),
        120,
        "a committed batch",
    )
    assert consumed["ready"] is True
    done = wait_until(lambda: (r := probe(env, "/readyz")) and r.json()["lag_records"] == 0 and r, 120, "lag 0")
    assert done.status_code == 200

    broker.stop()
    away = answered(env, "/readyz", 503, proc, log)
    assert any(reason.startswith("consumer lag not known") for reason in away["reasons"]), away
    health = probe(env, "/healthz")  # alive all the same: the broker is away, not the process
    assert health is not None and health.status_code == 200 and health.json()["status"] == "ok"

    broker.start()
    back = answered(env, "/readyz", 200, proc, log)
    assert back["ready"] is True
    # Then it reads what is left: on a loaded machine the last batches may not have been stored when the broker went.
    wait_until(lambda: (r := probe(env, "/readyz")) and r.json()["lag_records"] == 0 and r, 120, "lag 0 again")
    stopped_cleanly(proc, log)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_signal_stops_the_pipeline_with_exit_0_and_says_so(
    alignmon: Any, kafka_bootstrap: str, tmp_path: Path, sig: signal.Signals
) -> None:
    topic = f"stop.{uuid.uuid4().hex[:8]}"
    env = pipeline_env(kafka_bootstrap, topic, tmp_path / "pipeline")
    produce(kafka_bootstrap, topic, 500)
    proc = alignmon.start(["pipeline"], env, "pipeline")
    log = tmp_path / "pipeline.log"
    wait_until(
        lambda: (r := probe(env, "/readyz")) is not None and r.status_code == 200 and r.json()["lag_records"] == 0,
        120,
        "the pipeline ready with every record read",
    )
    stopped_cleanly(proc, log, sig)


def test_a_waiting_standby_is_healthy_but_not_ready_until_it_holds_the_lease(
    alignmon: Any, kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"standby.{uuid.uuid4().hex[:8]}"
    shared = {
        "ALIGNMON_STANDBY": "1",
        "ALIGNMON_LAKE_URL": str(tmp_path / "lake"),
        "ALIGNMON_LEASE_TIMEOUT_S": "6",
    }
    env_a = pipeline_env(kafka_bootstrap, topic, tmp_path / "a") | shared
    env_b = pipeline_env(kafka_bootstrap, topic, tmp_path / "b") | shared
    log_a, log_b = tmp_path / "pipeline-a.log", tmp_path / "pipeline-b.log"
    writer = alignmon.start(["pipeline"], env_a, "pipeline-a")
    wait_until(lambda: "this pipeline writes" in log_a.read_text(errors="replace"), 120, "a holding the lease")
    assert answered(env_a, "/readyz", 200, writer, log_a)["role"] == "writer"

    standby = alignmon.start(["pipeline"], env_b, "pipeline-b")
    wait_until(lambda: "standby: waiting" in log_b.read_text(errors="replace"), 120, "b waiting for the lease")
    assert answered(env_b, "/healthz", 200, standby, log_b) == {"status": "ok", "role": "standby"}
    waiting = answered(env_b, "/readyz", 503, standby, log_b)
    assert waiting == {
        "ready": False,
        "role": "standby",
        "reasons": ["standby: waiting for the writers' lease (another pipeline writes)"],
    }

    stopped_cleanly(writer, log_a)  # it leaves the group: b takes the lease at once
    took_over = answered(env_b, "/readyz", 200, standby, log_b)
    assert took_over["role"] == "writer"

    # a comes back as the standby, and stops while it waits.
    log_again = tmp_path / "pipeline-a-again.log"
    again = alignmon.start(["pipeline"], env_a, "pipeline-a-again")
    wait_until(lambda: "standby: waiting" in log_again.read_text(errors="replace"), 120, "a waiting for the lease")
    assert answered(env_a, "/readyz", 503, again, log_again)["role"] == "standby"
    stopped_cleanly(again, log_again)
    stopped_cleanly(standby, log_b)
