"""WhatPulse databases in both schema versions, built here because WhatPulse cannot run on this machine.

The table layouts are WhatPulse's own, as seen in public tools that read whatpulse.db: older clients
store `seconds_active`, newer ones `msec_active` (plus an `applications` table keyed by path).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from collectors.importers.record import ImportOptions, collect
from collectors.importers.service import import_paths
from collectors.importers.whatpulse import read_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)

OLD_SCHEMA = """
CREATE TABLE application_active_hour (
    "day" DATE NOT NULL,
    "hour" INTEGER NOT NULL,
    "seconds_active" INTEGER NOT NULL DEFAULT 0,
    "path" VARCHAR NOT NULL,
    "profile_id" INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX application_active_hour_day_hour_path
    ON application_active_hour (day, hour, path, profile_id);
CREATE TABLE application_uptime (
    "last_active" DATETIME NOT NULL, "last_used" DATETIME, "time" INTEGER NOT NULL DEFAULT 0,
    "path" VARCHAR NOT NULL, "profile_id" INTEGER NOT NULL DEFAULT 0
);
"""
NEW_SCHEMA = """
CREATE TABLE applications (path TEXT PRIMARY KEY, name TEXT, bundle_identifier TEXT, app_category TEXT);
CREATE TABLE application_active_hour (
    "day" DATE NOT NULL,
    "hour" INTEGER NOT NULL,
    "path" VARCHAR NOT NULL,
    "msec_active" INTEGER NOT NULL DEFAULT 0,
    "profile_id" INTEGER NOT NULL DEFAULT 0
);
"""


def make_db(path: Path, schema: str, rows: list[tuple[object, ...]], columns: str) -> Path:
    con = sqlite3.connect(path)
    con.executescript(schema)
    con.executemany(f"INSERT INTO application_active_hour ({columns}) VALUES (?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return path


def old_db(tmp_path: Path) -> Path:
    return make_db(
        tmp_path / "whatpulse-old.db",
        OLD_SCHEMA,
        [
            ("2025-06-14", 9, 1800, "/usr/bin/firefox", 0),  # rowid 1
            ("2025-06-14", 10, 0, "/usr/bin/code", 0),  # rowid 2: no activity
            ("0000-00-00", 0, 120, "/usr/bin/firefox", 0),  # rowid 3: WhatPulse's null date
            ("2025-06-14", 23, 3000, "C:/Program Files/Slack/slack.exe", 1),  # rowid 4
        ],
        "day, hour, seconds_active, path, profile_id",
    )


def new_db(tmp_path: Path) -> Path:
    return make_db(
        tmp_path / "whatpulse-new.db",
        NEW_SCHEMA,
        [
            ("2025-06-15", 8, "teams.exe", 1_500_500, 0),  # rowid 1: 1500.5 s
            ("2025-06-15", 9, "excel.exe", 4_000_000, 0),  # rowid 2: 4000 s in one hour
            ("2025-06-15", 24, "excel.exe", 1000, 0),  # rowid 3: no hour 24
            ("0000-00-00", 0, "teams.exe", 5000, 0),  # rowid 4
            ("2025-06-15", 10, "excel.exe", 600_000, 2),  # rowid 5: 600 s
        ],
        "day, hour, path, msec_active, profile_id",
    )


def test_old_schema_seconds_active(tmp_path: Path) -> None:
    path = old_db(tmp_path)
    result = collect(read_database(path, user="alice", device="pc-7", options=ImportOptions(now=NOW)))

    assert [(e.app, e.start, e.duration_s) for e in result.events] == [
        ("/usr/bin/firefox", datetime(2025, 6, 14, 9, 0, tzinfo=UTC), 1800.0),
        ("C:/Program Files/Slack/slack.exe", datetime(2025, 6, 14, 23, 0, tzinfo=UTC), 3000.0),
    ]
    assert {(e.kind, e.source, e.device_id, e.user) for e in result.events} == {("focus", "whatpulse", "pc-7", "alice")}
    assert [str(e) for e in result.errors] == [f"{path}:application_active_hour rowid 3: invalid day '0000-00-00'"]


def test_new_schema_msec_active(tmp_path: Path) -> None:
    path = new_db(tmp_path)
    result = collect(read_database(path, user="alice", device="pc-7", options=ImportOptions(now=NOW)))

    assert [(e.app, e.start, e.duration_s) for e in result.events] == [
        ("teams.exe", datetime(2025, 6, 15, 8, 0, tzinfo=UTC), 1500.5),
        ("excel.exe", datetime(2025, 6, 15, 10, 0, tzinfo=UTC), 600.0),
    ]
    assert [(e.locator, e.message) for e in result.errors] == [
        (
            "application_active_hour rowid 2",
            "msec_active 4000000 is more than one hour of activity in an hour",
        ),
        ("application_active_hour rowid 3", "invalid hour 24"),
        ("application_active_hour rowid 4", "invalid day '0000-00-00'"),
    ]


def test_hours_are_local_time_of_the_given_zone(tmp_path: Path) -> None:
    path = old_db(tmp_path)
    options = ImportOptions(tz=ZoneInfo("Europe/Amsterdam"), now=NOW)
    result = collect(read_database(path, user="alice", device="pc-7", options=options))

    # 09:00 and 23:00 in Amsterdam summer time (UTC+2) are 07:00 and 21:00 UTC.
    assert [e.start for e in result.events] == [
        datetime(2025, 6, 14, 7, 0, tzinfo=UTC),
        datetime(2025, 6, 14, 21, 0, tzinfo=UTC),
    ]


def test_reimport_gives_identical_ids(tmp_path: Path) -> None:
    paths = [old_db(tmp_path), new_db(tmp_path)]
    first = import_paths("whatpulse", paths, user="alice", device="pc-7", now=NOW)
    second = import_paths("whatpulse", paths, user="alice", device="pc-7", now=NOW)

    assert [e.event_id for e in first.events] == [e.event_id for e in second.events]
    assert len({e.event_id for e in first.events}) == 4
    assert len(first.errors) == 4


def test_database_without_the_table_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).close()

    result = collect(read_database(path, user="alice", device="pc-7"))

    assert result.events == []
    assert [(e.locator, e.message.split(":")[0]) for e in result.errors] == [
        ("application_active_hour", "no application_active_hour table")
    ]


def test_unknown_schema_and_non_database_are_errors(tmp_path: Path) -> None:
    odd = tmp_path / "odd.db"
    con = sqlite3.connect(odd)
    con.execute("CREATE TABLE application_active_hour (day DATE, hour INTEGER, path VARCHAR, minutes INTEGER)")
    con.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)

    result = import_paths("whatpulse", [odd, junk], user="alice", device="pc-7")

    assert [(Path(e.file).name, e.locator) for e in result.errors] == [
        ("odd.db", "application_active_hour"),
        ("junk.db", "file"),
    ]
    assert "neither msec_active nor seconds_active" in result.errors[0].message


def test_the_current_hour_is_left_for_a_later_import(tmp_path: Path) -> None:
    # An hour that ended less than an hour ago may still grow: importing it now would fix a partial total
    # under an id that a later, complete import could never replace.
    path = tmp_path / "wp.db"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE application_active_hour (day TEXT, hour INTEGER, seconds_active INTEGER, path TEXT, "
        "profile_id INTEGER)"
    )
    con.executemany(
        "INSERT INTO application_active_hour VALUES (?, ?, ?, ?, 0)",
        [("2026-11-20", 9, 600, "/usr/bin/code"), ("2026-11-20", 11, 300, "/usr/bin/code")],
    )
    con.commit()
    con.close()
    now = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)  # 11:00-12:00 ended 30 minutes ago
    result = import_paths("whatpulse", [path], user="alice", device="pc-7", now=now)
    assert [(e.start.hour, e.duration_s) for e in result.events] == [(9, 600.0)]
    assert len(result.errors) == 1 and "has not settled yet" in str(result.errors[0])
    later = import_paths("whatpulse", [path], user="alice", device="pc-7", now=now + timedelta(hours=1))
    assert [(e.start.hour, e.duration_s) for e in later.events] == [(9, 600.0), (11, 300.0)]
