"""The agent on Windows, checked where this Linux CI can: every module a run imports type-checks for win32.

No Windows machine runs these tests. What stands in for one is mypy's `--platform win32`: typeshed declares each
POSIX-only name (fcntl, os.O_NOFOLLOW, signal.SIGHUP, ...) for non-Windows platforms only, so code that would fail on
Windows with an ImportError or AttributeError fails this check; the spool's Windows lock (msvcrt) is type-checked
the same way. The list of modules comes from a real agent run, so a module added to the agent's path is checked
without anyone remembering to add it here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alignmon.stack.process import free_port
from collectors.uploader import TOKEN_ENV
from tests.support.agent_run import run_agent

ROOT = Path(__file__).resolve().parents[3]
OURS = ("alignmon", "base", "collectors")


def mypy_for_windows(files: list[Path], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """mypy strict, as the project configures it, for win32 (its own cache: the project's is for Linux)."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--platform", "win32", "--cache-dir", str(tmp_path / "mypy-cache"),
         "--no-error-summary", *map(str, files)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def agent_modules(tmp_path: Path) -> list[Path]:
    """Our source files that `alignmon agent --source activitywatch` imports (the Windows path), from a real run."""
    result = run_agent(
        ["agent", "--source", "activitywatch", "--aw-url", f"http://127.0.0.1:{free_port()}",
         "--gateway", "http://127.0.0.1:9", "--once", "--interval", "0.1", "--spool", str(tmp_path / "spool")],
        {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), TOKEN_ENV: "t"},
        tmp_path,
    )  # fmt: skip
    assert "collectors.agent.agent" in result["modules"], result["stderr"]  # it built the agent
    files = []
    for name in result["modules"]:
        if name.split(".")[0] in OURS:
            module = sys.modules.get(name) or __import__(name, fromlist=["_"])
            if getattr(module, "__file__", None):
                files.append(Path(module.__file__).resolve())
    return sorted(set(files))


def test_every_module_of_the_agents_windows_path_type_checks_for_win32(tmp_path: Path) -> None:
    files = agent_modules(tmp_path)
    names = {f.relative_to(ROOT).as_posix() for f in files}
    assert {"collectors/spool.py", "collectors/uploader.py", "collectors/agent/sources.py", "alignmon/cli.py"} <= names
    done = mypy_for_windows(files, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_check_finds_a_posix_only_call(tmp_path: Path) -> None:
    """What the spool did before its port: the check above would have failed on it."""
    posix = tmp_path / "posix_only.py"
    posix.write_text("import fcntl\n\n\ndef lock(fd: int) -> None:\n    fcntl.flock(fd, fcntl.LOCK_EX)\n")
    done = mypy_for_windows([posix], tmp_path)
    assert done.returncode == 1
    assert 'Module has no attribute "flock"' in done.stdout
