"""The gateway end to end on a real Kafka broker: what reaches the topic, and what never does."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from base.settings import Settings
from collectors.record import events_of

pytestmark = pytest.mark.integration

Gateway = Any
Kit = Any


def now() -> datetime:
    return datetime.now(UTC)


def test_accepted_events_reach_kafka_pseudonymised_without_titles(
    settings: Settings, kafka_bootstrap: str, topic: str, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    from collectors.sink import KafkaSink

    wired = settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap, "topic": topic})
    gw = make_gateway(wired, sink=KafkaSink(kafka_bootstrap, topic), clock=now)
    users = ["Alice Example", "bob.smith@corp.example", "Zoë Ålander"]
    events = [kit.event(i, user=users[i % 3], now=now()) for i in range(12)]
    bad = kit.event(50, now=now(), event_id="bad-one")
    bad["duration_s"] = -1
    body = kit.gz(kit.ndjson([*events[:6], bad, *events[6:]]))
    response = gw.post(body, headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 12,
        "rejected": 1,
        "errors": [{"index": 6, "field": "duration_s", "message": "Input should be greater than or equal to 0"}],
    }

    got = kit.consume(kafka_bootstrap, topic)
    assert len(got) == 1  # one request of one device: its 12 accepted events packed into one record
    assert {r.key for r in got} == {kit.device("laptop-1")}  # the host name is pseudonymised too
    values = [e for r in sorted(got, key=lambda r: r.offset) for e in events_of(r.value)]
    assert [v["event_id"] for v in values] == [f"laptop-1-{i}" for i in range(12)]
    assert [v["user"] for v in values] == [kit.pseudonym(users[i % 3]) for i in range(12)]
    raw = b"".join(r.value + (r.key or b"") for r in got)
    for name in ("Alice", "alice", "bob.smith", "Zo\u00eb".encode().decode(), "lander", "secret-plan"):
        assert name.encode() not in raw
    assert all("title" not in v for v in values)


def test_titles_reach_kafka_only_when_enabled(
    settings: Settings, kafka_bootstrap: str, topic: str, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    from collectors.sink import KafkaSink

    wired = settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap, "topic": topic, "titles_enabled": True})
    gw = make_gateway(wired, sink=KafkaSink(kafka_bootstrap, topic), clock=now)
    assert gw.post_events([kit.event(3, now=now())]).status_code == 202
    (record,) = kit.consume(kafka_bootstrap, topic)
    assert json.loads(record.value)["title"] == "secret-plan-3.docx"  # a lone event stays a plain object


def test_departments_from_the_directory_reach_kafka(
    settings: Settings,
    kafka_bootstrap: str,
    topic: str,
    make_gateway: Callable[..., Gateway],
    kit: Kit,
    tmp_path: Path,
) -> None:
    from collectors.sink import KafkaSink

    csv = tmp_path / "people.csv"
    csv.write_text("user,department\nAlice Example,Finance\n")
    wired = settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap, "topic": topic, "directory_csv": csv})
    gw = make_gateway(wired, sink=KafkaSink(kafka_bootstrap, topic), clock=now)
    gw.post_events([kit.event(0, now=now()), kit.event(1, user="Mallory", now=now())])
    got = kit.consume(kafka_bootstrap, topic)
    values = sorted((e for r in got for e in events_of(r.value)), key=lambda v: v["event_id"])
    assert [(v["user"], v.get("department")) for v in values] == [
        (kit.pseudonym("Alice Example"), "Finance"),
        (kit.pseudonym("Mallory"), None),
    ]


def test_health_and_metrics_with_kafka_up(
    settings: Settings, kafka_bootstrap: str, topic: str, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    from collectors.sink import KafkaSink

    wired = settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap, "topic": topic})
    gw = make_gateway(wired, sink=KafkaSink(kafka_bootstrap, topic), clock=now)
    assert gw.client.get("/healthz").json() == {
        "status": "ok",
        "kafka": {"reachable": True, "refused": None},
        "spool": {"depth": 0, "commit_error": None},
    }
    gw.post_events([kit.event(i, now=now()) for i in range(5)])
    text = gw.client.get("/metrics").text
    assert "alignmon_gateway_events_accepted_total 5.0" in text
    assert "alignmon_gateway_kafka_up 1.0" in text
    assert "alignmon_gateway_events_spooled_total 0.0" in text
