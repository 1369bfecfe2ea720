"""Fixtures of the agent tests: a scripted gateway stand-in, a real X display (Xvfb + openbox), events.

Test modules run in importlib mode and cannot import each other, so helpers come as fixtures.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors.event import UsageEvent
from tests.support.wait import wait_until

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# Every program the X11 tests run, and the Debian package that provides it.
X_PROGRAMS = {
    "Xvfb": "xvfb",
    "openbox": "openbox",
    "xdotool": "xdotool",
    "xterm": "xterm",
    "xcalc": "x11-apps",
    "xlogo": "x11-apps",
}


def make_event(n: int, device: str = "laptop-1", user: str = "alice") -> UsageEvent:
    """A valid focus event numbered n (ids `ev-<n>`), n minutes after T0."""
    return UsageEvent(
        event_id=f"ev-{n}",
        kind="focus",
        device_id=device,
        user=user,
        app="code",
        start=T0 + timedelta(minutes=n),
        duration_s=30.0,
        source="agent",
    )


@pytest.fixture
def event() -> Callable[..., UsageEvent]:
    return make_event


@pytest.fixture
def kafka_gateway(kafka_bootstrap: str, topic: str, tmp_path: Path) -> Callable[[str], Any]:
    """`kafka_gateway(secret)`: a real gateway service producing to this test's topic (serve it yourself)."""
    from base.settings import Settings
    from collectors.gateway.service import GatewayService
    from collectors.sink import KafkaSink

    def build(secret: str) -> GatewayService:
        settings = Settings(
            pseudonym_secret=secret,
            token_db=tmp_path / "tokens.sqlite",
            spool_dir=tmp_path / "gateway-spool",
            kafka_bootstrap=kafka_bootstrap,
            topic=topic,
            directory_csv=None,
            titles_enabled=False,
            dev_mode=False,
        )
        return GatewayService.from_settings(settings, sink=KafkaSink(kafka_bootstrap, topic))

    return build


# -- a scripted gateway --------------------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer; a 202 without a body accepts every event of the request."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@dataclass
class Seen:
    """One request the stub received."""

    headers: dict[str, str]
    events: list[dict[str, Any]]

    @property
    def ids(self) -> list[str]:
        return [e["event_id"] for e in self.events]


