"""The gateway's uvicorn server in the foreground: SIGTERM or SIGINT stops it cleanly, says so, and exits 0.

uvicorn stops gracefully on a signal (no new connections; requests in flight answered, for up to its graceful
timeout; then the app's lifespan shutdown, which delivers the committer's queue and flushes and closes the
producer and the spool), and then raises the signal again, so the process ends "killed by SIGTERM" (143) however
clean the stop. Here the signal is not raised again: the status says how the stop went.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Generator
from types import FrameType

import uvicorn

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ForegroundServer(uvicorn.Server):
    """uvicorn's server whose `serve_until_signal()` returns an exit status instead of dying by the signal."""

    def __init__(self, config: uvicorn.Config, name: str = "gateway") -> None:
        super().__init__(config)
        self.name = name
        self.signal: signal.Signals | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signal.Signals(sig)
        super().handle_exit(sig, frame)  # a second SIGINT forces the exit, as in uvicorn

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        cause = f"on {self.signal.name}" if self.signal is not None else "as asked"
        log.info(
            "%s stopping %s: answering the requests in flight, then delivering what is queued and flushing the "
            "producer and the spool",
            self.name,
            cause,
        )
        await super().shutdown(sockets)

    def serve_until_signal(self, sockets: list[socket.socket] | None = None) -> int:
        """Serve until SIGTERM or SIGINT; 0 once every accepted event is in Kafka or in the closed spool, else 1."""
        self.run(sockets=sockets)
        lifespan = getattr(self, "lifespan", None)
        if not self.started:
            log.error("%s did not start (see the errors above)", self.name)
            return 1
        if self.force_exit:
            log.warning(
                "%s stopped at once (asked twice): requests in flight were not answered; what was answered 202 is in "
                "Kafka or in the spool, which the next start replays",
                self.name,
            )
            return 1
        if getattr(lifespan, "shutdown_failed", False) or getattr(lifespan, "error_occurred", False):
            log.error("%s stopped, but its shutdown failed (see the errors above)", self.name)
            return 1
        log.info("%s stopped cleanly: every event answered 202 is in Kafka or in the spool", self.name)
        return 0
