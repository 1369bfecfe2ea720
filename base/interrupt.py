"""Ctrl-C and SIGTERM as KeyboardInterrupt, remembered.

DuckDB turns a KeyboardInterrupt raised while a query runs into `RuntimeError("Query interrupted")`, with no link to
the interrupt; the command line asks `received()` so that such an error still ends the command as an interruption
(exit 130, no traceback) and `finally` blocks clean up on the way out.
"""

from __future__ import annotations

import signal
from types import FrameType


class _Received:
    signal: int | None = None


def _raise(signum: int, _frame: FrameType | None) -> None:
    _Received.signal = signum
    raise KeyboardInterrupt


def install(*signals: signal.Signals) -> None:
    """Make each of `signals` raise KeyboardInterrupt in the main thread, and remember it. Without `signals`: SIGINT,
    unless something other than Python's default handles it (a shell starts background jobs with it ignored)."""
    if not signals and signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    for each in signals or (signal.SIGINT,):
        signal.signal(each, _raise)


def received() -> bool:
    """Whether a signal installed here has arrived."""
    return _Received.signal is not None
