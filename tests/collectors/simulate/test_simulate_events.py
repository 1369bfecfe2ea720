"""The generated events: valid under the contract, in working hours on weekdays, realistic in shape."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from collectors.event import SCHEMA_PATH, UsageEvent
from collectors.simulate import Organisation
from collectors.simulate.organisation import _fixed_offset

DAY = date(2026, 3, 3)  # a Tuesday
FAR_FUTURE = {"now": datetime(2100, 1, 1, tzinfo=UTC)}


def test_every_event_of_a_day_passes_full_validation() -> None:
    org = Organisation.build(42, 1.0, DAY)
    events = list(org.events_for_day(DAY, with_department=True))
    assert len(events) > 1000
    for event in events:
        assert UsageEvent.model_validate(event.model_dump(), context=FAR_FUTURE) == event


def test_dicts_are_the_events_json_shape_and_match_the_schema() -> None:
    org = Organisation.build(42, 1.0, DAY, tz="Europe/Amsterdam")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    events = list(org.events_for_day(DAY))
    rows = list(org.dicts_for_day(DAY))
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        validator.validate(json.loads(json.dumps(row)))
        assert UsageEvent.model_validate(row, context=FAR_FUTURE) == event


def test_events_are_real_time_stamps_with_the_organisations_offset() -> None:
    org = Organisation.build(42, 1.0, DAY, tz="Europe/Amsterdam")
    rows = list(org.dicts_for_day(DAY))
    assert all(row["start"].startswith("2026-03-03T") and row["start"].endswith("+01:00") for row in rows)
    summer = date(2026, 7, 7)
    summer_org = Organisation.build(42, 1.0, summer, tz="Europe/Amsterdam")
    assert all(e.start.utcoffset() == timedelta(hours=2) for e in summer_org.events_for_day(summer))


def test_a_daylight_saving_day_has_no_fixed_offset() -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    assert _fixed_offset(datetime(2026, 3, 29, tzinfo=zone)) is None  # clocks go forward that night
    assert _fixed_offset(datetime(2026, 3, 30, tzinfo=zone)) == "+02:00"
    assert _fixed_offset(datetime(2026, 3, 30, tzinfo=ZoneInfo("UTC"))) == "+00:00"


def test_weekends_are_quiet() -> None:
    org = Organisation.build(42, 1.0, DAY)
    assert list(org.events_for_day(date(2026, 3, 7))) == []  # Saturday
    assert list(org.dicts_for_day(date(2026, 3, 8))) == []  # Sunday
    for event in org.backfill(28):
        assert event.start.weekday() < 5


@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_spans_keep_to_working_hours_except_late_workers_evenings(tz: str) -> None:
    org = Organisation.build(42, 1.0, DAY, tz=tz)
    late = {u.name for u in org.users if u.late_worker}
    assert 2 <= len(late) <= 10
    crossing = 0
    for day in org.backfill_days(14):
        for event in org.events_for_day(day):
            start = event.start.astimezone(ZoneInfo(tz))
            end = event.end.astimezone(ZoneInfo(tz))
            assert start.date() == day
            in_hours = start.time() >= time(8, 30) and end.date() == day and end.time() <= time(18, 0)
            if event.user in late and not in_hours:
                assert start.time() >= time(22, 0) and event.kind == "focus"
                crossing += end.date() > day
            else:
                assert in_hours, event
    assert crossing >= 3


def test_all_kinds_appear_with_their_rules() -> None:
    org = Organisation.build(42, 1.0, DAY)
    events = list(org.events_for_day(DAY))
    kinds = Counter(e.kind for e in events)
    assert kinds["focus"] > 0.8 * len(events)
    assert kinds["open"] > 0 and kinds["launch"] > 0
    assert all(e.duration_s == 0 for e in events if e.kind == "launch")
    assert all(e.source == "simulator" and e.title is None and e.department is None for e in events)


def test_durations_and_daily_totals_are_realistic() -> None:
    org = Organisation.build(42, 1.0, DAY)
    focus_per_user: dict[str, float] = defaultdict(float)
    for event in org.events_for_day(DAY):
        if event.kind == "focus":
            assert 1 <= event.duration_s <= 2 * 3600
            focus_per_user[event.user] += event.duration_s
    # Absent people have no events at all; those present focus for roughly 4.5 to 7.5 hours.
    assert 0.85 * len(org.users) <= len(focus_per_user) <= len(org.users)
    for user, seconds in focus_per_user.items():
        assert 4 * 3600 <= seconds <= 9 * 3600, user


def test_apps_are_raw_endpoint_identifiers_of_every_platform() -> None:
    org = Organisation.build(42, 1.0, DAY)
    apps = {e.app for day in org.backfill_days(7) for e in org.events_for_day(day)}
    assert "ms-teams.exe" in apps or any(a.endswith("\\ms-teams.exe") for a in apps)
    assert "com.microsoft.teams2" in apps
    assert r"C:\Program Files (x86)\SAP\FrontEnd\SAPgui\saplogon.exe" in apps
    assert "/usr/bin/firefox" in apps
    assert any(a.endswith(".exe") and "\\" not in a for a in apps)  # bare executable names too
    assert all(org.app_of(a) is not None for a in apps)


def test_devices_one_or_two_per_user_and_no_names_in_device_ids() -> None:
    org = Organisation.build(42, 1.0, DAY)
    counts = Counter(len(u.devices) for u in org.users)
    assert set(counts) == {1, 2} and counts[2] > 0.15 * len(org.users)
    ids = [d.id for u in org.users for d in u.devices]
    assert len(ids) == len(set(ids))
    assert not any(u.name in d.id for u in org.users for d in u.devices)
