"""Logging for the console script: alignmon's own progress, and libraries kept to one line a minute.

While a Kafka broker is down kafka-python logs every reconnect attempt at ERROR, some with a full
traceback: tens of lines a second, which bury the one line an operator needs. `LibraryDigest` lets
the first record of each kind through as one line and counts the repeats until a minute has passed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log every connection at INFO and every failed reconnect at ERROR.
LIBRARIES = ("kafka", "httpx", "uvicorn.access")
DIGEST_SECONDS = 60.0


class LibraryDigest(logging.Filter):
    """Pass a library's record once per `window` seconds per kind, without its traceback.

    A kind is the logger and the message before formatting ("%s: Abort (%s)"), so one broker's
    address or error text changing does not defeat the digest. The next record of a kind after the
    window says how many were held back.
    """

    def __init__(
        self,
        prefixes: tuple[str, ...] = LIBRARIES,
        window: float = DIGEST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.window = window
        self.clock = clock
        self._shown: dict[tuple[str, int, str], float] = {}
        self._held: dict[tuple[str, int, str], int] = {}

    def _from_library(self, name: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in self.prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._from_library(record.name):
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        shown = self._shown.get(kind)
        if shown is not None and now - shown < self.window:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        self._shown[kind] = now
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            message += f": {type(error).__name__}: {error}"
        held = self._held.pop(kind, 0)
        if held:
            message += f" ({held} more like this held back in the last {self.window:.0f} s)"
        record.msg, record.args = message, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def configure(verbose: bool) -> None:
    """Log to stderr; unless verbose, libraries only log warnings, digested as above."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=FORMAT, stream=sys.stderr)
    if verbose:
        return
    for library in LIBRARIES:
        logging.getLogger(library).setLevel(logging.WARNING)
    digest = LibraryDigest()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, LibraryDigest) for f in handler.filters):  # main() may run twice in a process
            handler.addFilter(digest)
