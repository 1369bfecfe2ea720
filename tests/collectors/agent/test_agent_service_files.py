"""The endpoint service files in deploy/agent/: each is valid for its service manager and runs a valid agent line.

Linux: the systemd user unit passes `systemd-analyze --user verify` (a check shown to fail on a broken copy).
macOS: the launchd plist parses, and its ProgramArguments are an agent command line for the activitywatch source.
Windows: the scheduled task's XML parses, runs at logon with no time limit, and its command line is an agent one.
Every command line goes through the agent's own argument parser, the one the .pyz runs.
"""

from __future__ import annotations

import argparse
import os
import plistlib
import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from alignmon.cli import build_parser

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy" / "agent"
UNIT = DEPLOY / "alignmon-agent.service"
PLIST = DEPLOY / "org.alignmon.agent.plist"
TASK = DEPLOY / "alignmon-agent-task.xml"
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
DOC = ROOT / "docs" / "collectors.md"
HOME = "/home/pat"
# systemd's specifiers in a user unit, for user pat: %h home, %E $XDG_CONFIG_HOME, %C $XDG_CACHE_HOME.
SPECIFIERS = {"%h": HOME, "%E": f"{HOME}/.config", "%C": f"{HOME}/.cache", "%%": "%"}


def agent_args(words: list[str]) -> argparse.Namespace:
    """The words after the .pyz, parsed as `alignmon agent` parses them (SystemExit on an invalid line)."""
    assert words[0] == "agent", words
    args = build_parser("agent").parse_args(words)
    assert args.command == "agent"
    assert args.token is None  # a token in argv is visible to every user of the computer
    assert args.token_file is not None
    assert args.gateway.startswith("https://")
    return args


# -- Linux: systemd user unit ------------------------------------------------------------------------------------------


def unit_entries(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's values by section and key (a key may repeat), continuation lines joined."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, line
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def expand(value: str) -> str:
    return re.sub("%[hEC%]", lambda m: SPECIFIERS[m.group(0)], value)


def verify_problems(unit: Path, tmp_path: Path) -> list[str]:
    """What `systemd-analyze --user verify` says about a copy of the unit (each line a problem), with its exit code.

    The user manager's checks need a runtime directory, which a test (or CI) has not: a private one is given.
    """
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: apt-get install systemd")
    copy = tmp_path / "units" / unit.name
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(unit, copy)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""}
    done = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(copy)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    if done.returncode != 0:
        problems.append(f"systemd-analyze --user verify exited {done.returncode}")
    return problems


def test_the_user_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    assert verify_problems(UNIT, tmp_path) == []


def test_the_verify_check_fails_on_a_broken_unit(tmp_path: Path) -> None:
    broken = tmp_path / UNIT.name
    text = UNIT.read_text()
    broken.write_text(text.replace("RestartSec=", "RestartSecs=").replace("/usr/bin/python3", "/usr/bin/no-python3"))
    problems = verify_problems(broken, tmp_path)
    assert any("RestartSecs" in line for line in problems), problems
    assert any("no-python3" in line for line in problems), problems


def test_the_user_unit_runs_the_pyz_with_the_token_from_the_users_config_dir() -> None:
    entries = unit_entries(UNIT.read_text())
    service = entries["Service"]
    (exec_start,) = service["ExecStart"]
    argv = shlex.split(expand(exec_start))
    assert argv[:2] == ["/usr/bin/python3", "/usr/local/lib/alignmon/alignmon-agent.pyz"]
    args = agent_args(argv[2:])
    assert args.token_file == Path(f"{HOME}/.config/alignmon/agent-token")
    assert args.sources is None  # x11, the Linux desktop's source
    assert expand(service["Environment"][0]) == f"SHIV_ROOT={HOME}/.cache/alignmon-agent"
    assert service["Restart"] == ["on-failure"] and service["RestartSec"] == ["60"]
    assert service["RestartPreventExitStatus"] == ["3"]  # the gateway refused the token: a restart cannot help
    assert entries["Install"]["WantedBy"] == ["graphical-session.target"]  # in the user's X session, with $DISPLAY


