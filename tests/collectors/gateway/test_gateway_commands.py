"""`alignmon tokens issue|revoke|list` and `alignmon gateway` through the real console entry point (fleet enrolment,
expiry and rotation: test_tokens_enrolment.py and test_tokens_gateway.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from alignmon.cli import main
from collectors.gateway.tokens import TokenStore


def test_issue_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "tokens.sqlite"
    assert main(["tokens", "--db", str(db), "issue", "laptop-1"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert len(token) == 43 and "\n" not in token
    assert "not shown again" in err
    store = TokenStore(db)
    assert store.authenticate(token) == "laptop-1"

    assert main(["tokens", "--db", str(db), "list"]) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["DEVICE", "CREATED", "EXPIRES", "STATE"]
    assert lines[1].split()[::3] == ["laptop-1", "active"]
    assert token not in out

    assert main(["tokens", "--db", str(db), "revoke", "laptop-1"]) == 0
    assert store.authenticate(token) is None
    capsys.readouterr()
    assert main(["tokens", "--db", str(db), "list"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[::3] == ["laptop-1", "revoked"]

    assert main(["tokens", "--db", str(db), "revoke", "laptop-1"]) == 1
    assert "has no active token" in capsys.readouterr().err
    store.close()


def test_token_db_comes_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALIGNMON_TOKEN_DB", str(tmp_path / "from-env.sqlite"))
    assert main(["tokens", "issue", "desk-9"]) == 0
    token = capsys.readouterr().out.strip()
    store = TokenStore(tmp_path / "from-env.sqlite")
    assert store.authenticate(token) == "desk-9"
    store.close()


def test_gateway_refuses_to_start_without_a_pseudonym_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ALIGNMON_PSEUDONYM_SECRET", raising=False)
    monkeypatch.setenv("ALIGNMON_DEV_MODE", "0")
    monkeypatch.setenv("ALIGNMON_TOKEN_DB", str(tmp_path / "t.sqlite"))
    monkeypatch.setenv("ALIGNMON_SPOOL_DIR", str(tmp_path / "spool"))
    assert main(["gateway", "--port", "0"]) == 1
    assert "ALIGNMON_PSEUDONYM_SECRET" in capsys.readouterr().err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_stops_the_gateway_with_one_line_saying_what_to_do(
    workers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {"DEV_MODE": "1", "STATE_DIR": str(tmp_path), "GATEWAY_WORKERS": workers}.items():
        monkeypatch.setenv(f"ALIGNMON_{name}", value)
    with socket.socket() as holder:  # another program on the port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["gateway", "--port", str(port)]) == 1
    out, err = capsys.readouterr()
    assert "alignmon gateway on" not in out  # no start line for a gateway that never served
    last = err.strip().splitlines()[-1]
    assert f"the gateway cannot listen on 127.0.0.1:{port}" in last
    assert "choose another port (ALIGNMON_GATEWAY_PORT, --port)" in last
    assert "Traceback" not in err


def test_help_texts_exist(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["gateway", "--help"], ["tokens", "--help"], ["tokens", "issue", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
    assert "Bearer" in capsys.readouterr().out
