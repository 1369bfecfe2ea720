"""`alignmon dashboards build` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignmon.cli import main
from metrics.thresholds import THRESHOLDS_PATH


def test_build_writes_one_file_per_dashboard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "build", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == [
        "alignmon-portfolio.json",
        "alignmon-investment.json",
        "alignmon-applications.json",
        "alignmon-pipeline.json",
        "alignmon-collectors.json",
    ]
    portfolio = json.loads((tmp_path / "out" / "alignmon-portfolio.json").read_text())
    assert portfolio["uid"] == "alignmon-portfolio"


def test_build_links_the_published_runbooks_and_warns_without_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALIGNMON_RUNBOOK_URL", raising=False)
    assert main(["dashboards", "build", "--out", str(tmp_path / "local")]) == 0
    assert "warning: no ALIGNMON_RUNBOOK_URL" in capsys.readouterr().err
    assert "file://" in (tmp_path / "local" / "alignmon-portfolio.json").read_text()
    monkeypatch.setenv("ALIGNMON_RUNBOOK_URL", "https://intranet.example.org/runbooks.html")
    assert main(["dashboards", "build", "--out", str(tmp_path / "site")]) == 0
    assert capsys.readouterr().err == ""
    built = [path.read_text() for path in (tmp_path / "site").glob("*.json")]
    assert all("file://" not in text for text in built)
    assert any("https://intranet.example.org/runbooks.html#" in text for text in built)


def test_build_follows_a_thresholds_file(tmp_path: Path) -> None:
    custom = tmp_path / "thresholds.yml"
    custom.write_text(THRESHOLDS_PATH.read_text().replace("max_lag_records: 50000", "max_lag_records: 1234"))
    assert main(["dashboards", "build", "--out", str(tmp_path), "--thresholds", str(custom)]) == 0
    health = json.loads((tmp_path / "alignmon-pipeline.json").read_text())
    lag = next(p for p in health["panels"] if p.get("title") == "Consumer lag")
    assert [s["value"] for s in lag["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 1234]


def test_build_reports_a_broken_thresholds_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "thresholds.yml"
    broken.write_text("runbook_base_url: x\n")
    assert main(["dashboards", "build", "--out", str(tmp_path), "--thresholds", str(broken)]) == 1
    assert f"{broken}: invalid thresholds" in capsys.readouterr().err


def test_help_names_both_actions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["dashboards", "--help"])
    out = capsys.readouterr().out
    assert "build" in out and "push" in out
