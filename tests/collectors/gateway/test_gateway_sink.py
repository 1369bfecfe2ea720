"""One contract for both sinks: the in-memory stand-in used by unit tests and the real Kafka producer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from alignmon.stack.process import free_port
from collectors.sink import KafkaSink, MemorySink, Record, Sink

Kit = Any


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
def sink_and_reader(request: pytest.FixtureRequest, kit: Kit) -> Iterator[tuple[Sink, Callable[[], list[Record]]]]:
    if request.param == "memory":
        memory = MemorySink()
        yield memory, lambda: list(memory.records)
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    topic = request.getfixturevalue("topic")
    kafka = KafkaSink(bootstrap, topic)
    yield kafka, lambda: [Record(r.key, r.value) for r in kit.consume(bootstrap, topic)]
    kafka.close()


@pytest.fixture(params=["memory", "kafka"])
def unreachable_sink(request: pytest.FixtureRequest) -> Iterator[Sink]:
    if request.param == "memory":
        memory = MemorySink()
        memory.up = False
        yield memory
        return
    kafka = KafkaSink(f"127.0.0.1:{free_port()}", "nowhere", timeout_s=2.0)  # nothing listens there
    yield kafka
    kafka.close()


def test_send_acknowledges_everything_and_keeps_order_per_key(
    sink_and_reader: tuple[Sink, Callable[[], list[Record]]],
) -> None:
    sink, read = sink_and_reader
    records = [Record(f"dev-{i % 3}".encode(), json.dumps({"n": i}).encode()) for i in range(30)]
    assert sink.send(records) == 30
    assert sink.send([]) == 0
    assert sink.reachable() is True
    got = read()
    assert sorted(got) == sorted(records)
    for key in (b"dev-0", b"dev-1", b"dev-2"):
        assert [r for r in got if r.key == key] == [r for r in records if r.key == key]


def test_an_unreachable_destination_acknowledges_nothing_quickly(unreachable_sink: Sink) -> None:
    began = time.monotonic()
    assert unreachable_sink.send([Record(b"k", b"v")] * 5) == 0
    assert time.monotonic() - began < 10.0  # a few seconds, not Kafka's default two minutes
    assert unreachable_sink.reachable() is False
