"""`alignmon catalog check|which`: exit codes and output, through the real console entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignmon.cli import main

EXAMPLE = Path(__file__).resolve().parents[3] / "catalog" / "example"


def test_check_prints_a_summary_and_exits_0_on_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"catalog {EXAMPLE} OK (1 file)",
        "  applications: 3 (2 sanctioned)",
        "  objectives:   1",
        "  initiatives:  1",
        "  investments:  1 (0 tied to no initiative)",
        "  directory:    none (adoption ratios will be 'unknown')",
    ]


def test_check_with_a_directory_counts_users_and_prints_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALIGNMON_PSEUDONYM_SECRET", raising=False)
    csv = tmp_path / "people.csv"
    csv.write_text("user,department\na,Sales\nb,Sales\nc,Finance\n")
    assert main(["catalog", "check", str(EXAMPLE), "--directory", str(csv)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"{EXAMPLE / 'catalog.yaml'}:36: objectives[0].initiatives[0].investments[0].target_departments[1]: "
        "warning: department 'Support' is not in the directory"
    )
    assert "  directory:    3 users in 2 departments" in lines
    assert lines[-1] == "  warnings:     1"


def test_check_prints_every_error_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = (EXAMPLE / "catalog.yaml").read_text().replace("target_ratio: 0.8", "target_ratio: 80")
    bad = bad.replace("applications: [teams]", "applications: [temas]")
    (tmp_path / "catalog.yaml").write_text(bad)
    csv = tmp_path / "people.csv"
    csv.write_text("user,department\n,Sales\n")

    assert main(["catalog", "check", str(tmp_path), "--directory", str(csv)]) == 1
    inv = "objectives[0].initiatives[0].investments[0]"
    # Schema errors come first; cross-checks (the unknown 'temas') run once the files are valid.
    assert capsys.readouterr().out.splitlines() == [
        f"{csv}:2: user: empty user",
        f"{tmp_path / 'catalog.yaml'}:34: {inv}.target_ratio: must be between 0 and 1 (got 80)",
        f"2 errors in catalog {tmp_path}",
    ]


def test_check_reports_cross_check_errors_once_the_schema_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = (EXAMPLE / "catalog.yaml").read_text().replace("applications: [teams]", "applications: [temas]")
    (tmp_path / "catalog.yaml").write_text(bad)
    assert main(["catalog", "check", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path / 'catalog.yaml'}:28: objectives[0].initiatives[0].investments[0].applications[0]: "
        "unknown application 'temas' (did you mean 'teams'?)",
        f"1 error in catalog {tmp_path}",
    ]


def test_check_defaults_to_the_catalog_dir_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNMON_CATALOG_DIR", str(EXAMPLE))
    monkeypatch.delenv("ALIGNMON_DIRECTORY_CSV", raising=False)
    assert main(["catalog", "check"]) == 0
    assert capsys.readouterr().out.startswith(f"catalog {EXAMPLE} OK")

    monkeypatch.setenv("ALIGNMON_CATALOG_DIR", str(tmp_path))
    assert main(["catalog", "check"]) == 1
    assert (
        capsys.readouterr().out.splitlines()[0]
        == f"{tmp_path}: (folder): no catalog files (*.yaml, *.yml) in this folder"
    )


def test_which_shows_the_winning_rule(capsys: pytest.CaptureFixture[str]) -> None:
    raw = "C:\\Program Files\\Microsoft\\Teams\\ms-teams.exe"
    assert main(["catalog", "which", raw, "--catalog", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == f"{raw}\tteams\t(basename: ms-teams.exe)\n"

    assert main(["catalog", "which", "slack.exe", "teams", "--catalog", str(EXAMPLE)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "slack.exe\t-\t(no rule matches)",
        "teams\tteams\t(exact: Teams)",
    ]


def test_which_on_an_invalid_catalog_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "which", "x", "--catalog", str(tmp_path / "missing")]) == 1
    assert "no such catalog folder or file" in capsys.readouterr().err


def test_catalog_without_an_action_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog"]) == 2
    assert "check" in capsys.readouterr().out
