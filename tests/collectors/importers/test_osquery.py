"""osquery result logs: event, snapshot and batch formats.

The fixture lines follow osquery's "Logging" page (docs/wiki/deployment/logging.md in osquery/osquery,
osquery.readthedocs.io/en/stable/deployment/logging/): see fixtures/README.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collectors.importers.osquery import parse_lines, read_results_log
from collectors.importers.record import ImportOptions, collect
from collectors.importers.service import import_paths

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ALICE = ImportOptions(user="alice", now=NOW)
SID = "S-1-5-21-1004336348-1177238915-682003330-1001"


def test_differential_log_imports_added_rows_and_skips_removed() -> None:
    result = collect(read_results_log(FIXTURES / "osquery-differential.log", options=ALICE))

    assert [(e.app, e.user, e.device_id, e.start) for e in result.events] == [
        # process_events "added": path, uid 501 qualified by its host, time 1749891600 = 2025-06-14 09:00 UTC
        (
            "/Applications/Slack.app/Contents/MacOS/Slack",
            "uid:501@mac-17",
            "mac-17",
            datetime(2025, 6, 14, 9, 0, tzinfo=UTC),
        ),
        # apps: no user column, so --user; last_opened_time 1749895200.5 = 10:00:00.5 UTC
        ("/Applications/Numbers.app", "alice", "mac-17", datetime(2025, 6, 14, 10, 0, 0, 500000, tzinfo=UTC)),
        # processes joined with users: the username column wins; start_time 1750060800 = 2025-06-16 08:00 UTC
        (
            "/Applications/zoom.us.app/Contents/MacOS/zoom.us",
            "bob",
            "mac-18",
            datetime(2025, 6, 16, 8, 0, tzinfo=UTC),
        ),
    ]
    assert {(e.kind, e.duration_s, e.source) for e in result.events} == {("launch", 0.0, "osquery")}
    assert "/usr/bin/vim" not in {e.app for e in result.events}  # a "removed" row is not evidence of use
    assert "/System/Applications/Chess.app" not in {e.app for e in result.events}  # never opened (-1)


def test_malformed_line_is_reported_with_file_and_line_and_the_rest_imports() -> None:
    path = FIXTURES / "osquery-differential.log"
    result = collect(read_results_log(path, options=ALICE))

    assert [(e.file, e.locator) for e in result.errors] == [(str(path), "line 4"), (str(path), "line 5")]
    assert result.errors[0].message.startswith("malformed JSON")
    assert str(result.errors[0]).startswith(f"{path}:line 4: malformed JSON")
    # osquery_info appears on lines 5 and 6 but is reported once.
    assert "query 'osquery_info' has no launch-evidence columns" in result.errors[1].message
    assert len(result.events) == 3


def test_snapshot_log_reads_userassist_and_prefetch() -> None:
    result = collect(read_results_log(FIXTURES / "osquery-snapshots.log", options=ALICE))

    assert result.errors == []
    excel = "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE"
    assert [(e.app, e.user, e.start) for e in result.events] == [
        # userassist: the SID names the user; 1749978000 = 2025-06-15 09:00 UTC; UEME_CTLSESSION has no time
        (excel, SID, datetime(2025, 6, 15, 9, 0, tzinfo=UTC)),
        # prefetch: the executable is `filename`, not the .pf path; no user column, so --user
        ("TEAMS.EXE", "alice", datetime(2025, 6, 15, 10, 0, tzinfo=UTC)),
        # the same userassist snapshot an hour later: the same launch
        (excel, SID, datetime(2025, 6, 15, 9, 0, tzinfo=UTC)),
    ]
    assert result.events[0].event_id == result.events[2].event_id


def test_repeated_snapshots_collapse_into_one_event_per_launch() -> None:
    result = import_paths("osquery", [FIXTURES / "osquery-snapshots.log"], user="alice", now=NOW)

    assert sorted(e.app for e in result.events) == [
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
        "TEAMS.EXE",
    ]


def test_batch_log_reads_added_and_skips_removed() -> None:
    result = collect(read_results_log(FIXTURES / "osquery-batch.log", options=ImportOptions(now=NOW)))

    assert result.errors == []
    assert [(e.app, e.user, e.device_id, e.start) for e in result.events] == [
        # 1750064400 = 2025-06-16 09:00 UTC; the removed firefox row is skipped
        (
            "/usr/lib/libreoffice/program/soffice.bin",
            "uid:1000@linux-3",
            "linux-3",
            datetime(2025, 6, 16, 9, 0, tzinfo=UTC),
        ),
    ]


def test_reimport_gives_identical_ids() -> None:
    paths = sorted(FIXTURES.glob("osquery-*.log"))
    first = import_paths("osquery", paths, user="alice", now=NOW)
    second = import_paths("osquery", paths, user="alice", now=NOW)

    assert [e.event_id for e in first.events] == [e.event_id for e in second.events]
    assert len(first.events) == 3 + 2 + 1


def test_row_without_user_and_no_fallback_is_an_error() -> None:
    line = (
        b'{"action":"added","columns":{"name":"Numbers.app","path":"/Applications/Numbers.app",'
        b'"last_opened_time":"1749895200"},"name":"apps","hostIdentifier":"mac-17",'
        b'"calendarTime":"Sat Jun 14 10:05:00 2025 UTC","unixTime":"1749895500","epoch":"0","counter":"1"}'
    )
    result = collect(parse_lines(iter([line]), file="results.log", options=ImportOptions(now=NOW)))

    assert result.events == []
    assert [(e.locator, e.message) for e in result.errors] == [
        ("line 1", "row names no user (username/uid/sid) and no --user was given")
    ]


def test_numeric_columns_and_missing_host_fall_back_to_device() -> None:
    # --logger_numerics writes numbers, not strings; a line without hostIdentifier takes --device.
    line = (
        b'{"action":"added","columns":{"path":"/usr/bin/gimp","pid":12,"time":1749891600,"uid":1000},'
        b'"name":"process_events","unixTime":1749891605,"epoch":0,"counter":1,"numerics":true}'
    )
    options = ImportOptions(device="ws-9", now=NOW)
    [event] = collect(parse_lines(iter([line]), file="results.log", options=options)).events

    assert (event.app, event.device_id, event.user) == ("/usr/bin/gimp", "ws-9", "uid:1000@ws-9")
    assert event.start == datetime(2025, 6, 14, 9, 0, tzinfo=UTC)


def test_unparseable_time_is_an_error_naming_the_row() -> None:
    line = (
        b'{"action":"snapshot","snapshot":[{"path":"a.exe","last_execution_time":"yesterday","sid":"S-1"}],'
        b'"name":"userassist","hostIdentifier":"win-1","calendarTime":"x","unixTime":"1","epoch":"0","counter":"0"}'
    )
    result = collect(parse_lines(iter([line]), file="results.log", options=ALICE))

    assert [(e.locator, e.message) for e in result.errors] == [
        ("line 1 snapshot[0]", "last_execution_time: time 'yesterday' is not unix seconds")
    ]
