"""Ctrl-C (and SIGTERM, where a command asks) as KeyboardInterrupt, remembered.

DuckDB turns a KeyboardInterrupt raised while a query runs into `RuntimeError("Query interrupted")`, with no link to
the interrupt; the command line asks `received()` so that such an error still ends the command as an interruption
(exit 130, no traceback) and `finally` blocks clean up on the way out. Only the first signal raises: a second one (the
demo's SIGTERM after the terminal's Ctrl-C reached its whole process group) must not cut that cleanup short.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class _Received:
    signal: int | None = None


def _raise(signum: int, _frame: FrameType | None) -> None:
    if _Received.signal is not None:  # already stopping: let the cleanup finish
        return
    _Received.signal = signum
    raise KeyboardInterrupt


def install(*signals: signal.Signals) -> None:
    """Make each of `signals` raise KeyboardInterrupt in the main thread, once, and remember it. Without `signals`:
    SIGINT, unless something other than Python's default handles it (a shell starts background jobs with it ignored).
    Nothing off the main thread (signals are the main thread's)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if not signals and signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    for each in signals or (signal.SIGINT,):
        signal.signal(each, _raise)


def received() -> bool:
    """Whether a signal installed here has arrived since `reset()`."""
    return _Received.signal is not None


def reset() -> None:
    """Forget a signal received before (a command line run again in the same process)."""
    _Received.signal = None
