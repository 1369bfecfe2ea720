"""Session fixtures: the real local stack (Kafka, Prometheus, Alertmanager), started once per run.

Integration tests use these; unit tests need nothing from here. The stack runs on free ports in a
temporary state directory, so a developer's running demo stack is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.process import free_port
from alignmon.stack.stack import Stack, StackConfig
from metrics.config import local_alertmanager_yaml, rule_files
from metrics.inbox import AlertInbox
from tests.support.wait import wait_until


class Ports:
    """Ports chosen once per run for the services that Prometheus scrapes and Alertmanager calls."""

    def __init__(self) -> None:
        self.exporter = free_port()
        self.gateway = free_port()
        self.webhook = free_port()


@pytest.fixture(scope="session")
def ports() -> Ports:
    return Ports()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, ports: Ports) -> Iterator[Stack]:
    """The real stack; Prometheus scrapes `ports.exporter` and `ports.gateway` every second."""
    state: Path = tmp_path_factory.mktemp("stack")
    config = StackConfig(
        state_dir=state,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        prometheus_port=free_port(),
        alertmanager_port=free_port(),
        scrape_targets={
            "alignmon-pipeline": [f"127.0.0.1:{ports.exporter}"],
            "alignmon-gateway": [f"127.0.0.1:{ports.gateway}"],
        },
        rule_files=[*rule_files(), *sorted(Path(__file__).parent.joinpath("metrics", "rules").glob("*.yml"))],
        alertmanager_yaml=local_alertmanager_yaml(f"http://127.0.0.1:{ports.webhook}/alerts"),
        scrape_interval_s=1.0,
        s3_port=free_port(),
    )
    stack = Stack(config)
    stack.up()
    yield stack
    stack.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: Stack) -> str:
    return stack.kafka_bootstrap


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    """A fresh 3-partition topic for one test, so tests never see each other's events."""
    name = f"test.{uuid.uuid4().hex[:12]}"
    ensure_topics(kafka_bootstrap, {name: 3})
    return name


@pytest.fixture(scope="session")
def alert_inbox(ports: Ports) -> Iterator[AlertInbox]:
    inbox = AlertInbox(port=ports.webhook)
    yield inbox
    inbox.close()


class Alignmon:
    """Runs `alignmon ...` as a real subprocess with ALIGNMON_* settings; stops it on teardown."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(
        self, args: list[str], env: dict[str, str], name: str, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "alignmon.cli", *args],
            env={**os.environ, **env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )
        self.procs.append((proc, log))
        return proc

    def run(self, args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alignmon.cli", *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=cwd,
        )

    def stop_all(self) -> None:
        for proc, _log in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                print(f"had to kill {proc.args}; log {log}")


@pytest.fixture
def alignmon(tmp_path: Path) -> Iterator[Alignmon]:
    runner = Alignmon(tmp_path)
    yield runner
    runner.stop_all()


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Any]:
    """`wait_for(check, timeout=60, what="...")`: tests.support.wait.wait_until, for tests that take it as a fixture."""
    return wait_until


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver's one background test server listens on IPv4 loopback, on a free port."""
    return "127.0.0.1", 0


def _read_topic(bootstrap: str, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record in the topic right now: all partitions up to their end offsets, in offset order."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = wait_until(lambda: consumer.partitions_for_topic(topic), timeout_s, f"partitions of {topic}", 0.1)
        parts = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        out: list[Any] = []

        def read_to_the_end() -> bool:
            if all(consumer.position(tp) >= end[tp] for tp in parts):
                return True
            for batch in consumer.poll(timeout_ms=500).values():  # the poll itself waits for records
                out.extend(batch)
            return False

        wait_until(read_to_the_end, timeout_s, lambda: f"the end of {topic} ({len(out)} records read)", interval=0)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def read_topic() -> Callable[..., list[Any]]:
    """`read_topic(bootstrap, topic)`: every record in the topic now, in offset order per partition."""
    return _read_topic


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a skipped test is a failure: every service and package a test needs is installed there."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be: {report.longrepr}"


# Property tests: in CI a fixed, bounded set of examples (the same on every run); locally, new ones.
settings.register_profile("ci", derandomize=True, max_examples=200, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
