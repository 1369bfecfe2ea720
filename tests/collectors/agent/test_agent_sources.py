"""The ActivityWatch source on a real aw-server, the WhatPulse source on a real SQLite file, the state file."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.agent.sources import ActivityWatchSource, WhatPulseSource
from collectors.agent.state import StateFile
from collectors.event import UsageEvent
from collectors.importers.activitywatch import ActivityWatchClient

DEVICE = "my-device"


def at(hour: int, minute: int) -> datetime:
    return datetime(2025, 6, 14, hour, minute, tzinfo=UTC)


def seconds_by_app(events: list[UsageEvent]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for e in events:
        totals[e.app] += e.duration_s
    return dict(totals)


def aw_source(url: str, state: StateFile, **kwargs: Any) -> ActivityWatchSource:
    return ActivityWatchSource(
        ActivityWatchClient(url), state, device_id=DEVICE, user="alice", lookback_s=2 * 3600, **kwargs
    )


def test_activitywatch_reads_a_moving_window_and_remembers_it(aw_server: Any, tmp_path: Path) -> None:
    state = StateFile(tmp_path / "state.json")
    source = aw_source(aw_server.url, state)
    now = at(10, 10)  # settled up to 10:05; first run looks back 2 h, one hour at a time

    first = source.poll(now)  # [08:10, 09:10)
    assert source.behind
    assert seconds_by_app(first) == {"firefox": 600.0}
    source.commit()
    assert state.get(ActivityWatchSource.STATE_KEY) == at(9, 10).isoformat()

    second = source.poll(now)  # [09:10, 10:05): firefox 09:10-09:20 and 09:25-09:30 (AFK between)
    assert not source.behind
    assert seconds_by_app(second) == {"firefox": 900.0, "code": 600.0, "writer": 1500.0}
    source.commit()
    assert source.poll(now) == []

    for event in first + second:
        assert (event.device_id, event.user, event.source, event.kind) == (DEVICE, "alice", "activitywatch", "focus")
        assert event.title is None  # titles stay home unless --titles

    # A restart reads the mark back: nothing is sent again; later the rest of the writer span comes.
    restarted = aw_source(aw_server.url, StateFile(tmp_path / "state.json"))
    assert restarted.poll(now) == []
    later = restarted.poll(at(10, 40))  # [10:05, 10:35): writer until 10:20
    assert seconds_by_app(later) == {"writer": 900.0}
    ids = [e.event_id for e in first + second + later]
    assert len(ids) == len(set(ids))


def test_activitywatch_without_commit_reads_the_same_range_with_the_same_ids(aw_server: Any, tmp_path: Path) -> None:
    source = aw_source(aw_server.url, StateFile(tmp_path / "state.json"), titles=True)
    now = at(10, 10)
    once = source.poll(now)  # [08:10, 09:10)
    again = source.poll(now)  # e.g. the spool was full: the range is read again, ids unchanged
    assert len(once) == 1
    assert [e.event_id for e in once] == [e.event_id for e in again]
    assert {e.title for e in once} == {"Quarterly plan"}


def test_activitywatch_server_down_is_retried_quietly(tmp_path: Path) -> None:
    from alignmon.stack.process import free_port

    source = aw_source(f"http://127.0.0.1:{free_port()}", StateFile(tmp_path / "state.json"))
    assert source.poll(at(10, 10)) == []
    source.commit()
    assert StateFile(tmp_path / "state.json").get(ActivityWatchSource.STATE_KEY) is None


SCHEMA = """
CREATE TABLE application_active_hour (
    "day" DATE NOT NULL, "hour" INTEGER NOT NULL, "seconds_active" INTEGER NOT NULL DEFAULT 0,
    "path" VARCHAR NOT NULL, "profile_id" INTEGER NOT NULL DEFAULT 0
)
"""


def test_whatpulse_sends_settled_hours_once(tmp_path: Path) -> None:
    db = tmp_path / "whatpulse.db"
    con = sqlite3.connect(db)
    con.executescript(SCHEMA)
    con.executemany(
        "INSERT INTO application_active_hour (day, hour, seconds_active, path) VALUES (?, ?, ?, ?)",
        [
            ("2025-06-14", 8, 1200, "/usr/bin/code"),
            ("2025-06-14", 9, 600, "/usr/bin/code"),
            ("2025-06-14", 9, 300, "/usr/bin/firefox"),
            ("2025-06-14", 10, 900, "/usr/bin/code"),  # the hour still running at 10:40
            ("2025-06-01", 9, 100, "/usr/bin/old"),  # older than the 7-day look-back
        ],
    )
    con.commit()
    state = StateFile(tmp_path / "state.json")
    source = WhatPulseSource(db, state, device_id=DEVICE, user="alice", tz=UTC, settle_s=1800)

    # At 10:40 the 09:00 hour ended 40 min ago (settled, 30 min); 10:00 is still running.
    first = source.poll(at(10, 40))
    assert sorted((e.app, e.start, e.duration_s) for e in first) == [
        ("/usr/bin/code", at(8, 0), 1200.0),
        ("/usr/bin/code", at(9, 0), 600.0),
        ("/usr/bin/firefox", at(9, 0), 300.0),
    ]
    assert {(e.device_id, e.user, e.source) for e in first} == {(DEVICE, "alice", "whatpulse")}
    source.commit()
    assert source.poll(at(10, 45)) == []

    # WhatPulse keeps counting 10:00 until the hour is over; it is sent once settled, with the final value.
    con.execute("UPDATE application_active_hour SET seconds_active = 2400 WHERE hour = 10")
    con.commit()
    con.close()
    restarted = WhatPulseSource(
        db, StateFile(tmp_path / "state.json"), device_id=DEVICE, user="alice", tz=UTC, settle_s=1800
    )
    later = restarted.poll(at(11, 30))
    assert [(e.app, e.start, e.duration_s) for e in later] == [("/usr/bin/code", at(10, 0), 2400.0)]


def test_whatpulse_waits_for_a_database_that_is_not_there_yet(tmp_path: Path) -> None:
    source = WhatPulseSource(tmp_path / "none.db", StateFile(tmp_path / "s.json"), device_id=DEVICE, user="a", tz=UTC)
    assert source.poll(at(10, 0)) == []


def test_state_file_survives_reopen_and_tolerates_damage(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    state = StateFile(path)
    assert state.get("k") is None
    state.set("k", "v1")
    state.set("other", "x")
    assert StateFile(path).get("k") == "v1"
    path.write_text("{not json")
    assert StateFile(path).get("k") is None
    assert not path.with_name("state.json.tmp").exists()
