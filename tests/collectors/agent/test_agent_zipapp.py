"""The single-file agent (`make agent`: scripts/build_agent.py): what goes in, and that it runs on the system Python.

The file is built once per module (about 2 s) and run with /usr/bin/python3, with no virtualenv on PATH or
PYTHONPATH and HOME in a temporary directory: what an endpoint has. The end-to-end test sends both of its sources'
events (x11 on Xvfb, activitywatch from a real aw-server) through a real gateway into a real Kafka topic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from alignmon.zipapp import cannot_run
from collectors.agent.sources import ActivityWatchSource
from collectors.record import events_of

ROOT = Path(__file__).resolve().parents[3]
SYSTEM_PYTHON = Path("/usr/bin/python3")
SIZE_BUDGET = 5_000_000  # bytes; 3.5 MB when written, most of it pydantic-core's compiled validator

# Every library in the file, and why the agent needs it: a new one fails here until it is argued for.
LIBRARIES = {
    "pydantic": "the event contract (collectors/event.py)",
    "pydantic-core": "pydantic's compiled core",
    "annotated-types": "pydantic",
    "typing-extensions": "pydantic",
    "typing-inspection": "pydantic",
    "httpx": "the activitywatch source reads aw-server (collectors/importers/activitywatch.py)",
    "httpcore": "httpx",
    "h11": "httpcore",
    "anyio": "httpx",
    "idna": "httpx, anyio",
    "certifi": "the uploader's CA roots (collectors/uploader.py), httpx",
    "python-xlib": "the x11 source (collectors/agent/x11.py)",
    "six": "python-xlib",
}
# What must never be in it: the other stages and their libraries (an endpoint carries the agent alone).
ABSENT = ("duckdb", "pyarrow", "kafka", "uvicorn", "starlette", "yaml", "jinja2", "prometheus_client",
          "pydantic_settings", "numpy", "pipeline", "metrics", "dashboards", "alignment", "collectors/gateway",
          "collectors/simulate", "alignmon/stack", "alignmon/demo.py", "base/settings.py")  # fmt: skip

SECRET = "agent-pyz-secret-0123456789"
DEVICE = "pyz-e2e"


class Built(NamedTuple):
    path: Path
    seconds: float


def build(out: Path) -> Built:
    """`make agent`'s command, writing to `out`."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_agent.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return Built(out, time.monotonic() - began)


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("pyz") / "alignmon-agent.pyz")


@pytest.fixture(scope="module")
def system_python() -> Path:
    """/usr/bin/python3, when it is the Python minor version the file is built for (the virtualenv's)."""
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"no {SYSTEM_PYTHON}")
    done = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
        capture_output=True,
        text=True,
        check=True,
    )
    running = tuple(int(part) for part in done.stdout.split())
    if running != sys.version_info[:2]:
        pytest.skip(
            f"{SYSTEM_PYTHON} is Python {running}, the virtualenv {sys.version_info[:2]}: the file is per minor"
        )
    return SYSTEM_PYTHON