# -- macOS: launchd agent ----------------------------------------------------------------------------------------------


def test_the_launchd_agent_runs_the_activitywatch_source() -> None:
    with PLIST.open("rb") as stream:
        job = plistlib.load(stream)
    assert job["Label"] == PLIST.stem
    python, pyz, *words = job["ProgramArguments"]
    version = re.fullmatch(r"/Library/Frameworks/Python\.framework/Versions/3\.(\d+)/bin/python3", python)
    assert version and int(version.group(1)) >= 11, python
    assert pyz == "/Library/Application Support/alignmon/alignmon-agent.pyz"
    args = agent_args(words)
    assert args.sources == ["activitywatch"]
    assert args.token_file == Path("/Library/Application Support/alignmon/agent-token")
    assert job["RunAtLoad"] is True
    assert job["KeepAlive"] == {"SuccessfulExit": False}  # started again after an error, not after a clean stop


# -- Windows: scheduled task -------------------------------------------------------------------------------------------


def windows_argv(line: str) -> list[str]:
    """Split a command line as the Microsoft C runtime does, for lines without backslashes before quotes."""
    words: list[str] = []
    word, quoted, started = "", False, False
    for char in line:
        if char == '"':
            quoted, started = not quoted, True
        elif char in " \t" and not quoted:
            if started:
                words.append(word)
            word, started = "", False
        else:
            word, started = word + char, True
    if started:
        words.append(word)
    assert subprocess.list2cmdline(words) == line, "the splitter does not read this line as Windows would"
    return words


def test_the_scheduled_task_runs_the_activitywatch_source_at_logon() -> None:
    task = ET.parse(TASK).getroot()
    assert task.tag == f"{{{TASK_NS['t']}}}Task"
    (action,) = task.findall("t:Actions/t:Exec", TASK_NS)
    command = windows_argv(action.findtext("t:Command", "", TASK_NS))
    assert re.fullmatch(r"C:\\Program Files\\Python3(\d+)\\pythonw?\.exe", command[0]), command
    pyz, *words = windows_argv(action.findtext("t:Arguments", "", TASK_NS))
    assert pyz == r"C:\ProgramData\alignmon\alignmon-agent.pyz"
    args = agent_args(words)
    assert args.sources == ["activitywatch"]
    assert str(args.token_file) == r"C:\ProgramData\alignmon\agent-token"
    assert task.find("t:Triggers/t:LogonTrigger", TASK_NS) is not None
    principal = task.find("t:Principals/t:Principal", TASK_NS)
    assert principal is not None
    assert principal.findtext("t:GroupId", "", TASK_NS) == "S-1-5-32-545"  # each user, in their own session
    assert principal.findtext("t:RunLevel", "", TASK_NS) == "LeastPrivilege"
    settings = task.find("t:Settings", TASK_NS)
    assert settings is not None
    assert settings.findtext("t:ExecutionTimeLimit", "", TASK_NS) == "PT0S"  # the default stops it after 72 h
    assert settings.findtext("t:MultipleInstancesPolicy", "", TASK_NS) == "IgnoreNew"
    assert settings.find("t:RestartOnFailure", TASK_NS) is not None


# -- the guide names the same places -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "place",
    [
        "deploy/agent/alignmon-agent.service",
        "/usr/local/lib/alignmon/alignmon-agent.pyz",
        "~/.config/alignmon/agent-token",
        "deploy/agent/org.alignmon.agent.plist",
        "/Library/Application Support/alignmon/agent-token",
        "deploy/agent/alignmon-agent-task.xml",
        r"C:\ProgramData\alignmon\agent-token",
    ],
)
def test_the_install_guide_names_the_files_places(place: str) -> None:
    assert place in DOC.read_text(), f"docs/collectors.md does not mention {place}"
