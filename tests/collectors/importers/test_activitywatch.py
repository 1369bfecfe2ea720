"""ActivityWatch import against an export and a REST API served by a real aw-server (see conftest.py)."""

from __future__ import annotations

import json
import socket
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from base.errors import TransientError
from collectors.event import UsageEvent
from collectors.importers.activitywatch import ActivityWatchClient, read_export, read_server
from collectors.importers.record import ImportOptions, RecordError, collect

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# The buckets conftest.py creates on the real server.
WINDOW_BUCKET = "aw-watcher-window_laptop-1"
AFK_BUCKET = "aw-watcher-afk_laptop-1"
WEB_BUCKET = "aw-watcher-web-firefox_laptop-1"
LONE_WINDOW_BUCKET = "aw-watcher-window_desktop-2"


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, second, tzinfo=UTC)


def on(host: str, events: list[UsageEvent]) -> list[UsageEvent]:
    return [e for e in events if e.device_id == host]


def seconds_by_day_app(events: list[UsageEvent], tz: ZoneInfo | None = None) -> dict[tuple[str, str], float]:
    totals: Counter[tuple[str, str]] = Counter()
    for e in events:
        totals[(e.start.astimezone(tz or UTC).date().isoformat(), e.app)] += e.duration_s
    return dict(totals)


def test_export_focus_is_window_time_while_not_afk_split_at_utc_midnight(aw_export: Path) -> None:
    result = collect(read_export(aw_export, user="alice", options=ImportOptions(now=NOW)))
    events = on("laptop-1", result.events)

    # firefox 09:00-09:30 meets not-afk 09:00-09:20 and 09:25-09:45: 1200 + 300 (afk 09:20-09:25 is out)
    # code 09:30-09:40 lies in not-afk 09:25-09:45: 600
    # slack heartbeats 09:40:00 + 09:40:45, merged by the server: 45
    # code 23:50-00:10 lies in not-afk 23:45-00:15 and crosses midnight: 600 on the 14th, 600 on the 15th
    # firefox 08:00-08:05 on the 15th is all afk: nothing
    spans = sorted((e.start, e.duration_s, e.app) for e in events)
    assert spans == [
        (at(14, 9, 0), 1200.0, "firefox"),
        (at(14, 9, 25), 300.0, "firefox"),
        (at(14, 9, 30), 600.0, "code"),
        (at(14, 9, 40), 45.0, "slack"),
        (at(14, 23, 50), 600.0, "code"),
        (at(15, 0, 0), 600.0, "code"),
    ]
    assert seconds_by_day_app(events) == {
        ("2025-06-14", "firefox"): 1500.0,
        ("2025-06-14", "code"): 1200.0,
        ("2025-06-14", "slack"): 45.0,
        ("2025-06-15", "code"): 600.0,
    }
    assert sum(e.duration_s for e in events) == 3345.0
    assert {(e.kind, e.source, e.user) for e in result.events} == {("focus", "activitywatch", "alice")}
    assert {e.title for e in events if e.app == "slack"} == {"general"}


def test_overlapping_window_events_count_each_second_once(aw_export: Path) -> None:
    result = collect(read_export(aw_export, user="alice", options=ImportOptions(now=NOW)))

    # writer 10:00-10:10, then calc 10:05-10:15 counted only from 10:10: 600 + 300, not 1200.
    assert sorted((e.start, e.duration_s, e.app) for e in on("laptop-3", result.events)) == [
        (at(16, 10, 0), 600.0, "writer"),
        (at(16, 10, 10), 300.0, "calc"),
    ]


def test_window_bucket_without_afk_bucket_is_reported_and_web_bucket_ignored(aw_export: Path) -> None:
    result = collect(read_export(aw_export, user="alice", options=ImportOptions(now=NOW)))

    assert [(Path(e.file).name, e.locator) for e in result.errors] == [
        ("aw-buckets-export.json", f"bucket {LONE_WINDOW_BUCKET}")
    ]
    assert "no afkstatus bucket for host 'desktop-2'" in result.errors[0].message
    assert "excel" not in {e.app for e in result.events}
    assert WEB_BUCKET in json.loads(aw_export.read_text())["buckets"]


