"""Two alignmon installations side by side on one machine, told apart by ALIGNMON_STATE_DIR and the ports alone.

Each runs its own stack (Kafka, Prometheus, Alertmanager), gateway and pipeline from an empty working directory with
no path, bootstrap or webhook setting: everything derives from the state directory and the ports (base/settings.py).
Neither sees the other's events, alerts or files, and nothing is written to the working directory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from alignmon.stack.process import free_port
from metrics.inbox import AlertInbox
from metrics.scrape import total

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PORTS = ("kafka", "kafka_controller", "prometheus", "alertmanager", "alert_webhook", "gateway", "exporter")


class Installation:
    """One installation's settings: a state directory and its own ports, nothing else."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.state = tmp / name
        self.port = {p: free_port() for p in PORTS}
        self.env = {
            "ALIGNMON_STATE_DIR": str(self.state),
            **{f"ALIGNMON_{p.upper()}_PORT": str(n) for p, n in self.port.items()},
            "ALIGNMON_DEV_MODE": "1",
            "ALIGNMON_CATALOG_DIR": str(ROOT / "catalog" / "example"),
            "ALIGNMON_REFRESH_INTERVAL_S": "1",
            "ALIGNMON_SCRAPE_INTERVAL_S": "1",
        }

    @property
    def metrics(self) -> str:
        return f"http://127.0.0.1:{self.port['exporter']}/metrics"


@pytest.fixture
def installations(
    tmp_path: Path, alignmon: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Installation, Installation]]:
    for name in [k for k in os.environ if k.startswith("ALIGNMON_")]:
        monkeypatch.delenv(name)  # the test run's own settings (CI may set some) must not leak into the commands
    a, b = Installation("a", tmp_path), Installation("b", tmp_path)
    yield a, b
    for inst in (a, b):
        alignmon.run(["stack", "down"], inst.env)


def events(who: str, n: int) -> list[dict[str, Any]]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return [
        {
            "event_id": f"{who}-{i}",
            "kind": "focus",
            "device_id": f"dev-{who}",
            "user": f"user-{who}",
            "app": "excel.exe",
            "start": (start + timedelta(minutes=i)).isoformat(),
            "duration_s": 30.0,
            "source": f"isolation-{who}",
        }
        for i in range(n)
    ]


def topic_ids(bootstrap: str, topic: str = "alignmon.usage") -> set[str]:
    """The event ids in every record of the topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        end = consumer.end_offsets(partitions)
        ids: set[str] = set()
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                for r in records:
                    text = r.value.decode()
                    ids.update(i for i in ("a-", "b-") if f'"{i}' in text)
        return ids
    finally:
        consumer.close()


def test_two_installations_side_by_side_share_nothing(
    installations: tuple[Installation, Installation], alignmon: Any, tmp_path: Path, wait_for: Callable[..., Any]
) -> None:
    work = tmp_path / "work"  # the working directory of every command: nothing may land here
    work.mkdir()
    inboxes = {}
    counts = {"a": 3, "b": 5}
    try:
        for inst in installations:
            inboxes[inst.name] = AlertInbox(port=inst.port["alert_webhook"])
            up = alignmon.run(["stack", "up"], inst.env, cwd=work)
            assert up.returncode == 0, up.stderr
            issued = alignmon.run(["tokens", "issue", f"dev-{inst.name}"], inst.env, cwd=work)
            assert issued.returncode == 0, issued.stderr
            token = issued.stdout.split()[0]
            alignmon.start(["gateway"], inst.env, f"gateway-{inst.name}", cwd=work)
            alignmon.start(["pipeline"], inst.env, f"pipeline-{inst.name}", cwd=work)
            url = f"http://127.0.0.1:{inst.port['gateway']}/v1/events"

            def accepted(url: str = url, token: str = token, who: str = inst.name) -> bool:
                try:
                    headers = {"Authorization": f"Bearer {token}"}
                    return httpx.post(url, json=events(who, counts[who]), headers=headers).status_code == 202
                except httpx.TransportError:
                    return False  # not listening yet

            wait_for(accepted, timeout=60, what=f"{inst.name}'s gateway")

        for inst in installations:
            other = "b" if inst.name == "a" else "a"
            # Kafka: each broker holds its own installation's events only.
            assert topic_ids(f"127.0.0.1:{inst.port['kafka']}") == {f"{inst.name}-"}
            # The pipeline: each counts its own events only.
            wait_for(lambda i=inst: total(i.metrics, "alignmon_events_ingested_total") == counts[i.name],
                     timeout=90, what=f"{inst.name}'s pipeline")  # fmt: skip
            assert total(inst.metrics, "alignmon_events_ingested_total") == counts[inst.name]
            # Prometheus scrapes its own installation's exporter and gateway.
            prometheus = f"http://127.0.0.1:{inst.port['prometheus']}/api/v1/query"

            def scraped(p: str = prometheus, name: str = inst.name) -> bool:
                result = httpx.get(p, params={"query": "max by (job) (up)"}).json()["data"]["result"]
                jobs = {r["metric"]["job"] for r in result if r["value"][1] == "1"}
                return {"alignmon-pipeline", "alignmon-gateway"} <= jobs

            wait_for(scraped, timeout=60, what=f"{inst.name}'s Prometheus scraping its services")
            # Alerts: one sent to this Alertmanager reaches this installation's webhook only.
            alert = [{"labels": {"alertname": f"Isolation-{inst.name}-{uuid.uuid4().hex[:6]}", "team": "itops"}}]
            assert httpx.post(f"http://127.0.0.1:{inst.port['alertmanager']}/api/v2/alerts", json=alert).is_success
            name = alert[0]["labels"]["alertname"]
            wait_for(lambda n=name, i=inst: inboxes[i.name].alerts(n), timeout=60, what=f"{name} delivered")
            assert not inboxes[other].alerts(name)
            # Files: every state file under its own state directory.
            for path in (
                "tokens.sqlite",
                "spool",
                "alignmon.duckdb",
                "alignmon-snapshot.duckdb",
                "kafka",
                "prometheus",
            ):
                assert (inst.state / path).exists(), path
        for name, inbox in inboxes.items():
            assert {a["labels"]["alertname"].split("-")[1] for a in inbox.alerts()} == {name}
        assert list(work.iterdir()) == []
    finally:
        alignmon.stop_all()
        for inbox in inboxes.values():
            inbox.close()