def endpoint_env(home: Path, **extra: str) -> dict[str, str]:
    """An endpoint's environment: no virtualenv on PATH, no PYTHONPATH, HOME and shiv's cache in `home`."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "SHIV_ROOT": str(home / "shiv"), "LANG": "C.UTF-8", **extra}


def run_pyz(
    python: Path, pyz: Path, args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), str(pyz), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )


def test_the_file_holds_the_agent_and_only_its_libraries(pyz: Built) -> None:
    with zipfile.ZipFile(pyz.path) as archive:
        names = archive.namelist()
        info = json.loads(archive.read("site-packages/alignmon/zipapp.json"))
    shipped = {
        name.split("/")[1].removesuffix(".dist-info").rsplit("-", 1)[0].lower().replace("_", "-")
        for name in names
        if name.startswith("site-packages/") and name.split("/")[1].endswith(".dist-info")
    }
    assert shipped == set(LIBRARIES)
    # Pinned: each at the version installed in the virtualenv that built it.
    assert info["libraries"] == {name: metadata.version(name) for name in sorted(LIBRARIES)}
    assert (info["python"], info["platform"]) == (f"{sys.version_info[0]}.{sys.version_info[1]}", sys.platform)
    for absent in ABSENT:
        assert not [n for n in names if n.startswith(f"site-packages/{absent}")], absent
    # Only the agent's own modules of alignmon: the entry point, the command line, the agent and what it imports.
    assert "collectors.agent.commands" in info["modules"]
    assert "collectors.importers.activitywatch" in info["modules"]
    assert not [m for m in info["modules"] if m.startswith(("collectors.gateway", "pipeline", "alignmon.stack"))]
    assert pyz.path.stat().st_size < SIZE_BUDGET, f"{pyz.path.stat().st_size} bytes"


def test_two_builds_of_one_tree_are_identical(pyz: Built, tmp_path: Path) -> None:
    again = build(tmp_path / "alignmon-agent.pyz")
    assert hashlib.sha256(again.path.read_bytes()).digest() == hashlib.sha256(pyz.path.read_bytes()).digest()
    assert again.seconds < 20, f"the build took {again.seconds:.1f} s"


def test_the_file_runs_the_agent_on_the_system_python_from_its_own_libraries(
    pyz: Built, system_python: Path, tmp_path: Path
) -> None:
    env = endpoint_env(tmp_path)
    helped = run_pyz(system_python, pyz.path, ["agent", "--help"], env, tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "--gateway URL" in helped.stdout and "activitywatch" in helped.stdout
    # Every module of the file imports on the system Python, from the file's own unpacked copy.
    code = (
        "import importlib, json, sys; "
        "mods = json.loads(sys.argv[1]); "
        "print(json.dumps({m: importlib.import_module(m).__file__ for m in mods}))"
    )
    with zipfile.ZipFile(pyz.path) as archive:
        modules = json.loads(archive.read("site-packages/alignmon/zipapp.json"))["modules"]
    wanted = [*modules, "pydantic", "pydantic_core._pydantic_core", "httpx", "Xlib.display", "certifi"]
    imported = run_pyz(
        system_python, pyz.path, ["-c", code, json.dumps(wanted)], {**env, "SHIV_INTERPRETER": "1"}, tmp_path
    )
    assert imported.returncode == 0, imported.stderr
    files = json.loads(imported.stdout.splitlines()[-1])
    outside = {m: f for m, f in files.items() if not f.startswith(str(tmp_path / "shiv"))}
    assert outside == {}


def test_other_commands_say_they_are_not_in_the_file(pyz: Built, system_python: Path, tmp_path: Path) -> None:
    env = endpoint_env(tmp_path)
    tokens = run_pyz(system_python, pyz.path, ["tokens", "issue", "laptop-1"], env, tmp_path)
    assert tokens.returncode == 2
    assert "`alignmon tokens` is not in the single-file agent" in tokens.stderr
    assert "Traceback" not in tokens.stderr
    bare = run_pyz(system_python, pyz.path, [], env, tmp_path)
    assert bare.returncode == 2 and "agent --help" in bare.stderr
    version = run_pyz(system_python, pyz.path, ["--version"], env, tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("alignmon ")
    typo = run_pyz(system_python, pyz.path, ["agnet"], env, tmp_path)
    assert typo.returncode == 2 and "unknown command 'agnet'" in typo.stderr


def test_a_file_for_another_python_or_os_says_what_to_do() -> None:
    built = {"python": "3.11", "platform": "linux"}
    assert cannot_run(built, python=(3, 11), platform="linux") is None
    assert cannot_run({}, python=(3, 12), platform="darwin") is None  # run from a source tree: nothing recorded
    problem = cannot_run(built, python=(3, 12), platform="linux")
    assert problem is not None and "built for Python 3.11 on linux" in problem and "make agent" in problem
    assert "built for Python 3.11 on linux" in (cannot_run(built, python=(3, 11), platform="darwin") or "")
    # Built on Windows, run there: the spool is ported (test_agent_windows.py); a Linux build is refused there.
    assert cannot_run({"python": "3.12", "platform": "win32"}, python=(3, 12), platform="win32") is None
    linux_build = cannot_run({"python": "3.12", "platform": "linux"}, python=(3, 12), platform="win32")
    assert "built for Python 3.12 on linux" in (linux_build or "")


def pseudonym(prefix: str, value: bytes) -> str:
    """The gateway's keyed pseudonyms, computed here independently of the code under test."""
    return prefix + hmac.new(SECRET.encode(), value, hashlib.sha256).hexdigest()[:32]


