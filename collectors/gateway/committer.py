"""Group commit: requests' deliveries handed from the event loop to one thread that does them together.

Waiting for Kafka's acknowledgement blocks, so it cannot happen on the event loop. A thread per waiting request
(Starlette's thread pool) costs two thread switches and a wake-up of the loop per request, and its size caps how
many requests wait at once. Here one thread takes everything queued, delivers it in one call (one produce
round-trip, one spool fsync), and resolves all the requests' futures with one wake-up of their loop; while it
waits, the next group gathers. Each request still gets its own outcome.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

MAX_GROUP = 1000  # requests delivered in one call at most

_Job = tuple[T, "asyncio.Future[R]", asyncio.AbstractEventLoop]


class GroupCommitter(Generic[T, R]):
    """Run `commit(items) -> outcomes` (an outcome per item: a result, or an exception to raise) on one thread."""

    def __init__(self, commit: Callable[[list[T]], Sequence[R | BaseException]], max_group: int = MAX_GROUP) -> None:
        self._commit = commit
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Job[T, R] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gateway-commit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Deliver what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    async def submit(self, item: T) -> R:
        """The item's outcome once its group is delivered (raised, when it is an exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put((item, future, loop))
        return await future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                return
            group = [job]
            while len(group) < self._max_group:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                group.append(job)
            try:
                outcomes: Sequence[R | BaseException] = self._commit([item for item, _, _ in group])
            except Exception as exc:  # a defect: every request of the group gets it (a 500), none waits forever
                log.exception("delivering a group of %d requests failed", len(group))
                outcomes = [exc] * len(group)
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[R], R | BaseException]]] = {}
            for (_, future, loop), outcome in zip(group, outcomes, strict=True):
                by_loop.setdefault(loop, []).append((future, outcome))
            for loop, settled in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_settle, settled)
                except RuntimeError:  # the loop is closed: nobody waits for these any more
                    log.debug("a request's event loop closed before its delivery was settled")


def _settle(settled: list[tuple[asyncio.Future[R], R | BaseException]]) -> None:
    for future, outcome in settled:
        if future.cancelled():  # the client went away; its events are delivered all the same
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
