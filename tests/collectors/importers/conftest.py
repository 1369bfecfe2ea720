"""A real ActivityWatch server (PyPI aw-server) fed through the real aw-client, for the importer tests.

The export file the tests read is downloaded from the server's own /api/0/export endpoint: nothing in it
is written by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

HOST = "laptop-1"
OTHER_HOST = "desktop-2"  # has a window bucket but no AFK bucket
WINDOW_BUCKET = f"aw-watcher-window_{HOST}"
AFK_BUCKET = f"aw-watcher-afk_{HOST}"
LONE_WINDOW_BUCKET = f"aw-watcher-window_{OTHER_HOST}"
WEB_BUCKET = f"aw-watcher-web-firefox_{HOST}"
OVERLAP_HOST = "laptop-3"  # its window events overlap, as watcher events sometimes do


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, second, tzinfo=UTC)


# (timestamp, duration seconds, data) inserted with insert_event; the tests compute focus from these by hand.
WINDOW_EVENTS = [
    (at(14, 9, 0), 1800, {"app": "firefox", "title": "Quarterly plan - Docs"}),  # 09:00-09:30
    (at(14, 9, 30), 600, {"app": "code", "title": "main.py"}),  # 09:30-09:40
    # 09:40:00 and 09:40:45: two heartbeats (pulsetime 60) merged by the server into 09:40:00-09:40:45
    (at(14, 23, 50), 1200, {"app": "code", "title": "late.py"}),  # 23:50-00:10, crosses UTC midnight
    (at(15, 8, 0), 300, {"app": "firefox", "title": "News"}),  # 08:00-08:05, user is AFK
]
HEARTBEATS = [
    (at(14, 9, 40, 0), {"app": "slack", "title": "general"}),
    (at(14, 9, 40, 45), {"app": "slack", "title": "general"}),
]
AFK_EVENTS = [
    (at(14, 9, 0), 1200, {"status": "not-afk"}),  # 09:00-09:20
    (at(14, 9, 20), 300, {"status": "afk"}),  # 09:20-09:25 (the afk gap)
    (at(14, 9, 25), 1200, {"status": "not-afk"}),  # 09:25-09:45
    (at(14, 23, 45), 1800, {"status": "not-afk"}),  # 23:45-00:15
    (at(15, 8, 0), 300, {"status": "afk"}),  # 08:00-08:05
]
LONE_WINDOW_EVENTS = [(at(14, 12, 0), 600, {"app": "excel", "title": "Budget"})]
OVERLAP_WINDOW_EVENTS = [
    (at(16, 10, 0), 600, {"app": "writer", "title": "Report"}),  # 10:00-10:10
    (at(16, 10, 5), 600, {"app": "calc", "title": "Figures"}),  # 10:05-10:15, overlaps the first by 5 min
]
OVERLAP_AFK_EVENTS = [(at(16, 10, 0), 3600, {"status": "not-afk"})]  # 10:00-11:00
WEB_EVENTS = [(at(14, 9, 0), 60, {"url": "https://example.org/", "title": "Example", "audible": False})]


def _feed(server: Any) -> None:
    """Create buckets and insert the known events through aw-client, as a watcher would."""
    from aw_core.models import Event

    with server.clients("alignmon-test") as client:
        main = client(HOST)
        main.create_bucket(WINDOW_BUCKET, "currentwindow")
        main.create_bucket(AFK_BUCKET, "afkstatus")
        main.create_bucket(WEB_BUCKET, "web.tab.current")
        for ts, duration, data in WINDOW_EVENTS[:2]:
            main.insert_event(WINDOW_BUCKET, Event(timestamp=ts, duration=timedelta(seconds=duration), data=data))
        for ts, data in HEARTBEATS:
            main.heartbeat(WINDOW_BUCKET, Event(timestamp=ts, duration=0, data=data), pulsetime=60)
        for ts, duration, data in WINDOW_EVENTS[2:]:
            main.insert_event(WINDOW_BUCKET, Event(timestamp=ts, duration=timedelta(seconds=duration), data=data))
        main.insert_events(
            AFK_BUCKET,
            [Event(timestamp=ts, duration=timedelta(seconds=d), data=data) for ts, d, data in AFK_EVENTS],
        )
        main.insert_events(
            WEB_BUCKET,
            [Event(timestamp=ts, duration=timedelta(seconds=d), data=data) for ts, d, data in WEB_EVENTS],
        )
        other = client(OTHER_HOST)
        other.create_bucket(LONE_WINDOW_BUCKET, "currentwindow")
        for ts, duration, data in LONE_WINDOW_EVENTS:
            other.insert_event(LONE_WINDOW_BUCKET, Event(timestamp=ts, duration=timedelta(seconds=duration), data=data))
        third = client(OVERLAP_HOST)
        for bucket_id, event_type, events in (
            (f"aw-watcher-window_{OVERLAP_HOST}", "currentwindow", OVERLAP_WINDOW_EVENTS),
            (f"aw-watcher-afk_{OVERLAP_HOST}", "afkstatus", OVERLAP_AFK_EVENTS),
        ):
            third.create_bucket(bucket_id, event_type)
            third.insert_events(
                bucket_id,
                [Event(timestamp=ts, duration=timedelta(seconds=d), data=data) for ts, d, data in events],
            )


@pytest.fixture(scope="session")
def aw_server(start_aw_server: Callable[[str], Any]) -> Any:
    """A real aw-server (testing mode, own data dirs) fed with the events above through aw-client."""
    server = start_aw_server("activitywatch")
    _feed(server)
    return server


@pytest.fixture(scope="session")
def aw_export(aw_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The export file as the server's own /api/0/export endpoint writes it."""
    response = httpx.get(f"{aw_server.url}/api/0/export", timeout=10.0)
    response.raise_for_status()
    assert "aw-buckets-export.json" in response.headers["content-disposition"]
    path = tmp_path_factory.mktemp("aw-export") / "aw-buckets-export.json"
    path.write_bytes(response.content)
    return path
