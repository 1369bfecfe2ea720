"""The sampler without X: a fake desktop and a fake /proc with real symlinks."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from base.errors import TransientError
from collectors.agent.sampler import Sampler, Window, app_name, exe_name
from collectors.agent.sources import FocusSource
from collectors.agent.spans import Sample, SpanRules

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    """A /proc look-alike: pid -> exe symlink."""
    for pid, target in {
        100: "/usr/bin/xterm",
        200: "/usr/bin/python3.11",
        300: "/opt/app/bin/editor (deleted)",
        400: "/usr/lib/jvm/java-17/bin/java",
    }.items():
        (tmp_path / str(pid)).mkdir()
        os.symlink(target, tmp_path / str(pid) / "exe")
    return tmp_path


class FakeDesktop:
    def __init__(self, window: Window | None, idle_ms: int) -> None:
        self.window = window
        self.idle = idle_ms
        self.closed = False

    def active_window(self) -> Window | None:
        return self.window

    def idle_ms(self) -> int:
        return self.idle

    def close(self) -> None:
        self.closed = True


def test_exe_name_reads_the_exe_link(proc: Path) -> None:
    assert exe_name(100, proc) == "xterm"
    assert exe_name(300, proc) == "editor"  # an upgraded binary still names the app
    assert exe_name(999, proc) is None


def test_app_name_prefers_the_executable_but_not_an_interpreter(proc: Path) -> None:
    assert app_name(Window(100, "XTerm"), proc) == "xterm"
    assert app_name(Window(200, "Meld"), proc) == "Meld"
    assert app_name(Window(400, "jetbrains-idea"), proc) == "jetbrains-idea"
    assert app_name(Window(200, None), proc) == "python3.11"
    assert app_name(Window(999, "Gimp"), proc) == "Gimp"  # exe unreadable (another user's process)
    assert app_name(Window(None, "Firefox-esr"), proc) == "Firefox-esr"
    assert app_name(Window(None, None), proc) is None
    assert app_name(Window(None, "  "), proc) is None


def test_sampler_reports_app_idle_seconds_and_title_only_when_asked(proc: Path) -> None:
    desktop = FakeDesktop(Window(100, "XTerm", "ssh prod-db"), idle_ms=2500)
    sample = Sampler(desktop, clock=lambda: NOW, proc=proc).sample()
    assert sample == Sample(NOW, "xterm", 2.5, None)
    with_titles = Sampler(desktop, titles=True, clock=lambda: NOW, proc=proc).sample()
    assert with_titles == Sample(NOW, "xterm", 2.5, "ssh prod-db")
    desktop.window = None
    assert Sampler(desktop, clock=lambda: NOW, proc=proc).sample() == Sample(NOW, None, 2.5)


class ScriptedSampler:
    """Returns scripted samples; a TransientError in the script is raised instead."""

    def __init__(self, script: list[Sample | TransientError]) -> None:
        self.script = script
        self.closed = False

    def sample(self) -> Sample:
        item = self.script.pop(0)
        if isinstance(item, TransientError):
            raise item
        return item

    def close(self) -> None:
        self.closed = True


def test_focus_source_turns_samples_into_events_and_survives_a_lost_display() -> None:
    from datetime import timedelta

    def at(s: float) -> datetime:
        return NOW + timedelta(seconds=s)

    first = ScriptedSampler([Sample(at(0), "code", 0), Sample(at(5), "code", 0), TransientError("display gone")])
    second = ScriptedSampler([Sample(at(20), "firefox", 0), Sample(at(25), "firefox", 0)])
    connections = [first, second]
    source = FocusSource(
        lambda: connections.pop(0),  # type: ignore[arg-type,return-value]
        SpanRules(interval_s=5),
        device_id="laptop-1",
        user="alice",
    )
    source.start()
    assert source.poll(at(0)) == []
    assert source.poll(at(5)) == []
    lost = source.poll(at(12))  # the display went away: the open span is closed one interval on
    assert [(e.app, e.start, e.duration_s) for e in lost] == [("code", at(0), 10.0)]
    assert first.closed
    assert source.poll(at(20)) == []  # reconnected; a new span opens
    assert source.poll(at(25)) == []
    flushed = source.flush(at(27))
    assert [(e.app, e.start, e.duration_s, e.device_id, e.user, e.source) for e in flushed] == [
        ("firefox", at(20), 7.0, "laptop-1", "alice", "agent")
    ]
