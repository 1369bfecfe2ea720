"""Session fixtures: the real local stack (Kafka, Prometheus, Alertmanager), started once per run.

Integration tests use these; unit tests need nothing from here. The stack runs on free ports in a
temporary state directory, so a developer's running demo stack is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.process import free_port
from alignmon.stack.stack import Stack, StackConfig
from metrics.config import local_alertmanager_yaml, rule_files


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
