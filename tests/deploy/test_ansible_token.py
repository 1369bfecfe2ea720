"""deploy/ansible/alignmon-token.yml, run for real (ansible-playbook, local connection) on a tokens file from
`alignmon tokens issue --from`: it writes this host's token, owned by the agent's user, mode 0600 in a 0700
directory, at the path the agent's user unit reads; a host without a token stops the play and writes nothing."""

from __future__ import annotations

import os
import pwd
import shlex
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alignmon.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "deploy" / "ansible" / "alignmon-token.yml"
UNIT = ROOT / "deploy" / "agent" / "alignmon-agent.service"
DOC = ROOT / "docs" / "enrolment.md"


def agent_user() -> str:
    """An unprivileged user to own the file when the tests run as root (CI), else whoever runs them."""
    return "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def playbook(tmp_path: Path, tokens_csv: Path, token_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "ansible-playbook"
    if not binary.exists():
        pytest.skip("ansible-core is not installed (a dev dependency: pip install -e '.[dev]')")
    home = tmp_path / "ansible"
    env = {
        **os.environ,
        "LC_ALL": "C.UTF-8",  # ansible-playbook refuses to run under a locale that is not UTF-8
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / "remote-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    argv = [
        str(binary),
        "-i",
        "localhost,",
        "-c",
        "local",
        str(PLAYBOOK),
        "-e",
        "alignmon_hosts=localhost",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-e",
        f"alignmon_tokens_csv={tokens_csv}",
        "-e",
        f"alignmon_agent_user={agent_user()}",
        "-e",
        f"alignmon_token_file={token_file}",
        *extra,
    ]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def tokens_csv(tmp_path: Path) -> Path:
    """A tokens file for this host (as the agent names it: the host name) and another device."""
    devices = tmp_path / "devices.csv"
    devices.write_text(f"device,serial\n{socket.gethostname()},SN-1\nanother-host,SN-2\n")
    out = tmp_path / "tokens.csv"
    assert (
        main(["tokens", "--db", str(tmp_path / "tokens.sqlite"), "issue", "--from", str(devices), "--out", str(out)])
        == 0
    )
    return out


def test_the_playbook_writes_this_hosts_token_for_the_agents_user_only(tmp_path: Path, tokens_csv: Path) -> None:
    token_file = tmp_path / "home" / ".config" / "alignmon" / "agent-token"
    done = playbook(tmp_path, tokens_csv, token_file)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = dict(line.split(",")[:2] for line in tokens_csv.read_text().splitlines()[1:])
    assert token_file.read_text() == rows[socket.gethostname()] + "\n"  # this host's, found by its host name
    owner = pwd.getpwnam(agent_user()).pw_uid
    info = token_file.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o600, owner)
    folder = token_file.parent.stat()
    assert (stat.S_IMODE(folder.st_mode), folder.st_uid) == (0o700, owner)
    assert rows[socket.gethostname()] not in done.stdout + done.stderr  # no_log: the token is not in the output


def test_a_host_without_a_token_stops_the_play_and_writes_nothing(tmp_path: Path, tokens_csv: Path) -> None:
    token_file = tmp_path / "home" / ".config" / "alignmon" / "agent-token"
    done = playbook(tmp_path, tokens_csv, token_file, "-e", "alignmon_device=not-enrolled")
    assert done.returncode != 0
    assert "no token for device not-enrolled in" in done.stdout
    assert not token_file.parent.exists()


def test_the_playbook_writes_where_the_user_unit_reads_with_the_mode_the_docs_give() -> None:
    (play,) = yaml.safe_load(PLAYBOOK.read_text())
    assert play["vars"]["alignmon_token_file"] == "{{ alignmon_home }}/.config/alignmon/agent-token"
    tasks = {task["name"]: task for task in play["tasks"]}
    copy = tasks["The token file, readable by the agent's user only"]["ansible.builtin.copy"]
    assert (copy["mode"], copy["owner"]) == ("0600", "{{ alignmon_agent_user }}")
    assert tasks["The token file, readable by the agent's user only"]["no_log"] is True
    # The user unit reads %E/alignmon/agent-token: %E is $XDG_CONFIG_HOME, by default ~/.config.
    exec_start = next(line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart="))
    words = shlex.split(exec_start.removeprefix("ExecStart="))
    assert str(build_parser("agent").parse_args(words[2:]).token_file) == "%E/alignmon/agent-token"
    doc = DOC.read_text()
    assert (
        "`~/.config/alignmon/agent-token`" in doc
        and "mode 0600" in doc
        and "`deploy/ansible/alignmon-token.yml`" in doc
    )


@pytest.mark.parametrize(
    ("service_file", "token_file"),
    [
        ("alignmon-agent.service", "%E/alignmon/agent-token"),
        ("org.alignmon.agent.plist", "/Library/Application Support/alignmon/agent-token"),
        ("alignmon-agent-task.xml", r"C:\ProgramData\alignmon\agent-token"),
    ],
)
def test_the_enrolment_guide_names_the_token_files_the_service_files_read(service_file: str, token_file: str) -> None:
    assert f"--token-file {token_file}" in (ROOT / "deploy" / "agent" / service_file).read_text().replace(
        "</string>\n    <string>", " "
    )
    documented = token_file.replace("%E", "~/.config")
    assert f"`{documented}`" in DOC.read_text()
