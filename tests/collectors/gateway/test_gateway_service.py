"""The service without HTTP: durable delivery through the spool, replay order, health, metrics, keys."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from base.errors import AlignmonError
from base.pseudonym import DEV_KEY
from base.settings import Settings
from collectors.gateway.service import KAFKA_PROBE_S, GatewayService, KafkaUnavailableError
from collectors.record import Record, events_of
from collectors.sink import MemorySink

Gateway = Any
Kit = Any


def events(*ids: str, device: str = "d1") -> list[Record]:
    """One-event records (device key, event JSON): what `deliver` takes."""
    return [Record(device.encode(), json.dumps({"event_id": i}).encode()) for i in ids]


def ids(sink: MemorySink) -> list[str]:
    return [e["event_id"] for r in sink.records for e in events_of(r.value)]


def shape(sink: MemorySink) -> list[tuple[bytes, list[str]]]:
    """Each record the sink got: its key and the ids of the events packed in it."""
    return [(r.key, [e["event_id"] for e in events_of(r.value)]) for r in sink.records]


def metric(svc: GatewayService, name: str) -> float:
    for line in svc.metrics.exposition().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


def service(settings: Settings, sink: MemorySink) -> GatewayService:
    return GatewayService.from_settings(settings, sink=sink)


def test_events_go_to_the_spool_while_kafka_is_away_and_replay_in_order(settings: Settings) -> None:
    sink = MemorySink()
    svc = service(settings, sink)
    try:
        sink.up = False
        svc.deliver(events("a", "b"))
        assert sink.records == [] and svc.spool.depth == 2
        sink.up = True
        svc.deliver(events("c"))  # Kafka is back, but the spool is not empty: c must queue behind a, b
        assert sink.records == [] and svc.spool.depth == 3
        assert svc.replay_once() == 3
        assert shape(sink) == [(b"d1", ["a", "b", "c"])] and svc.spool.depth == 0  # replay packs them again
        svc.deliver(events("d"))  # spool empty again: straight to Kafka
        assert ids(sink) == ["a", "b", "c", "d"] and svc.spool.depth == 0
    finally:
        svc.stop()


def test_a_partly_acknowledged_send_spools_only_the_events_of_the_rest(settings: Settings) -> None:
    sink = MemorySink()
    svc = service(settings, sink)
    try:
        sink.fail_after = 1  # of the records [a, b], [c], [d, e]: only the first
        svc.deliver(events("a", "b") + events("c", device="d2") + events("d", "e"))
        assert shape(sink) == [(b"d1", ["a", "b"])] and svc.spool.depth == 3
        assert metric(svc, "alignmon_gateway_events_spooled_total") == 3
        assert svc.replay_once() == 3
        assert shape(sink) == [(b"d1", ["a", "b"]), (b"d2", ["c"]), (b"d1", ["d", "e"])]
        assert metric(svc, "alignmon_gateway_events_replayed_total") == 3
    finally:
        svc.stop()


def test_a_partly_acknowledged_replay_commits_only_what_kafka_has(settings: Settings) -> None:
    sink = MemorySink()
    svc = service(settings, sink)
    try:
        sink.up = False
        svc.deliver(events("a", "b") + events("c", device="d2") + events("d"))
        sink.up = True
        sink.fail_after = 1  # of the replayed records [a, b], [c], [d]: only the first
        with pytest.raises(KafkaUnavailableError, match="acknowledged only 2 of 4"):
            svc.replay_once()
        assert ids(sink) == ["a", "b"] and svc.spool.depth == 2
        assert metric(svc, "alignmon_gateway_spool_events") == 2
        assert metric(svc, "alignmon_gateway_events_replayed_total") == 2
        assert svc.replay_once() == 2
        assert ids(sink) == ["a", "b", "c", "d"]
        assert metric(svc, "alignmon_gateway_events_replayed_total") == 4
    finally:
        svc.stop()


def test_spooled_events_survive_a_restart_and_are_replayed_at_start(settings: Settings, kit: Kit) -> None:
    down = MemorySink()
    down.up = False
    first = service(settings, down)
    first.deliver(events("a", "b", device="d1") + events("x", device="d2"))
    first.stop()

    up = MemorySink()
    second = service(settings, up)
    assert second.spool.depth == 3
    second.start()
    try:
        kit.wait_for(lambda: second.spool.depth == 0, what="replay at start")
        assert shape(up) == [(b"d1", ["a", "b"]), (b"d2", ["x"])]
    finally:
        second.stop()


def test_http_202_while_kafka_is_away_then_the_background_replay_delivers(
    settings: Settings, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    sink = MemorySink()
    sink.up = False
    gw = make_gateway(settings, sink=sink, replay_backoff_s=0.05)
    response = gw.post_events([kit.event(i) for i in range(3)])
    assert response.status_code == 202 and response.json()["accepted"] == 3
    health = gw.client.get("/healthz").json()
    assert health == {
        "status": "degraded",
        "kafka": {"reachable": False, "refused": None},
        "spool": {"depth": 3, "commit_error": None},
    }
    sink.up = True
    kit.wait_for(lambda: gw.service.spool.depth == 0, what="replay of the spool")
    assert [e["event_id"] for e in gw.sent()] == ["laptop-1-0", "laptop-1-1", "laptop-1-2"]
    assert len(sink.records) == 1  # the request's three events, packed into one record on replay
    assert gw.client.get("/healthz").json() == {
        "status": "ok",
        "kafka": {"reachable": True, "refused": None},
        "spool": {"depth": 0, "commit_error": None},
    }


def test_one_request_becomes_one_record_per_500_events_in_order(settings: Settings, kit: Kit) -> None:
    sink = MemorySink()
    svc = GatewayService.from_settings(settings, sink=sink, clock=kit.clock)
    try:
        items = [kit.event(n % 60, event_id=f"e{n}") for n in range(1201)]
        result = svc.ingest("laptop-1", items)
        assert (result.accepted, result.rejected) == (1201, 0)
        assert [(key, len(got)) for key, got in shape(sink)] == [
            (kit.device("laptop-1"), 500),
            (kit.device("laptop-1"), 500),
            (kit.device("laptop-1"), 201),
        ]
        assert ids(sink) == [f"e{n}" for n in range(1201)]
        assert metric(svc, "alignmon_gateway_events_accepted_total") == 1201
    finally:
        svc.stop()


def test_spool_metrics_count_events_when_kafka_takes_part_of_a_request(settings: Settings, kit: Kit) -> None:
    sink = MemorySink()
    svc = GatewayService.from_settings(settings, sink=sink, clock=kit.clock)
    try:
        sink.fail_after = 1  # the first record (500 events) is acknowledged, the other 701 events are not
        svc.ingest("laptop-1", [kit.event(n % 60, event_id=f"e{n}") for n in range(1201)])
        assert ids(sink) == [f"e{n}" for n in range(500)]
        assert svc.spool.depth == 701 and svc.health()["spool"] == {"depth": 701, "commit_error": None}
        assert metric(svc, "alignmon_gateway_events_spooled_total") == 701
        assert metric(svc, "alignmon_gateway_spool_events") == 701
        assert svc.replay_once() == 701
        assert ids(sink) == [f"e{n}" for n in range(1201)]
        assert [len(got) for _, got in shape(sink)] == [500, 500, 201]  # replay packs by MAX_EVENTS too
        assert metric(svc, "alignmon_gateway_events_replayed_total") == 701
        assert metric(svc, "alignmon_gateway_spool_events") == 0
    finally:
        svc.stop()


def test_metrics_use_their_own_registry_and_bounded_labels(gateway: Gateway, kit: Kit) -> None:
    bad = kit.event(1)
    del bad["app"]
    gateway.post_events([kit.event(0), bad, kit.event(2, device="elsewhere")])
    gateway.post(b"[", headers={})
    gateway.client.get("/nope")
    text = gateway.client.get("/metrics").text
    assert "alignmon_gateway_events_accepted_total 1.0" in text
    assert 'alignmon_gateway_events_rejected_total{reason="missing"} 1.0' in text
    assert 'alignmon_gateway_events_rejected_total{reason="device_mismatch"} 1.0' in text
    assert 'alignmon_gateway_http_requests_total{code="202"} 1.0' in text
    assert 'alignmon_gateway_http_requests_total{code="400"} 1.0' in text
    assert 'alignmon_gateway_http_requests_total{code="404"} 1.0' in text
    assert "alignmon_gateway_spool_events 0.0" in text
    assert "alignmon_gateway_produce_duration_seconds_count 1.0" in text
    for secret in ("laptop-1", "elsewhere", "Alice", "u_"):
        assert secret not in text
    assert "process_cpu_seconds_total" not in text  # not the global registry


def test_metrics_pass_promtool(gateway: Gateway, kit: Kit) -> None:
    gateway.post_events([kit.event(0)])
    text = gateway.client.get("/metrics").text
    result = subprocess.run(["promtool", "check", "metrics"], check=False, input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_pseudonym_key_refuses_to_start(settings: Settings) -> None:
    with pytest.raises(AlignmonError, match="ALIGNMON_PSEUDONYM_SECRET"):
        settings.model_copy(update={"pseudonym_secret": None}).pseudonym_key()


def test_dev_mode_uses_the_dev_key_and_warns_loudly(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        key = settings.model_copy(update={"pseudonym_secret": None, "dev_mode": True}).pseudonym_key()
    assert key == DEV_KEY
    assert "DEV MODE" in caplog.text


def test_a_bad_directory_csv_names_file_and_line(settings: Settings, tmp_path: Path) -> None:
    csv = tmp_path / "dir.csv"
    csv.write_text("user,department\nalice,Finance\nbob\n")
    with pytest.raises(AlignmonError, match=r"dir\.csv:3:"):
        service(settings.model_copy(update={"directory_csv": csv}), MemorySink())
    csv.write_text("name,dept\nalice,Finance\n")
    with pytest.raises(AlignmonError, match=r"dir\.csv:1: \(header\): missing column 'user', 'department'"):
        service(settings.model_copy(update={"directory_csv": csv}), MemorySink())


def test_an_idle_gateway_probes_kafka_for_its_reachability_metric(settings: Settings) -> None:
    """alignmon_gateway_kafka_up says whether the gateway could deliver even when no device sends: a gateway started
    at night is not reported unreachable, and a Kafka that went away while nobody sent is."""
    clock = [1000.0]
    sink = MemorySink()
    svc = GatewayService.from_settings(settings, sink=sink, monotonic=lambda: clock[0])
    try:
        assert metric(svc, "alignmon_gateway_kafka_up") == 0  # nothing known before the first contact
        svc.probe_kafka()
        assert metric(svc, "alignmon_gateway_kafka_up") == 1
        sink.up = False
        clock[0] += KAFKA_PROBE_S - 1
        svc.probe_kafka()
        assert metric(svc, "alignmon_gateway_kafka_up") == 1  # probed at most every KAFKA_PROBE_S
        clock[0] += 1
        svc.probe_kafka()
        assert metric(svc, "alignmon_gateway_kafka_up") == 0
        svc.deliver(events("a"))  # spooled: the replay's sends say whether Kafka is back, not a probe
        sink.up = True
        clock[0] += KAFKA_PROBE_S
        svc.probe_kafka()
        assert metric(svc, "alignmon_gateway_kafka_up") == 0 and svc.spool.depth == 1
        assert svc.replay_once() == 1
        assert metric(svc, "alignmon_gateway_kafka_up") == 1
        sink.up = False
        clock[0] += KAFKA_PROBE_S - 1
        svc.probe_kafka()  # the last send was just now: no probe yet
        assert metric(svc, "alignmon_gateway_kafka_up") == 1
    finally:
        svc.stop()
