"""Foreground sampling behind a small desktop interface, so the span logic never touches X itself."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from collectors.agent.spans import Sample

log = logging.getLogger(__name__)

PROC = Path("/proc")
# Executables that run someone else's program: their name says nothing about the app, WM_CLASS does.
INTERPRETERS = re.compile(
    r"^(python[0-9.]*|java|node(js)?|electron[0-9]*|perl[0-9.]*|ruby[0-9.]*|sh|bash|dash|zsh|wine(64)?"
    r"|wine64-preloader|wine-preloader|mono|dotnet|qemu-.*|bwrap|flatpak-.*)$"
)


class Window(NamedTuple):
    """What the window manager says about the foreground window."""

    pid: int | None
    wm_class: str | None
    title: str | None = None


class Desktop(Protocol):
    """The two facts the agent reads from a desktop session."""

    def active_window(self) -> Window | None:
        """The focused top-level window, or None when nothing has focus."""
        ...

    def idle_ms(self) -> int:
        """Milliseconds since the user's last keyboard or pointer input."""
        ...

    def close(self) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def exe_name(pid: int, proc: Path = PROC) -> str | None:
    """The executable's file name of a process, from /proc/<pid>/exe; None when it cannot be read."""
    try:
        target = os.readlink(proc / str(pid) / "exe")
    except OSError:
        return None
    name = os.path.basename(target.removesuffix(" (deleted)"))
    return name or None


def app_name(window: Window, proc: Path = PROC) -> str | None:
    """The application of a window: its executable, else (or for an interpreter) its WM_CLASS class."""
    exe = exe_name(window.pid, proc) if window.pid else None
    wm_class = window.wm_class.strip() if window.wm_class and window.wm_class.strip() else None
    if exe and (wm_class is None or not INTERPRETERS.match(exe)):
        return exe
    return wm_class or exe


class Sampler:
    """Takes one `Sample` of a desktop: foreground app (title only when asked) and idle seconds."""

    def __init__(
        self,
        desktop: Desktop,
        *,
        titles: bool = False,
        clock: Callable[[], datetime] = _utcnow,
        proc: Path = PROC,
    ) -> None:
        self.desktop = desktop
        self.titles = titles
        self.clock = clock
        self.proc = proc

    def sample(self) -> Sample:
        window = self.desktop.active_window()
        idle_s = self.desktop.idle_ms() / 1000.0
        at = self.clock()
        if window is None:
            return Sample(at, None, idle_s)
        app = app_name(window, self.proc)
        if app is None:
            log.debug("foreground window of pid %s has neither a readable executable nor WM_CLASS", window.pid)
        return Sample(at, app, idle_s, window.title if self.titles else None)

    def close(self) -> None:
        self.desktop.close()
