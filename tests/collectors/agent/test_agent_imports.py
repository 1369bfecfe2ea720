"""The agent stays small: `alignmon agent` imports only what it needs (its RSS budget is measured by bench/agent.py).

Checked on the modules a real run leaves in sys.modules, not by timing: one top-level import in a module on the
agent's path (a command module, the uploader, the sources) would otherwise bring back the megabytes silently.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest

from alignmon.cli import COMMAND_MODULES, _command_of, build_parser, main
from base.settings import Settings
from collectors.spool import Spool
from collectors.uploader import TOKEN_ENV, UploadConfigError, Uploader, environment_token
from tests.support.agent_run import run_agent

# What the agent does not need, with what each cost it (issue 16, docs/benchmarks.md "Agent").
HEAVY = (
    "httpx",  # ~7 MiB with its client; the uploader uses urllib
    "httpcore",
    "anyio",
    "asyncio",  # via pydantic-settings
    "pydantic_settings",
    "base.settings",
    "sqlite3",  # the whatpulse bridge only
    "collectors.importers.activitywatch",  # the activitywatch bridge only (httpx)
    "collectors.importers.whatpulse",
    "collectors.simulate",  # other commands' modules, which `alignmon agent` used to import all
    "collectors.gateway",
    "alignmon.demo",
    "yaml",
    "pyarrow",
    "duckdb",
    "kafka",
    "starlette",
    "uvicorn",
    "jinja2",
    "prometheus_client",
    "numpy",
    "pipeline",
    "metrics",
    "alignment",
    "dashboards",
)


def heavy_in(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_a_failing_agent_start_imported_nothing_heavy(tmp_path: Path) -> None:
    """Everything `alignmon agent` imports before it opens the display (no X server needed)."""
    result = run_agent(
        ["agent", "--gateway", "http://127.0.0.1:9", "--display", ":999", "--spool", str(tmp_path / "spool")],
        {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), TOKEN_ENV: "t"},
        tmp_path,
    )
    assert result["code"] == 1
    assert "cannot open X display :999" in result["stderr"]
    assert "collectors.agent.agent" in result["modules"]  # it got as far as building the agent
    assert "collectors.uploader" in result["modules"]
    assert heavy_in(result["modules"]) == []


@pytest.mark.integration
def test_a_whole_agent_run_with_uploads_imports_nothing_heavy(
    xsession: Any, x_apps: dict[str, int], stub: Any, tmp_path: Path
) -> None:
    """The real x11 path: sample a window on Xvfb, upload to the (stub) gateway, exit 0."""
    xsession.activate(x_apps["xterm"])
    result = run_agent(
        ["agent", "--gateway", stub.url, "--interval", "0.5", "--once", "--spool", str(tmp_path / "spool"),
         "--device", "imports"],
        {**xsession.env, TOKEN_ENV: "t"},
        tmp_path,
    )  # fmt: skip
    assert result["code"] == 0, result["stderr"]
    assert [e["app"] for r in stub.requests for e in r.events] == ["xterm"]
    assert "Xlib.display" in result["modules"]
    assert "urllib.request" in result["modules"]
    assert heavy_in(result["modules"]) == []


def test_the_command_table_says_what_each_module_registers() -> None:
    for module, commands in COMMAND_MODULES.items():
        sub = argparse.ArgumentParser().add_subparsers()
        __import__(module, fromlist=["register"]).register(sub)
        assert tuple(sub.choices) == commands, module
    whole = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert list(whole) == [c for commands in COMMAND_MODULES.values() for c in commands]


def test_help_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["-v", "--help"], ["--help", "agent"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        for commands in COMMAND_MODULES.values():
            for command in commands:
                # A name as long as `interventions` gets its own line: argparse puts the help under it.
                assert re.search(rf"^    {command}( |$)", text, re.M), (argv, command)


def test_which_command_a_line_runs() -> None:
    assert _command_of(["agent", "--gateway", "x"]) == "agent"
    assert _command_of(["-v", "agent"]) == "agent"
    assert _command_of(["--verbose", "tokens", "issue", "d"]) == "tokens"
    assert _command_of(["--help", "agent"]) is None
    assert _command_of(["--version"]) is None
    assert _command_of(["agnet"]) is None  # the whole parser names the choices
    assert _command_of([]) is None


def test_the_agent_alone_parses_its_lines_as_the_whole_parser_does() -> None:
    line = ["-v", "agent", "--gateway", "https://gw:18700", "--source", "x11", "--source", "whatpulse",
            "--whatpulse-db", "w.db", "--interval", "2", "--titles", "--once"]  # fmt: skip
    assert build_parser("agent").parse_args(line) == build_parser().parse_args(line)


@pytest.mark.parametrize(
    "environ",
    [
        {TOKEN_ENV: " tok "},
        {TOKEN_ENV.lower(): "lower"},
        {"Alignmon_Agent_Token": "mixed"},
        {TOKEN_ENV: ""},
        {},
    ],
)
def test_the_token_from_the_environment_is_the_settings_one(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in __import__("os").environ if n.upper() == TOKEN_ENV]:
        monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    setting = Settings().agent_token
    assert environment_token() == (None if setting is None else setting.get_secret_value())


def test_a_redirect_is_not_followed_but_a_configuration_error(tmp_path: Path, stub: Any, event: Any) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append([event(0).to_json_bytes()])
    stub.script = [stub.reply(308, {"Location": stub.url + "/v1/events"})]
    with pytest.raises(UploadConfigError, match="answered 308"):
        Uploader(spool, stub.url, "tok").upload_once()
    assert len(stub.requests) == 1
    assert spool.depth == 1
