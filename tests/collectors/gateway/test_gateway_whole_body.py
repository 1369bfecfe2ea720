"""A JSON array body is validated in one call and packed a record at a time: the same answer and the same Kafka
records as validating it item by item, for good bodies, hostile ones and everything in between."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from base.settings import Settings
from collectors.gateway.body import Body, items_of
from collectors.gateway.errors import GatewayError
from collectors.gateway.service import GatewayService
from collectors.record import MAX_BYTES, MAX_EVENTS, events_of
from collectors.sink import MemorySink
from tests.corpus.hostile import RECORDS

DEVICE = "laptop-1"


def _both_ways(service: GatewayService, body: bytes) -> tuple[Any, Any]:
    """(answer, records) from the whole-body path and from the item-by-item path, or the error each raised."""
    outcomes = []
    for whole in (True, False):
        try:
            if whole:
                validated = service.validate(DEVICE, Body(body, "application/json"))
            else:
                validated = service.validate_items(DEVICE, items_of(Body(body, "application/json")))
        except (GatewayError, ValueError, RecursionError) as exc:
            outcomes.append(("error", getattr(exc, "status", None)))
            continue
        records = [(p.record.key, p.record.value, p.size, p.events()) for p in validated.packs]
        outcomes.append((validated.result.to_json(), records))
    return outcomes[0], outcomes[1]


@pytest.fixture
def service(settings: Settings, kit: Any) -> GatewayService:
    return GatewayService.from_settings(settings, sink=MemorySink(), clock=kit.clock)


def test_good_bodies_give_the_same_records_both_ways(service: GatewayService, kit: Any) -> None:
    for count in (1, 2, 5, MAX_EVENTS, MAX_EVENTS + 1, 1200):
        events = [kit.event(n % 60, user=f"user{n % 7}@corp.example") for n in range(count)]
        whole, items = _both_ways(service, json.dumps(events).encode())
        assert whole == items, count
        answer, records = whole
        assert answer == {"accepted": count, "rejected": 0, "errors": []}
        assert [size for _, _, size, _ in records] == [
            min(MAX_EVENTS, count - first) for first in range(0, count, MAX_EVENTS)
        ]
        assert sum(len(events_of(value)) for _, value, _, _ in records) == count


def test_long_titles_cut_records_by_size_as_collectors_record_does(settings: Settings, kit: Any) -> None:
    service = GatewayService.from_settings(
        settings.model_copy(update={"titles_enabled": True}), sink=MemorySink(), clock=kit.clock
    )
    events = [kit.event(n % 60, title="t" * 1000) for n in range(400)]  # ~400 KiB: more than one record's bytes
    whole, items = _both_ways(service, json.dumps(events).encode())
    assert whole == items
    assert len(whole[1]) == 2 and all(len(value) <= MAX_BYTES for _, value, _, _ in whole[1])


def test_split_spans_count_once_both_ways(settings: Settings, kit: Any) -> None:
    service = GatewayService.from_settings(
        settings.model_copy(update={"time_granularity": "hour"}), sink=MemorySink(), clock=kit.clock
    )
    midnight = kit.NOW.replace(hour=0)
    crossing = kit.event(1, start=(midnight - timedelta(minutes=10)).isoformat(), duration_s=1200.0)
    whole, items = _both_ways(service, json.dumps([crossing, kit.event(2)]).encode())
    assert whole == items
    assert whole[0]["accepted"] == 2 and whole[1][0][2] == 3  # three events leave for two accepted


@pytest.mark.parametrize(
    "events",
    [
        [{"not": "an event"}],
        "not an array",
        {"event_id": "an object, not an array"},
        [1, 2, 3],
        None,
    ],
    ids=["invalid-event", "string", "object", "numbers", "null"],
)
def test_bodies_with_refusals_give_the_same_answer_both_ways(service: GatewayService, kit: Any, events: Any) -> None:
    body = json.dumps([kit.event(1), *events, kit.event(2)] if isinstance(events, list) else events).encode()
    whole, items = _both_ways(service, body)
    assert whole == items


def test_another_devices_event_is_refused_both_ways(service: GatewayService, kit: Any) -> None:
    whole, items = _both_ways(service, json.dumps([kit.event(1), kit.event(2, device="other")]).encode())
    assert whole == items
    assert whole[0]["accepted"] == 1 and whole[0]["errors"][0]["field"] == "device_id"


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity"])
def test_json_constants_are_refused_as_before(service: GatewayService, kit: Any, raw: bytes) -> None:
    body = json.dumps([kit.event(1)]).encode().replace(b"30.0", raw)
    with pytest.raises(GatewayError) as refused:
        service.validate(DEVICE, Body(body, "application/json"))
    assert refused.value.status == 400


def _is_json(value: bytes) -> bool:
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        return False  # the body's own checks refuse it before any event is validated
    return True


@pytest.mark.parametrize("case", [c for c in RECORDS if _is_json(c.value)], ids=lambda c: c.name)
def test_each_hostile_event_gets_the_same_answer_both_ways(settings: Settings, kit: Any, case: Any) -> None:
    service = GatewayService.from_settings(settings, sink=MemorySink(), clock=kit.clock)
    body = b"[" + case.value.replace(b'"dev-corpus"', json.dumps(DEVICE).encode()) + b"]"
    whole, items = _both_ways(service, body)
    assert whole == items


def test_the_whole_body_path_delivers_one_record_per_request(settings: Settings, kit: Any) -> None:
    sink = MemorySink()
    service = GatewayService.from_settings(settings, sink=sink, clock=kit.clock)
    result = service.ingest_body(
        DEVICE, Body(json.dumps([kit.event(n) for n in range(5)]).encode(), "application/json")
    )
    assert result.accepted == 5
    (record,) = sink.records
    assert record.key == kit.device()
    assert [e["event_id"] for e in events_of(record.value)] == [f"{DEVICE}-{n}" for n in range(5)]
    assert all(e["user"] == kit.pseudonym("Alice Example") and "title" not in e for e in events_of(record.value))
