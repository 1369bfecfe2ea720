"""`alignmon import …`: NDJSON out, errors and the summary on stderr."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from base.errors import AlignmonError
from collectors.event import UsageEvent
from collectors.importers.commands import register

FIXTURES = Path(__file__).parent / "fixtures"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="alignmon")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_osquery_import_writes_ndjson_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "events.ndjson"
    log = FIXTURES / "osquery-differential.log"

    code = run(
        [
            "import",
            "osquery",
            str(log),
            str(FIXTURES / "osquery-batch.log"),
            "--user",
            "alice",
            "--out",
            str(out),
        ]
    )

    err = capsys.readouterr().err.splitlines()
    events = [UsageEvent.model_validate(json.loads(line)) for line in out.read_text().splitlines()]
    assert code == 0
    assert len(events) == 4
    assert {e.source for e in events} == {"osquery"}
    assert err[0].startswith(f"{log}:line 4: malformed JSON")
    assert err[-1] == "imported 4 events from 2 files, 2 records rejected"


def test_activitywatch_export_through_the_cli(aw_export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["import", "activitywatch", str(aw_export), "--user", "alice", "--tz", "Europe/Amsterdam"])

    captured = capsys.readouterr()
    events = [UsageEvent.model_validate(json.loads(line)) for line in captured.out.splitlines()]
    assert code == 0
    # laptop-1: six spans in UTC but five in Amsterdam (23:50-00:10 UTC is 01:50-02:10 local, not split),
    # 3345 s; laptop-3: two spans, 900 s.
    assert len(events) == 5 + 2
    assert sum(e.duration_s for e in events) == 3345.0 + 900.0
    assert captured.err.splitlines()[-1] == "imported 7 events from 1 files, 1 records rejected"


def test_missing_user_is_a_clean_error(aw_export: Path) -> None:
    with pytest.raises(AlignmonError, match="--user"):
        run(["import", "activitywatch", str(aw_export)])


def test_only_rejections_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.log"
    bad.write_text("not json\n")

    assert run(["import", "osquery", str(bad), "--user", "alice"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "imported 0 events from 1 files, 1 records rejected"
