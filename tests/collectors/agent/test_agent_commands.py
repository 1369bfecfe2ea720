"""`alignmon agent`: arguments, the token sources, clear errors, and a whole --once run."""

from __future__ import annotations

import argparse
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alignmon.cli import main
from base.errors import AlignmonError
from collectors.agent.commands import default_spool
from collectors.uploader import TOKEN_ENV, read_token

Stub = Any


def args(**kwargs: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"token": None, "token_file": None, **kwargs})


def test_the_agent_command_is_registered_with_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["agent", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--gateway",
        "--token-file",
        "--source",
        "--interval",
        "--spool",
        "--device",
        "--user",
        "--once",
        "--titles",
        "--max-spool-events",
        "--idle-threshold",
        "--max-span",
        TOKEN_ENV,
    ):
        assert option in text


def test_token_precedence_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, " env-token ")
    file = tmp_path / "token"
    file.write_text("file-token\n")
    assert read_token(args(token="argv-token", token_file=file)) == "argv-token"
    assert read_token(args(token_file=file)) == "file-token"
    assert read_token(args()) == "env-token"
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(AlignmonError, match=f"no device token: set \\${TOKEN_ENV}"):
        read_token(args())
    file.write_text("  \n")
    with pytest.raises(AlignmonError, match="the token file is empty"):
        read_token(args(token_file=file))
    with pytest.raises(AlignmonError, match="cannot read the device token"):
        read_token(args(token_file=tmp_path / "missing"))
    file.write_bytes(b"\xff\xfe")
    with pytest.raises(AlignmonError, match="the token file is not UTF-8 text"):
        read_token(args(token_file=file))
    with pytest.raises(AlignmonError, match="--token is empty"):
        read_token(args(token="  "))


def test_default_spool_follows_xdg_state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_spool() == tmp_path / "alignmon" / "agent-spool"


def test_default_spool_on_windows_is_in_the_users_local_app_data(tmp_path: Path) -> None:
    local = tmp_path / "AppData" / "Local"
    assert default_spool("win32", {"LOCALAPPDATA": str(local)}) == local / "alignmon" / "agent-spool"
    # Without the variable (a service account's odd profile), the home-relative default as elsewhere.
    assert default_spool("win32", {"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "alignmon" / "agent-spool"
    assert default_spool("linux", {"LOCALAPPDATA": str(local), "XDG_STATE_HOME": str(tmp_path)}) == (
        tmp_path / "alignmon" / "agent-spool"
    )


def test_whatpulse_without_a_database_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "t")
    code = main(["agent", "--gateway", "http://127.0.0.1:9", "--source", "whatpulse", "--spool", str(tmp_path)])
    assert code == 1
    assert "the whatpulse source needs --whatpulse-db FILE" in capsys.readouterr().err


def test_x11_without_a_display_fails_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("Xlib", reason="python-xlib is not installed: pip install -e '.[dev]'")
    monkeypatch.setenv(TOKEN_ENV, "t")
    code = main(["agent", "--gateway", "http://127.0.0.1:9", "--display", ":4711", "--spool", str(tmp_path / "s")])
    assert code == 1
    assert "cannot open X display :4711" in capsys.readouterr().err


def test_once_with_whatpulse_uploads_settled_hours(tmp_path: Path, stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    hour = (datetime.now(UTC) - timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    db = tmp_path / "whatpulse.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE application_active_hour (day DATE, hour INTEGER, path VARCHAR, msec_active INTEGER)")
    con.execute(
        "INSERT INTO application_active_hour VALUES (?, ?, ?, ?)", (hour.date().isoformat(), hour.hour, "code", 90_500)
    )
    con.commit()
    con.close()
    monkeypatch.setenv(TOKEN_ENV, "secret-token")
    monkeypatch.setenv("TZ", "UTC")
    argv = [
        "agent",
        "--gateway",
        stub.url,
        "--source",
        "whatpulse",
        "--whatpulse-db",
        str(db),
        "--once",
        "--interval",
        "0.05",
        "--spool",
        str(tmp_path / "spool"),
        "--device",
        "pc-7",
        "--user",
        "carol",
    ]
    code = main(argv)
    assert code == 0
    (request,) = stub.requests
    assert request.headers["Authorization"] == "Bearer secret-token"
    (sent,) = request.events
    assert (sent["app"], sent["device_id"], sent["user"], sent["duration_s"], sent["source"]) == (
        "code",
        "pc-7",
        "carol",
        90.5,
        "whatpulse",
    )
    assert datetime.fromisoformat(sent["start"]) == hour
    # A second run sends nothing again: the mark is in the spool directory.
    assert main(argv) == 0
    assert len(stub.requests) == 1


def test_without_a_zone_name_the_agent_uses_the_offset_it_starts_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows has neither $TZ nor /etc/localtime: days split at the UTC offset of the start (docs/collectors.md)."""
    from datetime import datetime, timezone

    from collectors.agent.commands import local_timezone

    def no_link(path: str) -> str:
        raise OSError(2, "No such file or directory", path)

    monkeypatch.setenv("TZ", "Europe/Berlin")
    assert str(local_timezone()) == "Europe/Berlin"
    monkeypatch.delenv("TZ")
    monkeypatch.setattr("os.readlink", no_link)
    zone = local_timezone()
    assert isinstance(zone, timezone)
    assert zone.utcoffset(None) == datetime.now().astimezone().utcoffset()
