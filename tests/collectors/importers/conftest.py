"""A real ActivityWatch server (PyPI aw-server) fed through the real aw-client, for the importer tests.

The export file the tests read is downloaded from the server's own /api/0/export endpoint: nothing in it
is written by hand.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

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


class AwServer(NamedTuple):
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _xdg(root: Path) -> dict[str, str]:
    dirs = {name: root / name.lower() for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return {name: str(path) for name, path in dirs.items()}


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"aw-server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/0/info", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"aw-server not ready after {timeout} s:\n{log.read_text()}")


def _feed(port: int, xdg: dict[str, str]) -> None:
    """Create buckets and insert the known events through aw-client, as a watcher would."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in xdg.items():
            mp.setenv(name, value)  # aw-client reads and writes its config and lock files here
        from aw_client import ActivityWatchClient
        from aw_core.models import Event

        def client(hostname: str) -> ActivityWatchClient:
            c = ActivityWatchClient("alignmon-test", testing=True, host="127.0.0.1", port=port)
            c.client_hostname = hostname  # the hostname aw-client puts in the bucket metadata
            return c

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
def aw_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwServer]:
    """A real aw-server in testing mode on a free loopback port with a temporary data dir."""
    root = tmp_path_factory.mktemp("activitywatch")
    xdg = _xdg(root)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "aw-server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aw_server", "--testing", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, **xdg},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(url, proc, log)
        _feed(port, xdg)
        yield AwServer(url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def aw_export(aw_server: AwServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The export file as the server's own /api/0/export endpoint writes it."""
    response = httpx.get(f"{aw_server.url}/api/0/export", timeout=10.0)
    response.raise_for_status()
    assert "aw-buckets-export.json" in response.headers["content-disposition"]
    path = tmp_path_factory.mktemp("aw-export") / "aw-buckets-export.json"
    path.write_bytes(response.content)
    return path
