"""The one event contract: its committed JSON Schema is current, and its limits say what is wrong."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from base.settings import Settings
from collectors.event import SCHEMA_PATH, UsageEvent, deterministic_id, json_schema

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def valid(**changes: Any) -> dict[str, Any]:
    event = {
        "event_id": "e-1",
        "kind": "focus",
        "device_id": "laptop-1",
        "user": "ann",
        "app": "teams.exe",
        "start": "2026-11-20T09:00:00+01:00",
        "duration_s": 300.0,
        "source": "agent",
    }
    return {**event, **changes}


def errors(event: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        UsageEvent.model_validate(event, context={"now": NOW})
    return {".".join(map(str, e["loc"])) or "event": e["msg"] for e in info.value.errors()}


def test_committed_json_schema_is_generated_from_the_model() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == json_schema(), "run collectors.event.write_json_schema()"


def test_model_and_schema_agree_on_a_valid_event() -> None:
    event = valid(title="Budget", department="Sales")
    jsonschema.validate(event, json_schema())
    parsed = UsageEvent.model_validate(event, context={"now": NOW})
    assert parsed.end == datetime(2026, 11, 20, 8, 5, tzinfo=UTC)
    assert json.loads(parsed.to_json_bytes())["start"] == "2026-11-20T09:00:00+01:00"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"app": "x" * 513}, "app", "at most 512 characters"),
        ({"duration_s": 86_401}, "duration_s", "less than or equal to 86400"),
        ({"duration_s": -1}, "duration_s", "greater than or equal to 0"),
        ({"start": "2026-11-20T12:06:00+00:00"}, "start", "more than 5 minutes in the future"),
        ({"start": "2026-11-20T09:00:00"}, "start", "timezone"),
        ({"start": 1763629200}, "start", "RFC 3339 string with a UTC offset"),
        ({"start": "1999-12-31T23:59:59Z"}, "start", "before 2000-01-01"),
        ({"start": "0001-01-01T00:00:00+23:59"}, "start", "before 2000-01-01"),
        ({"duration_s": "30"}, "duration_s", "valid number"),
        ({"duration_s": True}, "duration_s", "valid number"),
        ({"kind": "launch"}, "event", "launch event has no duration"),
        ({"kind": "typing"}, "kind", "'focus', 'open' or 'launch'"),
        ({"source": "Agent!"}, "source", "pattern"),
        ({"keystrokes": 12}, "keystrokes", "Extra inputs are not permitted"),
        ({"user": ""}, "user", "at least 1 character"),
    ],
)
def test_limits_name_the_field_and_say_what_is_wrong(change: dict[str, Any], field: str, words: str) -> None:
    found = errors(valid(**change))
    assert field in found, found
    assert words in found[field]


def test_start_five_minutes_ahead_is_still_accepted() -> None:
    start = (NOW + timedelta(minutes=5)).isoformat()
    assert UsageEvent.model_validate(valid(start=start), context={"now": NOW}).start == NOW + timedelta(minutes=5)


def test_deterministic_ids_repeat_for_the_same_record_only() -> None:
    assert deterministic_id("osquery", "mac-1", 42) == deterministic_id("osquery", "mac-1", 42)
    assert deterministic_id("osquery", "mac-1", 42) != deterministic_id("osquery", "mac-1", 43)
    assert deterministic_id("osquery", "mac-1", 42) != deterministic_id("whatpulse", "mac-1", 42)


def test_the_time_bounds_are_the_receivers_settings() -> None:
    bounds = Settings(event_earliest=date(2026, 1, 1), event_max_future_s=3600).event_bounds()
    context = {"now": NOW, **bounds}
    assert UsageEvent.model_validate(valid(start=(NOW + timedelta(minutes=50)).isoformat()), context=context)
    with pytest.raises(ValidationError, match="before 2026-01-01"):
        UsageEvent.model_validate(valid(start="2025-12-31T23:00:00Z"), context=context)
    with pytest.raises(ValidationError, match="more than 60 minutes in the future"):
        UsageEvent.model_validate(valid(start=(NOW + timedelta(minutes=70)).isoformat()), context=context)


def test_the_named_sources_are_those_alignmons_collectors_send() -> None:
    """The metrics' `source` label names these (anything else is `other`): each is what one of alignmon's collectors
    writes into its events, and a valid source itself."""
    import re

    from base.sources import OTHER_SOURCE, SOURCES
    from collectors.agent.spans import SOURCE as AGENT
    from collectors.event import SOURCE_PATTERN
    from collectors.importers import activitywatch, osquery, whatpulse
    from collectors.simulate.organisation import SOURCE as SIMULATOR

    assert set(SOURCES) == {AGENT, activitywatch.SOURCE, whatpulse.SOURCE, osquery.SOURCE, SIMULATOR}
    assert OTHER_SOURCE not in SOURCES
    assert all(re.fullmatch(SOURCE_PATTERN, s) for s in (*SOURCES, OTHER_SOURCE))
