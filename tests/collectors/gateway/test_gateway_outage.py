"""Nothing answered 202 is lost: Kafka outages and gateway restarts, on a broker of this module's own.

The broker is stopped and started here, so it is not the session's shared one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.process import Service, free_port
from alignmon.stack.stack import Stack, StackConfig
from base.settings import Settings
from collectors.record import events_of
from collectors.sink import KafkaSink

pytestmark = pytest.mark.integration

Gateway = Any
Kit = Any
DEVICES = ("laptop-1", "laptop-2")


def now() -> datetime:
    return datetime.now(UTC)


class OwnKafka:
    def __init__(self, state: Path) -> None:
        self.stack = Stack(StackConfig(state_dir=state, kafka_port=free_port(), kafka_controller_port=free_port()))
        self.service: Service = self.stack.kafka()
        self.bootstrap = self.stack.kafka_bootstrap

    def up(self) -> None:
        self.service.start()

    def down(self) -> None:
        self.service.stop()


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnKafka]:
    kafka = OwnKafka(tmp_path_factory.mktemp("own-kafka"))
    kafka.up()
    yield kafka
    kafka.down()


class Sender:
    """Posts batches for several devices and remembers, per device, the ids answered with 202."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.accepted: dict[str, list[str]] = {d: [] for d in DEVICES}
        self.seq = 0

    def send(self, gw: Gateway, tokens: dict[str, str], batches: int, size: int = 25) -> None:
        for _ in range(batches):
            for device in DEVICES:
                ids = [f"{device}-{self.seq + i}" for i in range(size)]
                self.seq += size
                events = [self.kit.event(0, device=device, user="Alice Example", now=now(), event_id=i) for i in ids]
                response = gw.post_events(events, token=tokens[device])
                assert response.status_code == 202, response.text
                assert response.json() == {"accepted": size, "rejected": 0, "errors": []}
                self.accepted[device].extend(ids)

    def check_topic(self, bootstrap: str, topic: str) -> None:
        """Every accepted event is in the topic exactly once, and each device's events are in order."""
        records = self.kit.consume(bootstrap, topic)
        by_device: dict[str, list[str]] = {d: [] for d in DEVICES}
        device_of = {self.kit.device(d).decode(): d for d in DEVICES}  # pseudonym -> device
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            events = events_of(record.value)
            assert {e["device_id"] for e in events} == {record.key.decode()}  # a record holds one device
            by_device[device_of[record.key.decode()]].extend(e["event_id"] for e in events)
        for device in DEVICES:
            assert by_device[device] == self.accepted[device]
        assert sum(len(ids) for ids in by_device.values()) == sum(len(ids) for ids in self.accepted.values())


def start_gateway(
    make_gateway: Callable[..., Gateway], settings: Settings, kafka: OwnKafka, topic: str
) -> tuple[Gateway, dict[str, str]]:
    wired = settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap, "topic": topic})
    sink = KafkaSink(kafka.bootstrap, topic, timeout_s=3.0)
    gw = make_gateway(wired, sink=sink, clock=now, replay_backoff_s=0.2)
    tokens = {DEVICES[0]: gw.token, DEVICES[1]: gw.service.tokens.issue(DEVICES[1])}
    return gw, tokens


def test_events_sent_during_an_outage_arrive_once_and_in_order(
    own_kafka: OwnKafka, settings: Settings, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    own_kafka.up()
    topic = "outage.events"
    ensure_topics(own_kafka.bootstrap, {topic: 3})
    gw, tokens = start_gateway(make_gateway, settings, own_kafka, topic)
    sender = Sender(kit)

    sender.send(gw, tokens, batches=2)  # Kafka up: straight through
    assert gw.service.spool.depth == 0

    own_kafka.down()
    sender.send(gw, tokens, batches=4)  # Kafka down: 202 from the spool
    assert gw.service.spool.depth == 4 * 2 * 25
    health = gw.client.get("/healthz").json()
    assert health == {
        "status": "degraded",
        "kafka": {"reachable": False, "refused": None},
        "spool": {"depth": 200, "commit_error": None},
    }

    own_kafka.up()
    sender.send(gw, tokens, batches=2)  # while the spool drains: these queue behind it
    kit.wait_for(lambda: gw.service.spool.depth == 0, timeout_s=90, what="the spool to drain")
    sender.send(gw, tokens, batches=2)  # drained: straight through again

    sender.check_topic(own_kafka.bootstrap, topic)
    metrics = gw.client.get("/metrics").text
    assert "alignmon_gateway_events_accepted_total 500.0" in metrics
    assert "alignmon_gateway_events_spooled_total" in metrics and "alignmon_gateway_spool_events 0.0" in metrics


def test_a_gateway_restart_replays_what_it_spooled(
    own_kafka: OwnKafka, settings: Settings, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    own_kafka.up()
    topic = "restart.events"
    ensure_topics(own_kafka.bootstrap, {topic: 3})
    own_kafka.down()

    first, tokens = start_gateway(make_gateway, settings, own_kafka, topic)
    sender = Sender(kit)
    sender.send(first, tokens, batches=3)
    assert first.service.spool.depth == 3 * 2 * 25
    first.stop()  # the gateway goes away with Kafka still down: only the disk holds these events

    own_kafka.up()
    second, _ = start_gateway(make_gateway, settings, own_kafka, topic)
    kit.wait_for(lambda: second.service.spool.depth == 0, timeout_s=90, what="the replay at start")
    sender.check_topic(own_kafka.bootstrap, topic)