class StubGateway:
    """Answers POST /v1/events on the shared test HTTP server (pytest-httpserver) from a script, then with 202."""

    reply = Reply

    def __init__(self, server: HTTPServer) -> None:
        self.script: list[Reply] = []
        self.decide: Callable[[list[dict[str, Any]]], Reply] | None = None
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self.url = server.url_for("").rstrip("/")
        server.expect_request(re.compile("/.*"), method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        raw = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        reply = self._reply(request.path, dict(request.headers), json.loads(raw))
        return Response(json.dumps(reply.body), reply.status, reply.headers, content_type="application/json")

    def _reply(self, path: str, headers: dict[str, str], events: list[dict[str, Any]]) -> Reply:
        with self._lock:
            self.requests.append(Seen(headers, events))
            if path != "/v1/events":
                return Reply(404, body={"error": {"status": 404, "code": "not_found", "message": "no such path"}})
            if self.script:
                reply = self.script.pop(0)
            elif self.decide is not None:
                reply = self.decide(events)
            else:
                reply = Reply(202)
        if reply.status == 202 and reply.body is None:
            return Reply(202, reply.headers, {"accepted": len(events), "rejected": 0, "errors": []})
        if reply.body is None:
            code = {401: "unauthorized", 413: "payload_too_large", 429: "rate_limited"}.get(reply.status, "error")
            return Reply(
                reply.status, reply.headers, {"error": {"status": reply.status, "code": code, "message": code}}
            )
        return reply


@pytest.fixture
def stub(httpserver: HTTPServer) -> Iterator[StubGateway]:
    yield StubGateway(httpserver)
    httpserver.check()  # an error inside the stub fails the test


# -- a real X display ---------------------------------------------------------------------------------


class XSession:
    """Xvfb with openbox on a display of its own; launch X programs and move the focus between them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pids: dict[int, int] = {}  # window -> pid of the program that opened it
        read_fd, write_fd = os.pipe()
        # -displayfd: Xvfb picks a free display number and writes it to us once it accepts connections.
        self.xvfb = self._spawn(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
            "xvfb",
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        number = b""
        with os.fdopen(read_fd, "rb") as pipe:
            while not number.endswith(b"\n"):
                chunk = pipe.read(1)
                if not chunk:
                    raise RuntimeError(f"Xvfb did not start: {self.log('xvfb')}")
                number += chunk
        self.display = f":{int(number)}"
        self.env = {**os.environ, "DISPLAY": self.display}
        self._spawn(["openbox", "--sm-disable"], "openbox")
        wait_until(self._wm_ready, 20, "openbox to manage the display", interval=0.05)

    def _spawn(self, argv: list[str], name: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                argv,
                env=kwargs.pop("env", getattr(self, "env", os.environ)),
                stdout=log,
                stderr=subprocess.STDOUT,
                **kwargs,
            )
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _property(self, window: int | None, name: str) -> Any:
        """A property of a window (the root when None) read with python-xlib; None when unset."""
        from Xlib import X, display

        conn = display.Display(self.display)
        try:
            target = conn.screen().root if window is None else conn.create_resource_object("window", window)
            reply = target.get_full_property(conn.intern_atom(name), X.AnyPropertyType)
            return None if reply is None else reply.value
        finally:
            conn.close()

    def _wm_ready(self) -> bool:
        return self._property(None, "_NET_SUPPORTING_WM_CHECK") is not None

    def xdotool(self, *args: str, check: bool = True) -> str | None:
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=20, check=False)
        if done.returncode != 0:
            if check:
                raise AssertionError(f"xdotool {' '.join(args)} failed: {done.stderr}")
            return None
        return done.stdout.strip()

    def launch(self, *argv: str) -> tuple[subprocess.Popen[bytes], int]:
        """Start an X toolkit program under a unique resource name; returns it and its top-level window.

        The window is found by that name (its WM_CLASS instance): xcalc and xlogo set no _NET_WM_PID.
        """
        self._launched = getattr(self, "_launched", 0) + 1
        name = f"alignmon-test-{self._launched}"
        proc = self._spawn([argv[0], "-name", name, *argv[1:]], argv[0])
        found = self.xdotool("search", "--sync", "--onlyvisible", "--classname", f"^{name}$")
        assert found, f"{argv[0]} opened no window"
        window = int(found.split()[0])
        self.pids[window] = proc.pid
        return proc, window

    def activate(self, window: int) -> None:
        """Give the window the focus through the window manager (an EWMH request), then touch the mouse."""
        self.xdotool("windowactivate", "--sync", str(window))
        wait_until(lambda: self.active() == window, 10, f"window {window} to become active", interval=0.05)
        self.nudge()

    def has_net_wm_pid(self, window: int) -> bool:
        return self._property(window, "_NET_WM_PID") is not None

    def active(self) -> int | None:
        out = self.xdotool("getactivewindow", check=False)
        return int(out) if out else None

    def nudge(self) -> None:
        """Real (XTEST) pointer input: resets the X idle counter."""
        self.xdotool("mousemove_relative", "--", "1", "1")

    def hold(self, seconds: float) -> None:
        """Keep the user active for `seconds`: real pointer input every half second (the input under test)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.nudge()
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def need_x_programs() -> None:
    """Skip, naming the Debian package, when a program the X11 tests use is missing."""
    pytest.importorskip("Xlib", reason="python-xlib is not installed: pip install -e '.[dev]'")
    for program, package in X_PROGRAMS.items():
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed: apt-get install {package}")


@pytest.fixture(scope="session")
def xsession(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XSession]:
    need_x_programs()
    session = XSession(tmp_path_factory.mktemp("xvfb"))
    yield session
    session.close()


@pytest.fixture(scope="session")
def x_apps(xsession: XSession) -> dict[str, int]:
    """Three focusable windows of three different executables: app name -> window id."""
    windows: dict[str, int] = {}
    for argv in (["xterm"], ["xcalc"], ["xlogo"]):
        _, window = xsession.launch(*argv)
        windows[argv[0]] = window
    return windows


# -- a real ActivityWatch server ------------------------------------------------------------------------

AW_HOST = "laptop-aw"


def aw_at(hour: int, minute: int) -> datetime:
    return datetime(2025, 6, 14, hour, minute, tzinfo=UTC)


# (start, seconds, data); the source tests compute focus from these by hand.
AW_WINDOW = [
    (aw_at(9, 0), 1800, {"app": "firefox", "title": "Quarterly plan"}),  # 09:00-09:30
    (aw_at(9, 30), 600, {"app": "code", "title": "main.py"}),  # 09:30-09:40
    (aw_at(9, 40), 2400, {"app": "writer", "title": "Report"}),  # 09:40-10:20
]
AW_AFK = [
    (aw_at(9, 0), 1200, {"status": "not-afk"}),  # 09:00-09:20
    (aw_at(9, 20), 300, {"status": "afk"}),  # 09:20-09:25
    (aw_at(9, 25), 3900, {"status": "not-afk"}),  # 09:25-10:30
]


@pytest.fixture(scope="session")
def aw_server(start_aw_server: Callable[[str], Any]) -> Any:
    """A real aw-server (PyPI aw-server, testing mode) with a window and an AFK bucket of AW_HOST."""
    from aw_core.models import Event

    server = start_aw_server("aw")
    with server.clients("alignmon-agent-test") as client:
        aw = client(AW_HOST)
        for bucket, kind, events in (
            (f"aw-watcher-window_{AW_HOST}", "currentwindow", AW_WINDOW),
            (f"aw-watcher-afk_{AW_HOST}", "afkstatus", AW_AFK),
        ):
            aw.create_bucket(bucket, kind)
            aw.insert_events(
                bucket, [Event(timestamp=ts, duration=timedelta(seconds=d), data=data) for ts, d, data in events]
            )
    return server