def test_midnight_split_follows_the_given_time_zone(aw_export: Path) -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    result = collect(read_export(aw_export, user="alice", options=ImportOptions(tz=amsterdam, now=NOW)))

    # In June Amsterdam is UTC+2: 23:50-00:10 UTC is 01:50-02:10 local on the 15th, so no split.
    events = on("laptop-1", result.events)
    assert sorted((e.start, e.duration_s) for e in events if e.app == "code") == [
        (at(14, 9, 30), 600.0),
        (at(14, 23, 50), 1200.0),
    ]
    assert seconds_by_day_app(events, amsterdam) == {
        ("2025-06-14", "firefox"): 1500.0,
        ("2025-06-14", "code"): 600.0,
        ("2025-06-14", "slack"): 45.0,
        ("2025-06-15", "code"): 1200.0,
    }


def test_reimport_gives_identical_ids(aw_export: Path) -> None:
    first = collect(read_export(aw_export, user="alice", options=ImportOptions(now=NOW)))
    second = collect(read_export(aw_export, user="alice", options=ImportOptions(now=NOW)))

    assert [e.event_id for e in first.events] == [e.event_id for e in second.events]
    assert len({e.event_id for e in first.events}) == 6 + 2


def test_a_bad_event_is_reported_and_the_rest_of_the_export_imports(aw_export: Path, tmp_path: Path) -> None:
    document = json.loads(aw_export.read_text())
    events = document["buckets"][WINDOW_BUCKET]["events"]
    bad = next(i for i, e in enumerate(events) if e["data"]["app"] == "slack")
    events[bad]["timestamp"] = "yesterday at nine"
    broken = tmp_path / "aw-buckets-export.json"
    broken.write_text(json.dumps(document))

    result = collect(read_export(broken, user="alice", options=ImportOptions(now=NOW)))

    assert f"bucket {WINDOW_BUCKET} event {bad}" in {e.locator for e in result.errors}
    assert sum(e.duration_s for e in on("laptop-1", result.events)) == 3345.0 - 45.0


def test_unreadable_export_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "aw-buckets-export.json"
    path.write_text('{"buckets": [')

    items = list(read_export(path, user="alice"))

    assert len(items) == 1
    assert isinstance(items[0], RecordError)
    assert items[0].locator == "file"


def test_rest_reader_lists_buckets_and_events(aw_server: Any) -> None:
    with ActivityWatchClient(aw_server.url) as client:
        buckets = client.buckets()
        afk = client.events(AFK_BUCKET)
        limited = client.events(WINDOW_BUCKET, limit=2)

    assert {WINDOW_BUCKET, AFK_BUCKET, WEB_BUCKET, LONE_WINDOW_BUCKET} <= set(buckets)
    assert buckets[WINDOW_BUCKET]["hostname"] == "laptop-1"
    assert buckets[AFK_BUCKET]["type"] == "afkstatus"
    assert len(afk) == 5
    assert len(limited) == 2


def test_rest_reader_yields_the_export_focus_per_day(aw_server: Any, aw_export: Path) -> None:
    options = ImportOptions(now=NOW)
    with ActivityWatchClient(aw_server.url) as client:
        day14 = collect(read_server(client, at(14, 0, 0), at(15, 0, 0), user="alice", options=options))
        day15 = collect(read_server(client, at(15, 0, 0), at(16, 0, 0), user="alice", options=options))
    exported = collect(read_export(aw_export, user="alice", options=options))

    # The server trims events at the range edges: the 23:50-00:10 event counts 600 s on each side.
    assert sum(e.duration_s for e in on("laptop-1", day14.events)) == 1500.0 + 600.0 + 45.0 + 600.0
    assert sum(e.duration_s for e in on("laptop-1", day15.events)) == 600.0
    # Spans whose event starts inside the range keep the export's ids.
    assert {e.event_id for e in day14.events} == {e.event_id for e in exported.events if e.start < at(15, 0, 0)}
    assert [e.locator for e in day14.errors] == [f"bucket {LONE_WINDOW_BUCKET}"]


def test_rest_reader_reports_an_unreachable_server_as_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    with (
        ActivityWatchClient(f"http://127.0.0.1:{port}", timeout=2.0) as client,
        pytest.raises(TransientError),
    ):
        client.buckets()
