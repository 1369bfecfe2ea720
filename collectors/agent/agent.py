"""The agent's loop: poll each source on its interval into the disk spool; upload from a second thread.

Memory stays small: a source hands over at most one bounded poll of events, which goes straight to the
spool; the uploader reads at most one batch back. When the spool holds `max_spool_events` the agent
refuses new events (it never drops queued ones): live x11 spans are then lost with a loud log, while the
ActivityWatch and WhatPulse sources simply do not advance their marks and read the same range again later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from collectors.agent.sources import Source
from collectors.event import UsageEvent
from collectors.spool import Spool
from collectors.uploader import UploadAuthError, UploadConfigError, Uploader

log = logging.getLogger(__name__)

DEFAULT_MAX_SPOOL_EVENTS = 100_000
EXIT_OK = 0
EXIT_PENDING = 1  # --once: events are still in the spool
EXIT_REFUSED = 3  # the gateway refused the token or the URL


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Agent:
    """Sources -> spool -> uploader; `run()` until `stop()`, or `once()` for one collection round."""

    def __init__(
        self,
        sources: Sequence[Source],
        spool: Spool,
        uploader: Uploader,
        *,
        max_spool_events: int = DEFAULT_MAX_SPOOL_EVENTS,
        upload_interval_s: float = 30.0,
        status_interval_s: float = 600.0,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not sources:
            raise ValueError("the agent needs at least one source")
        self.sources = list(sources)
        self.spool = spool
        self.uploader = uploader
        self.max_spool_events = max_spool_events
        self.upload_interval_s = upload_interval_s
        self.status_interval_s = status_interval_s
        self.clock = clock
        self.monotonic = monotonic
        self.spooled = 0
        self.refused = 0
        self.fatal: Exception | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._last_full_log = float("-inf")

    # -- collecting -------------------------------------------------------------------------------

    def store(self, events: Sequence[UsageEvent], source: str) -> bool:
        """Append events to the spool; False (and nothing stored) when they would overfill it."""
        if not events:
            return True
        if self.spool.depth + len(events) > self.max_spool_events:
            self.refused += len(events)
            now = self.monotonic()
            if now - self._last_full_log >= 60.0:
                self._last_full_log = now
                log.error(
                    "SPOOL FULL: %d events wait for the gateway (limit %d); refusing %d new %s events "
                    "(%d refused so far). Is the gateway reachable?",
                    self.spool.depth,
                    self.max_spool_events,
                    len(events),
                    source,
                    self.refused,
                )
            return False
        self.spool.append(event.to_json_bytes() for event in events)
        self.spooled += len(events)
        if self.spool.depth >= self.uploader.batch_size:
            self._wake.set()
        return True

    def poll(self, source: Source) -> None:
        """One poll of one source into the spool; a failing source is logged and polled again later."""
        try:
            events = source.poll(self.clock())
        except Exception:
            log.exception("source %s failed; polling it again in %.0f s", source.name, source.interval_s)
            return
        if self.store(events, source.name):
            source.commit()

    def flush(self) -> None:
        """Close the sources' open spans into the spool (on shutdown)."""
        now = self.clock()
        for source in self.sources:
            try:
                self.store(source.flush(now), source.name)
            except Exception:
                log.exception("closing source %s failed", source.name)

    # -- running ----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask `run()` to finish: flush, try one last upload, close (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def run(self) -> int:
        """Poll and upload until `stop()`; returns the exit code."""
        uploader = threading.Thread(target=self._upload_loop, name="agent-upload", daemon=True)
        uploader.start()
        due = {id(source): self.monotonic() for source in self.sources}
        next_status = self.monotonic() + self.status_interval_s
        try:
            while not self._stop.is_set():
                now = self.monotonic()
                for source in self.sources:
                    if due[id(source)] <= now:
                        self.poll(source)
                        # Keep the cadence; skip missed ticks rather than bursting after a stall.
                        step = due[id(source)] + source.interval_s
                        due[id(source)] = now if source.behind else (step if step > now else now + source.interval_s)
                if now >= next_status:
                    next_status = now + self.status_interval_s
                    self._log_status()
                self._stop.wait(max(0.0, min(due.values()) - self.monotonic()))
        finally:
            self._stop.set()
            self._wake.set()
            uploader.join(timeout=60)
            self.flush()
            if self.fatal is None:
                self._final_upload()
            self.close()
        return EXIT_REFUSED if self.fatal is not None else EXIT_OK

    def once(self, wait_s: float, *, sleep: Callable[[float], bool] | None = None, max_attempts: int = 5) -> int:
        """Poll every source, wait `wait_s`, poll again, close spans, upload all; for cron-style use and tests."""
        pause = sleep if sleep is not None else self._stop.wait
        try:
            for source in self.sources:
                self.poll(source)
            pause(wait_s)
            for source in self.sources:
                self.poll(source)
            self.flush()
            try:
                self.uploader.drain(sleep=pause, max_attempts=max_attempts)
            except (UploadAuthError, UploadConfigError) as exc:
                self.fatal = exc
                log.critical("%s", exc)
                return EXIT_REFUSED
            if self.spool.depth:
                log.error(
                    "%d events are still in the spool %s; they go with the next run",
                    self.spool.depth,
                    self.spool.directory,
                )
                return EXIT_PENDING
            return EXIT_OK
        finally:
            self.close()

    def close(self) -> None:
        for source in self.sources:
            try:
                source.close()
            except Exception:
                log.exception("closing source %s failed", source.name)
        self.uploader.close()
        self.spool.close()

    def _upload_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.uploader.drain(sleep=self._stop.wait)
            except (UploadAuthError, UploadConfigError) as exc:
                self.fatal = exc
                log.critical("%s", exc)
                log.critical("stopping the agent: nothing can be uploaded until this is fixed")
                self.stop()
                return
            except Exception:
                log.exception("upload failed unexpectedly; trying again in %.0f s", self.upload_interval_s)
            self._wake.wait(self.upload_interval_s)
            self._wake.clear()

    def _final_upload(self) -> None:
        if not self.spool.depth:
            return
        try:
            self.uploader.drain(sleep=lambda _s: True, max_attempts=1)
        except (UploadAuthError, UploadConfigError) as exc:
            log.error("final upload refused: %s", exc)
        if self.spool.depth:
            log.info("%d events stay in the spool %s for the next start", self.spool.depth, self.spool.directory)

    def _log_status(self) -> None:
        log.info(
            "agent: %d events spooled, %d accepted by the gateway, %d rejected, %d refused (spool full), "
            "%d waiting in the spool",
            self.spooled,
            self.uploader.accepted_total,
            self.uploader.dropped_total,
            self.refused,
            self.spool.depth,
        )
