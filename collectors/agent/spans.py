"""Pure merging of foreground samples into focus spans.

A sample taken at `t_k` showing app A credits A with `[t_k, t_k+1)`, up to the next sample, so the
time between samples is attributed, never lost; a switch is placed at the first sample that shows
the new app (an error of at most one interval per switch, with no bias in the total).

A span ends when
- the next sample shows another app (or no window, or another title when titles are kept);
- the user has been idle for at least `idle_threshold_s`: the span ends at the moment idleness began
  (`sample time - idle`), so idle time is never focus. Because that moment can lie before earlier
  switches, a closed span is handed out only once the user is seen active after its end (or the idle
  cut has clipped it), which holds back at most `idle_threshold_s` worth of spans;
- samples stop for longer than `2 x interval` (suspend, a stopped agent, a clock jump): the span ends
  one interval after its last sample, as if that sample had been the last;
- it reaches `max_span_s`: it is cut there and goes on as a new span, so long sessions are uploaded
  regularly. A cut is made only once the user is known to have been active past it, so a span that
  later turns out to end in idleness is never cut inside that idle time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from collectors.event import UsageEvent, deterministic_id

SOURCE = "agent"


class Sample(NamedTuple):
    """What the desktop showed at one moment: the foreground app (None: no window) and the idle time."""

    at: datetime
    app: str | None
    idle_s: float
    title: str | None = None


class FocusSpan(NamedTuple):
    """A closed span of one app in the foreground while the user was active."""

    app: str
    start: datetime
    end: datetime
    title: str | None = None

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class SpanRules:
    """How samples become spans; every length in seconds."""

    interval_s: float = 5.0
    idle_threshold_s: float = 180.0
    max_span_s: float = 900.0
    titles: bool = False

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.idle_threshold_s <= 0 or self.max_span_s <= 0:
            raise ValueError("interval, idle threshold and maximum span length must be positive")

    @property
    def max_gap(self) -> timedelta:
        return timedelta(seconds=2 * self.interval_s)


@dataclass
class _Open:
    app: str
    title: str | None
    start: datetime
    end: datetime


class SpanBuilder:
    """Feed samples in time order; get back the spans they confirm.

    Holds the open span and the closed spans still awaiting confirmation (at most `idle_threshold_s` worth).
    """

    def __init__(self, rules: SpanRules = SpanRules()) -> None:
        self.rules = rules
        self._open: _Open | None = None
        self._last: datetime | None = None
        # Closed spans not yet known to be free of idleness (the user may turn out idle since before they ended).
        self._pending: list[FocusSpan] = []

    @property
    def open_app(self) -> str | None:
        return None if self._open is None else self._open.app

    def feed(self, sample: Sample) -> list[FocusSpan]:
        """Spans this sample confirms as focus (oldest first)."""
        rules = self.rules
        interval = timedelta(seconds=rules.interval_s)
        if self._last is not None and self._open is not None:
            gap = sample.at - self._last
            if gap < timedelta(0):  # the clock went back: credit nothing past the last sample
                self._close(self._last)
            elif gap > rules.max_gap:  # suspended or stalled: credit one interval, as for a last sample
                self._open.end = self._last + interval
                self._close(self._open.end)
            else:
                self._open.end = sample.at
        self._last = sample.at
        title = sample.title if rules.titles else None
        if sample.idle_s >= rules.idle_threshold_s:
            idle_since = sample.at - timedelta(seconds=sample.idle_s)
            self._close(idle_since)
            return self._release(idle_since, clip=True)
        if sample.app is None:
            self._close(sample.at)
        elif self._open is None or (self._open.app, self._open.title) != (sample.app, title):
            self._close(sample.at)
            self._open = _Open(sample.app, title, sample.at, sample.at)
        active_until = sample.at - timedelta(seconds=max(sample.idle_s, 0.0))
        confirmed = self._release(active_until, clip=False)
        self._cut(active_until, confirmed)
        return confirmed

    def flush(self, now: datetime) -> list[FocusSpan]:
        """Close the open span at `now` (at most one interval after the last sample): on shutdown."""
        if self._open is not None and self._last is not None:
            end = min(max(now, self._last), self._last + timedelta(seconds=self.rules.interval_s))
            self._open.end = max(self._open.end, end)
            self._close(self._open.end)
        self._last = None
        released, self._pending = self._pending, []
        return released

    def _release(self, until: datetime, *, clip: bool) -> list[FocusSpan]:
        """Closed spans the user is known to have been active through; with `clip`, all of them cut at `until`."""
        released: list[FocusSpan] = []
        while self._pending and (clip or self._pending[0].end <= until):
            span = self._pending.pop(0)
            if clip and span.end > until:
                span = span._replace(end=until)
            if span.end > span.start:
                released.append(span)
        return released

    def _close(self, at: datetime) -> None:
        span, self._open = self._open, None
        if span is None:
            return
        end = max(span.start, min(at, span.end))
        self._emit(span.app, span.title, span.start, end, self._pending)

    def _cut(self, active_until: datetime, closed: list[FocusSpan]) -> None:
        """Emit full-length pieces of the open span that end before the user's last known activity."""
        span = self._open
        if span is None:
            return
        limit = timedelta(seconds=self.rules.max_span_s)
        while span.start + limit <= min(span.end, active_until):
            self._emit(span.app, span.title, span.start, span.start + limit, closed)
            span.start += limit

    def _emit(self, app: str, title: str | None, start: datetime, end: datetime, closed: list[FocusSpan]) -> None:
        limit = timedelta(seconds=self.rules.max_span_s)
        while end > start:
            piece_end = min(end, start + limit)
            closed.append(FocusSpan(app, start, piece_end, title))
            start = piece_end


def merge(
    samples: Iterable[Sample], rules: SpanRules = SpanRules(), *, flush_at: datetime | None = None
) -> list[FocusSpan]:
    """All spans of a sample sequence; the open one is closed at `flush_at` when given."""
    builder = SpanBuilder(rules)
    spans = [span for sample in samples for span in builder.feed(sample)]
    if flush_at is not None:
        spans.extend(builder.flush(flush_at))
    return spans


def span_event(span: FocusSpan, *, device_id: str, user: str) -> UsageEvent:
    """The usage event of a span; the id derives from device, app and start, so a resend is a no-op."""
    return UsageEvent(
        event_id=deterministic_id(SOURCE, device_id, span.app, span.start.isoformat()),
        kind="focus",
        device_id=device_id,
        user=user,
        app=span.app,
        start=span.start,
        duration_s=round(span.seconds, 3),
        source=SOURCE,
        title=span.title[:1024] if span.title else None,
    )
