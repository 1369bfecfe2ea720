"""Where the agent's events come from: the live X11 sampler and the local ActivityWatch and WhatPulse data.

Every source is polled on its own interval; `poll` returns the events that are final since the last poll
(a bounded amount), and `commit` is called once those events are durable in the spool, so a source that
keeps a high-water mark only moves it past events that cannot be lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from base.errors import TransientError
from collectors.agent.sampler import Sampler
from collectors.agent.spans import FocusSpan, SpanBuilder, SpanRules, span_event
from collectors.agent.state import StateFile
from collectors.event import UsageEvent
from collectors.importers.record import ImportItem, ImportOptions, RecordError

if TYPE_CHECKING:
    # The bridges' readers (httpx, sqlite3) are imported when a bridge polls: the x11 agent never needs them.
    from collectors.importers.activitywatch import ActivityWatchClient

log = logging.getLogger(__name__)


class Source(Protocol):
    """One producer of usage events inside the agent."""

    name: str
    interval_s: float

    @property
    def behind(self) -> bool:
        """True when the last poll stopped early (a bounded catch-up) and the next should follow at once."""
        ...

    def poll(self, now: datetime) -> list[UsageEvent]: ...

    def commit(self) -> None:
        """The events of the last poll are in the spool: remember how far this source got."""
        ...

    def flush(self, now: datetime) -> list[UsageEvent]:
        """Events still held open (on shutdown)."""
        ...

    def close(self) -> None: ...


class FocusSource:
    """Live focus spans from a desktop sampler (the X11 one in production)."""

    name = "x11"

    def __init__(self, connect: Callable[[], Sampler], rules: SpanRules, *, device_id: str, user: str) -> None:
        self.interval_s = rules.interval_s
        self.device_id = device_id
        self.user = user
        self._connect = connect
        self._builder = SpanBuilder(rules)
        self._sampler: Sampler | None = None

    @property
    def behind(self) -> bool:
        return False

    def start(self) -> None:
        """Connect now, so a missing display fails at start-up rather than at the first poll."""
        self._sampler = self._connect()

    def _events(self, spans: Iterable[FocusSpan]) -> list[UsageEvent]:
        return [span_event(span, device_id=self.device_id, user=self.user) for span in spans]

    def poll(self, now: datetime) -> list[UsageEvent]:
        if self._sampler is None:
            try:
                self._sampler = self._connect()
                log.info("x11: connected to the display again")
            except Exception as exc:
                log.debug("x11: display still unavailable: %s", exc)
                return []
        try:
            sample = self._sampler.sample()
        except TransientError as exc:
            log.warning("x11: %s; closing the open span and reconnecting on the next poll", exc)
            self._sampler.close()
            self._sampler = None
            return self._events(self._builder.flush(now))
        return self._events(self._builder.feed(sample))

    def commit(self) -> None:
        pass

    def flush(self, now: datetime) -> list[UsageEvent]:
        return self._events(self._builder.flush(now))

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.close()
            self._sampler = None


def _events_of(items: Iterable[ImportItem], source: str, *, device_id: str, titles: bool) -> list[UsageEvent]:
    """Importer output as this device's events: record errors logged, titles dropped unless kept."""
    events: list[UsageEvent] = []
    for item in items:
        if isinstance(item, RecordError):
            log.warning("%s: skipped a record: %s", source, item)
            continue
        update: dict[str, object] = {}
        # The gateway accepts only the device its token was issued to.
        if item.device_id != device_id:
            update["device_id"] = device_id
        if not titles and item.title is not None:
            update["title"] = None
        events.append(item.model_copy(update=update) if update else item)
    return events


class _Bridge:
    """What the bridges share: a read mark kept in the state file, moved only once their events are spooled."""

    STATE_KEY: str

    def __init__(
        self,
        state: StateFile,
        *,
        device_id: str,
        user: str,
        tz: tzinfo,
        interval_s: float,
        settle_s: float,
        lookback_s: float,
    ) -> None:
        self.state = state
        self.device_id = device_id
        self.user = user
        self.tz = tz
        self.interval_s = interval_s
        self.settle = timedelta(seconds=settle_s)
        self.lookback = timedelta(seconds=lookback_s)
        self._pending: datetime | None = None

    def stored_mark(self) -> datetime | None:
        stored = self.state.get(self.STATE_KEY)
        return datetime.fromisoformat(stored) if stored else None

    def commit(self) -> None:
        if self._pending is not None:
            self.state.set(self.STATE_KEY, self._pending.isoformat())
            self._pending = None

    def flush(self, now: datetime) -> list[UsageEvent]:
        return []


