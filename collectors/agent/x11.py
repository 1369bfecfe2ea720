"""The X11 desktop: EWMH `_NET_ACTIVE_WINDOW` and `_NET_WM_PID`, and the MIT-SCREEN-SAVER idle time.

Many X programs (xcalc, xlogo, older toolkits) never set `_NET_WM_PID`; for those the pid of the
window's owner comes from the X-Resource extension (XResQueryClientIds, local clients only), and only
when that fails too does the sampler fall back to the WM_CLASS class name.

Needs python-xlib (the `agent` extra) and a window manager that maintains `_NET_ACTIVE_WINDOW`
(every EWMH one: GNOME, KDE, Xfce, openbox, fluxbox, ...). Wayland sessions are not supported.
"""

from __future__ import annotations

import contextlib
from typing import Any

from base.errors import AlignmonError, TransientError
from collectors.agent.sampler import Window


class X11Error(AlignmonError):
    """The X display cannot be used by the agent (no display, no EWMH window manager, no idle extension)."""


class X11LostError(TransientError):
    """The connection to the X server broke (the session ended or the server restarted)."""


class X11Desktop:
    """A connection to one X display, read through python-xlib."""

    def __init__(self, display_name: str | None = None, *, titles: bool = False) -> None:
        self.titles = titles
        try:
            from Xlib import display as xdisplay  # noqa: PLC0415  (optional dependency)
            from Xlib import error as xerror  # noqa: PLC0415
        except ImportError:
            raise X11Error(
                "the x11 source needs python-xlib: pip install 'alignmon[agent]' (or pip install python-xlib)"
            ) from None
        self._xerror = xerror
        try:
            self._display: Any = xdisplay.Display(display_name)
        except (xerror.DisplayError, xerror.ConnectionClosedError) as exc:
            raise X11Error(f"cannot open X display {display_name or '$DISPLAY'}: {exc}") from None
        if not self._display.has_extension("MIT-SCREEN-SAVER"):
            self._display.close()
            raise X11Error("the X server has no MIT-SCREEN-SAVER extension: the idle time cannot be read")
        self._root = self._display.screen().root
        self._active = self._display.intern_atom("_NET_ACTIVE_WINDOW")
        self._pid = self._display.intern_atom("_NET_WM_PID")
        self._name = self._display.intern_atom("_NET_WM_NAME")
        self._utf8 = self._display.intern_atom("UTF8_STRING")
        self._has_res = self._display.has_extension("X-Resource")

    def _client_pid(self, window_id: int) -> int | None:
        """The pid of the local client that owns a window, from X-Resource 1.2; None when unknown."""
        if not self._has_res:
            return None
        from Xlib.ext import res  # noqa: PLC0415

        reply = self._display.res_query_client_ids([{"client": window_id, "mask": res.LocalClientPIDMask}])
        for client in reply.ids:
            if client.spec.mask & res.LocalClientPIDMask and client.value:
                return int(client.value[0])
        return None

    def _property(self, window: Any, atom: int, kind: int) -> Any:
        reply = window.get_full_property(atom, kind)
        return None if reply is None else reply.value

    def active_window(self) -> Window | None:
        """The window named by the root's _NET_ACTIVE_WINDOW, with its pid, class and title."""
        from Xlib import X  # noqa: PLC0415

        try:
            value = self._property(self._root, self._active, X.AnyPropertyType)
            if value is None or len(value) == 0 or int(value[0]) == 0:
                return None
            window = self._display.create_resource_object("window", int(value[0]))
            pid_value = self._property(window, self._pid, X.AnyPropertyType)
            pid = int(pid_value[0]) if pid_value is not None and len(pid_value) > 0 else self._client_pid(window.id)
            wm_class = window.get_wm_class()
            # Titles are private: not even read unless asked for.
            name = (self._property(window, self._name, self._utf8) or window.get_wm_name()) if self.titles else None
        except self._xerror.ConnectionClosedError as exc:
            raise X11LostError(f"lost the X display: {exc}") from None
        except self._xerror.XError:
            return None  # the window closed between two requests; the next sample sees its successor
        title = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        return Window(pid, wm_class[1] if wm_class else None, title or None)

    def idle_ms(self) -> int:
        """Milliseconds since the last input, from XScreenSaverQueryInfo."""
        try:
            return int(self._root.screensaver_query_info().idle)
        except self._xerror.ConnectionClosedError as exc:
            raise X11LostError(f"lost the X display: {exc}") from None

    def close(self) -> None:
        with contextlib.suppress(self._xerror.ConnectionClosedError):
            self._display.close()
