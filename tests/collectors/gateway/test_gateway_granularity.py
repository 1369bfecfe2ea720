"""The gateway coarsens times as ALIGNMON_TIME_GRANULARITY says, before anything reaches Kafka."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from base.settings import Settings
from collectors.record import events_of

Gateway = Any
Kit = Any
AMS = ZoneInfo("Europe/Amsterdam")


def test_the_gateway_splits_and_truncates_as_the_settings_say(
    settings: Settings, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    wired = settings.model_copy(update={"time_granularity": "hour", "timezone": "Europe/Amsterdam"})
    gw = make_gateway(wired)
    crossing = kit.event(0, start="2026-03-01T23:30:00+01:00", duration_s=3600.0)
    response = gw.post_events([crossing, kit.event(1), kit.event(2, duration_s=-1)])
    # `accepted` counts what the device sent: the span split in two counts once.
    assert response.json() == {
        "accepted": 2,
        "rejected": 1,
        "errors": [{"index": 2, "field": "duration_s", "message": "Input should be greater than or equal to 0"}],
    }
    assert [(e["event_id"], e["start"], e["duration_s"]) for e in gw.sent()] == [
        ("laptop-1-0", "2026-03-01T23:00:00+01:00", 1800.0),
        ("laptop-1-0#2026-03-02", "2026-03-02T00:00:00+01:00", 1800.0),
        ("laptop-1-1", "2026-03-02T12:00:00+01:00", 30.0),  # 11:01Z is 12:01 in Amsterdam
    ]
    assert "alignmon_gateway_events_accepted_total 2.0" in gw.client.get("/metrics").text


@pytest.mark.integration
def test_a_day_granularity_event_in_kafka_carries_no_time_of_day(
    settings: Settings, kafka_bootstrap: str, topic: str, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    from collectors.sink import KafkaSink

    update = {
        "kafka_bootstrap": kafka_bootstrap,
        "topic": topic,
        "time_granularity": "day",
        "timezone": "Europe/Amsterdam",
    }
    gw = make_gateway(settings.model_copy(update=update), sink=KafkaSink(kafka_bootstrap, topic))  # clock: kit.NOW
    sent = [kit.event(i) for i in range(3)]  # 12:01 to 12:03 in Amsterdam
    sent.append(kit.event(3, start="2026-03-01T23:43:00+01:00", duration_s=3600.0))
    assert gw.post_events(sent).json()["accepted"] == 4

    got = [e for r in kit.consume(kafka_bootstrap, topic) for e in events_of(r.value)]
    assert len(got) == 5  # the span across midnight arrives as two events
    for value in got:
        assert set(value) == {
            "event_id",
            "kind",
            "device_id",
            "user",
            "app",
            "start",
            "duration_s",
            "source",
            "schema_version",
        }
        start = datetime.fromisoformat(value["start"])
        assert value["start"][10:19] == "T00:00:00"  # as written: a local midnight
        assert start == datetime.combine(start.astimezone(AMS).date(), time(), tzinfo=AMS)
    assert sorted(e["duration_s"] for e in got if e["event_id"].startswith("laptop-1-3")) == [17 * 60.0, 43 * 60.0]