@pytest.mark.integration
def test_the_file_on_the_system_python_sends_both_sources_through_a_gateway_into_kafka(
    pyz: Built,
    system_python: Path,
    xsession: Any,
    x_apps: dict[str, int],
    aw_server: Any,
    kafka_bootstrap: str,
    topic: str,
    read_topic: Callable[..., list[Any]],
    tmp_path: Path,
    kafka_gateway: Callable[[str], Any],
) -> None:
    from collectors.gateway.app import create_app
    from collectors.gateway.server import BackgroundServer

    service = kafka_gateway(SECRET)
    home = tmp_path / "home"
    token_file = home / ".config" / "alignmon" / "agent-token"  # where the Linux user unit reads it
    token_file.parent.mkdir(parents=True)
    token_file.write_text(service.tokens.issue(DEVICE) + "\n")
    token_file.chmod(0o600)
    spool = home / ".local" / "state" / "alignmon" / "agent-spool"
    spool.mkdir(parents=True)
    # The activitywatch source resumes from its mark: 09:00 on the day the aw-server fixture holds (09:00-10:20).
    (spool / "sources.json").write_text(json.dumps({ActivityWatchSource.STATE_KEY: "2025-06-14T09:00:00+00:00"}))
    xsession.activate(x_apps["xterm"])
    server = BackgroundServer(create_app(service)).start()
    try:
        done = run_pyz(
            system_python,
            pyz.path,
            ["agent", "--gateway", server.url, "--token-file", str(token_file), "--source", "x11",
             "--source", "activitywatch", "--aw-url", aw_server.url, "--interval", "1", "--once",
             "--device", DEVICE, "--user", "Pat Pyz"],
            endpoint_env(home, DISPLAY=xsession.display),
            tmp_path,
        )  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr

    events = [e for r in read_topic(kafka_bootstrap, topic) for e in events_of(r.value)]
    seconds: dict[tuple[str, str], float] = defaultdict(float)
    for event in events:
        seconds[event["source"], event["app"]] += event["duration_s"]
        assert event["device_id"] == pseudonym("d_", b"device\x1f" + DEVICE.encode())
        assert event["user"] == pseudonym("u_", b"pat pyz")
        assert event["kind"] == "focus"
    # Two chunks of an hour were read (--once polls twice): firefox 09:00-09:20 and 09:25-09:30 (AFK between),
    # code 09:30-09:40, writer 09:40-10:20; x11 saw the xterm window for about one interval.
    assert {key: value for key, value in seconds.items() if key[0] == "activitywatch"} == {
        ("activitywatch", "firefox"): 1500.0,
        ("activitywatch", "code"): 600.0,
        ("activitywatch", "writer"): 2400.0,
    }
    assert [key for key in seconds if key[0] == "agent"] == [("agent", "xterm")]
    assert 0 < seconds["agent", "xterm"] < 30
    assert os.listdir(home / "shiv")  # it ran from the file's own unpacked libraries


def test_the_x11_library_goes_into_linux_builds_only() -> None:
    from scripts.build_agent import requirement_closure

    assert {"python-xlib", "six"} <= set(requirement_closure(["python-xlib", "pydantic"], target="linux"))
    elsewhere = set(requirement_closure(["python-xlib", "pydantic"], target="darwin"))
    assert "python-xlib" not in elsewhere and "six" not in elsewhere
    assert "pydantic-core" in elsewhere
