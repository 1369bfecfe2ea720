"""`alignmon simulate` writes the directory, the catalog and NDJSON events, with progress on stderr."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from alignmon.cli import main
from base.pseudonym import DEV_KEY, pseudonymise
from collectors.event import UsageEvent
from collectors.simulate import Organisation

AFTER = {"now": datetime(2100, 1, 1, tzinfo=UTC)}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PSEUDONYM_SECRET", "DEV_MODE", "TIMEZONE", "STATE_DIR", "AS_OF"):
        monkeypatch.delenv("ALIGNMON_" + name, raising=False)


def test_writes_files_and_ndjson(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    ndjson = tmp_path / "events.ndjson"
    argv = ["simulate", "--seed", "7", "--days", "3", "--as-of", "2026-03-04", "--out-dir", str(out)]
    assert main([*argv, "--ndjson", str(ndjson)]) == 0
    lines = ndjson.read_text().splitlines()
    org = Organisation.build(7, 1.0, date(2026, 3, 4))
    per_day = [len(list(org.dicts_for_day(d))) for d in org.backfill_days(3)]
    assert len(lines) == sum(per_day) > 0
    events = [UsageEvent.model_validate(json.loads(line), context=AFTER) for line in lines]
    assert {e.start.date() for e in events} == {date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)}
    assert (out / "directory.csv").read_text().startswith("user,department\n")
    assert "applications" in yaml.safe_load((out / "catalog.yaml").read_text())
    err = capsys.readouterr().err
    assert f"day 1/3: {per_day[0]:,} events" in err and f"day 3/3: {per_day[2]:,} events" in err


def test_stdout_by_default_and_rerun_is_identical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--days", "1", "--as-of", "2026-03-03", "--out-dir", str(tmp_path)]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    assert capsys.readouterr().out == first
    assert first.count("\n") > 1000


def test_pseudonymise_needs_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--days", "1", "--as-of", "2026-03-03", "--out-dir", str(tmp_path), "--pseudonymise"]
    assert main(argv) == 1
    assert "ALIGNMON_PSEUDONYM_SECRET" in capsys.readouterr().err


def test_pseudonymise_with_the_dev_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNMON_DEV_MODE", "1")
    argv = ["simulate", "--days", "1", "--as-of", "2026-03-03", "--out-dir", str(tmp_path), "--pseudonymise"]
    assert main(argv) == 0
    users = {json.loads(line)["user"] for line in capsys.readouterr().out.splitlines()}
    assert pseudonymise("sales.001", DEV_KEY) in users
    assert not any(u.startswith("sales.") for u in users)


def test_as_of_defaults_to_the_configured_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNMON_AS_OF", "2026-03-03")
    assert main(["simulate", "--days", "1", "--out-dir", str(tmp_path)]) == 0
    starts = {json.loads(line)["start"][:10] for line in capsys.readouterr().out.splitlines()}
    assert starts == {"2026-03-03"}


def test_days_zero_writes_only_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["simulate", "--days", "0", "--scale", "0.5", "--tz", "Europe/Amsterdam", "--out-dir", str(tmp_path)]) == 0
    )
    assert capsys.readouterr().out == ""
    rows = (tmp_path / "directory.csv").read_text().splitlines()
    assert len(rows) == 1 + 106  # 30 + 20 + 40 + 8 + 4 + 4 (Legal does not scale)
    assert yaml.safe_load((tmp_path / "catalog.yaml").read_text())["settings"]["timezone"] == "Europe/Amsterdam"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tz", "Mars/Olympus"], "unknown time zone"),
        (["--scale", "0"], "--scale must be positive"),
        (["--days", "-1"], "--days must be 0 or more"),
    ],
)
def test_bad_arguments_are_clean_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["simulate", "--out-dir", str(tmp_path), *args]) == 1
    assert message in capsys.readouterr().err


def test_bad_date_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--as-of", "March"])
    assert "not a day" in capsys.readouterr().err
