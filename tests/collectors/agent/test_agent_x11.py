"""The X11 sampler on a real X server: Xvfb, the openbox window manager, real xterm/xcalc/xlogo windows.

The focus is moved with EWMH activation requests (xdotool windowactivate) and idle is reset with real
XTEST pointer input, so the sampler reads exactly what a desktop session would show it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from collectors.agent.sampler import Sampler, app_name
from collectors.agent.sources import FocusSource
from collectors.agent.spans import SpanRules
from collectors.event import UsageEvent

pytestmark = pytest.mark.integration

XSession = Any


def x11_source(display: str, rules: SpanRules) -> FocusSource:
    from collectors.agent.x11 import X11Desktop

    source = FocusSource(
        lambda: Sampler(X11Desktop(display, titles=rules.titles), titles=rules.titles),
        rules,
        device_id="xvfb-laptop",
        user="tester",
    )
    source.start()
    return source


class SamplingThread:
    """Polls a source on its interval in the background, as the agent loop does."""

    def __init__(self, source: FocusSource) -> None:
        self.source = source
        self.events: list[UsageEvent] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.events += self.source.poll(datetime.now(UTC))
            next_at += self.source.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> SamplingThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.events += self.source.flush(datetime.now(UTC))
        self.source.close()


def test_desktop_reads_the_active_window_its_process_and_the_idle_time(
    xsession: XSession, x_apps: dict[str, int]
) -> None:
    from collectors.agent.x11 import X11Desktop

    desktop = X11Desktop(xsession.display, titles=True)
    try:
        for app, window in x_apps.items():
            xsession.activate(window)
            seen = desktop.active_window()
            assert seen is not None
            assert app_name(seen) == app
            assert seen.wm_class is not None
            # xcalc and xlogo set no _NET_WM_PID: their pid comes from the X-Resource extension.
            assert seen.pid == xsession.pids[window]
        assert xsession.has_net_wm_pid(x_apps["xterm"])
        assert not xsession.has_net_wm_pid(x_apps["xcalc"])
        xsession.nudge()
        assert desktop.idle_ms() < 1000
        time.sleep(1.5)  # the idle time under test: no input for 1.5 s must read as >= 1.4 s of idle
        assert desktop.idle_ms() >= 1400
        xsession.nudge()
        assert desktop.idle_ms() < 1000
    finally:
        desktop.close()


def test_titles_are_read_only_when_asked(xsession: XSession) -> None:
    from collectors.agent.x11 import X11Desktop

    proc, window = xsession.launch("xterm", "-T", "budget-2026-secret")
    try:
        xsession.activate(window)
        with_titles = X11Desktop(xsession.display, titles=True)
        without = X11Desktop(xsession.display)
        try:
            assert with_titles.active_window().title == "budget-2026-secret"  # type: ignore[union-attr]
            assert without.active_window().title is None  # type: ignore[union-attr]
        finally:
            with_titles.close()
            without.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_sampler_reports_exactly_the_windows_shown_for_as_long_as_they_had_focus(
    xsession: XSession, x_apps: dict[str, int]
) -> None:
    interval = 0.5
    plan = [("xterm", 3.0), ("xcalc", 4.0), ("xlogo", 2.5), ("xterm", 3.0)]
    xsession.activate(x_apps[plan[0][0]])
    shown: list[tuple[str, float, float]] = []
    with SamplingThread(x11_source(xsession.display, SpanRules(interval_s=interval))) as sampling:
        for app, seconds in plan:
            began = time.time()
            xsession.activate(x_apps[app])
            xsession.hold(seconds)
            shown.append((app, began, time.time()))
    events = sampling.events
    assert [e.app for e in events] == [app for app, _ in plan]
    for event, (app, began, ended) in zip(events, shown, strict=True):
        focused = ended - began
        # A switch is seen at the first sample after it: each boundary is off by at most one interval.
        assert abs(event.duration_s - focused) <= interval + 0.35, (app, event.duration_s, focused)
        assert abs(event.start.timestamp() - began) <= interval + 0.35, (app, event.start, began)
        assert (event.kind, event.source, event.device_id, event.user, event.title) == (
            "focus",
            "agent",
            "xvfb-laptop",
            "tester",
            None,
        )
    total = sum(e.duration_s for e in events)
    assert abs(total - (shown[-1][2] - shown[0][1])) <= 2 * interval


def test_idle_time_on_the_real_display_is_never_focus(xsession: XSession, x_apps: dict[str, int]) -> None:
    interval, threshold = 0.25, 2.0
    xsession.activate(x_apps["xterm"])
    with SamplingThread(x11_source(xsession.display, SpanRules(interval_s=interval, idle_threshold_s=threshold))) as s:
        xsession.hold(1.5)
        xsession.nudge()
        last_input = time.time()
        # The idle period under test (no input for longer than the threshold), not a wait for something:
        # its length is what the idle gap asserted below is measured against.
        time.sleep(threshold + 1.5)
        assert [e.app for e in s.events] == ["xterm"]
        back = time.time()
        xsession.nudge()
        xsession.hold(1.0)
    first, second = s.events
    assert abs(first.end.timestamp() - last_input) <= 0.3, (first.end.timestamp(), last_input)
    assert second.start.timestamp() >= back - 0.05
    assert second.start.timestamp() - back <= interval + 0.3
    idle_gap = second.start.timestamp() - first.end.timestamp()
    assert idle_gap >= threshold + 1.0


def test_a_window_closing_under_the_sampler_is_harmless(xsession: XSession, x_apps: dict[str, int]) -> None:
    proc, window = xsession.launch("xlogo")
    xsession.activate(window)
    source = x11_source(xsession.display, SpanRules(interval_s=0.1))
    events: list[UsageEvent] = []
    poll: Callable[[], None] = lambda: events.extend(source.poll(datetime.now(UTC)))  # noqa: E731
    for _ in range(5):  # the sampler's clock, driven by hand: a poll every 0.1 s
        poll()
        time.sleep(0.1)
    proc.terminate()
    proc.wait(timeout=10)
    for _ in range(10):
        poll()
        time.sleep(0.1)
    events += source.flush(datetime.now(UTC))
    source.close()
    assert events[0].app == "xlogo"
    assert 0.3 <= events[0].duration_s <= 1.5