class ActivityWatchSource(_Bridge):
    """Focus spans read from the local aw-server for a moving window behind the present.

    Reads `[mark, min(mark + chunk, now - settle))`: the settle delay lets aw-server finish the AFK
    decision (180 s after the last input by default) and heartbeat merges before a range is read.
    The mark is kept in the state file, so a restart resumes where it stopped.
    """

    name = "activitywatch"
    STATE_KEY = "activitywatch.read_until"

    def __init__(
        self,
        client: ActivityWatchClient,
        state: StateFile,
        *,
        device_id: str,
        user: str,
        titles: bool = False,
        tz: tzinfo = UTC,
        interval_s: float = 60.0,
        settle_s: float = 300.0,
        lookback_s: float = 24 * 3600.0,
        chunk_s: float = 3600.0,
    ) -> None:
        super().__init__(
            state,
            device_id=device_id,
            user=user,
            tz=tz,
            interval_s=interval_s,
            settle_s=settle_s,
            lookback_s=lookback_s,
        )
        self.client = client
        self.titles = titles
        self.chunk = timedelta(seconds=chunk_s)
        self._behind = False

    @property
    def behind(self) -> bool:
        return self._behind

    def mark(self, now: datetime) -> datetime:
        """Where the next read starts: the stored mark, or `lookback` ago on the first run."""
        return self.stored_mark() or now - self.lookback

    def poll(self, now: datetime) -> list[UsageEvent]:
        start = self.mark(now)
        settled = now - self.settle
        end = min(start + self.chunk, settled)
        self._behind = False
        if end <= start:
            return []
        from collectors.importers.activitywatch import read_server  # noqa: PLC0415

        options = ImportOptions(user=self.user, device=self.device_id, tz=self.tz, now=now)
        try:
            events = _events_of(
                read_server(self.client, start, end, user=self.user, options=options),
                self.name,
                device_id=self.device_id,
                titles=self.titles,
            )
        except TransientError as exc:
            log.warning("activitywatch: %s; trying again in %.0f s", exc, self.interval_s)
            return []
        self._pending = end
        self._behind = end < settled
        return events

    def close(self) -> None:
        self.client.close()


class WhatPulseSource(_Bridge):
    """Hourly focus spans from the WhatPulse database, once their hour is over and has settled.

    WhatPulse keeps adding to the current hour's rows, and a re-sent id is a no-op downstream, so an
    hour is read only when it ended at least `settle_s` ago; rows written later than that are missed.
    """

    name = "whatpulse"
    STATE_KEY = "whatpulse.last_hour"
    HOUR = timedelta(hours=1)

    def __init__(
        self,
        path: Path,
        state: StateFile,
        *,
        device_id: str,
        user: str,
        tz: tzinfo,
        interval_s: float = 900.0,
        settle_s: float = 3600.0,
        lookback_s: float = 7 * 24 * 3600.0,
    ) -> None:
        super().__init__(
            state,
            device_id=device_id,
            user=user,
            tz=tz,
            interval_s=interval_s,
            settle_s=settle_s,
            lookback_s=lookback_s,
        )
        self.path = Path(path)
        self._warned = False

    @property
    def behind(self) -> bool:
        return False

    def poll(self, now: datetime) -> list[UsageEvent]:
        after = self.stored_mark()
        since = now - self.lookback
        if not self.path.exists():
            if not self._warned:
                log.warning("whatpulse: no database at %s yet; waiting for it", self.path)
                self._warned = True
            return []
        from collectors.importers.whatpulse import read_database  # noqa: PLC0415

        options = ImportOptions(user=self.user, device=self.device_id, tz=self.tz, now=now)
        fresh: list[UsageEvent] = []
        errors = 0
        for item in read_database(self.path, user=self.user, device=self.device_id, options=options):
            if isinstance(item, RecordError):
                errors += 1
                if not self._warned:
                    log.warning("whatpulse: skipped a record: %s", item)
                continue
            if item.start + self.HOUR + self.settle > now or item.start < since:
                continue
            if after is None or item.start > after:
                fresh.append(item)
        self._warned = self._warned or errors > 0
        if fresh:
            self._pending = max(event.start for event in fresh)
        return _events_of(fresh, self.name, device_id=self.device_id, titles=False)

    def close(self) -> None:
        pass
