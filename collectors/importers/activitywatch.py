"""ActivityWatch bridge: focus spans from an export file or the local aw-server REST API.

Focus time is the window watcher's events intersected with the AFK watcher's not-afk periods on the
same host, cut at local midnight so each span lies within one calendar day.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import quote

import httpx

from base.errors import TransientError
from collectors.event import deterministic_id
from collectors.importers.record import (
    DEFAULT_OPTIONS,
    ImportItem,
    ImportOptions,
    RecordError,
    clip_title,
    make_event,
)
from collectors.importers.spans import Interval, intersect, split_at_midnight, union

SOURCE = "activitywatch"
WINDOW_TYPE = "currentwindow"
AFK_TYPE = "afkstatus"
DEFAULT_URL = "http://127.0.0.1:5600"


class WindowEvent(NamedTuple):
    """One window-watcher event, parsed."""

    position: int
    timestamp: datetime
    span: Interval
    app: str
    title: str | None


class _EventError(ValueError):
    """An ActivityWatch event that cannot be read."""


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise _EventError(f"timestamp must be an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _EventError(f"timestamp {value!r} is not ISO 8601") from exc
    # aw-core reads a timestamp without an offset as UTC; do the same.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _parse_span(event: object) -> tuple[datetime, Interval, Mapping[str, Any]]:
    if not isinstance(event, Mapping):
        raise _EventError("event is not a JSON object")
    start = _parse_time(event.get("timestamp"))
    duration = event.get("duration", 0)
    if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
        raise _EventError(f"duration must be a non-negative number of seconds, got {duration!r}")
    data = event.get("data")
    if not isinstance(data, Mapping):
        raise _EventError("event has no data object")
    return start, Interval(start, start + timedelta(seconds=duration)), data


def _events(bucket: Mapping[str, Any]) -> list[object]:
    events = bucket.get("events", [])
    return events if isinstance(events, list) else []


def _active_periods(
    buckets: list[tuple[str, Mapping[str, Any]]], file: str
) -> tuple[list[Interval], list[RecordError]]:
    """Union of the not-afk periods of a host's AFK buckets, and the events that could not be read."""
    periods: list[Interval] = []
    errors: list[RecordError] = []
    for bucket_id, bucket in buckets:
        for index, raw in enumerate(_events(bucket)):
            try:
                _, span, data = _parse_span(raw)
            except _EventError as exc:
                errors.append(RecordError(file, f"bucket {bucket_id} event {index}", str(exc)))
                continue
            status = data.get("status")
            if status == "not-afk":
                periods.append(span)
            elif status != "afk":
                errors.append(RecordError(file, f"bucket {bucket_id} event {index}", f"unknown AFK status {status!r}"))
    return union(periods), errors


def _window_events(bucket_id: str, bucket: Mapping[str, Any], file: str) -> Iterator[WindowEvent | RecordError]:
    for index, raw in enumerate(_events(bucket)):
        try:
            timestamp, span, data = _parse_span(raw)
            app = data.get("app")
            if not isinstance(app, str) or not app.strip():
                raise _EventError("window event has no data.app")
        except _EventError as exc:
            yield RecordError(file, f"bucket {bucket_id} event {index}", str(exc))
            continue
        yield WindowEvent(index, timestamp, span, app, clip_title(data.get("title")))


def focus_items(
    buckets: Mapping[str, Any],
    *,
    file: str,
    user: str,
    options: ImportOptions = DEFAULT_OPTIONS,
    within: Interval | None = None,
) -> Iterator[ImportItem]:
    """Focus events (and record errors) from ActivityWatch buckets in export shape {bucket_id: bucket}.

    `within` limits focus to a time range (the REST reader's), so consecutive ranges never overlap.
    """
    windows: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    afk: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for bucket_id, bucket in buckets.items():
        if not isinstance(bucket, Mapping):
            yield RecordError(file, f"bucket {bucket_id}", "bucket is not a JSON object")
            continue
        if bucket.get("type") not in (WINDOW_TYPE, AFK_TYPE):
            continue
        host = bucket.get("hostname") or options.device
        if not isinstance(host, str) or not host.strip():
            yield RecordError(file, f"bucket {bucket_id}", "bucket has no hostname; pass a device id")
            continue
        (windows if bucket["type"] == WINDOW_TYPE else afk)[host].append((bucket_id, bucket))

    for host, window_buckets in windows.items():
        if not afk[host]:
            for bucket_id, _ in window_buckets:
                yield RecordError(
                    file,
                    f"bucket {bucket_id}",
                    f"no {AFK_TYPE} bucket for host {host!r}: focus cannot be told from idle time, "
                    "so this bucket was skipped (export the AFK watcher's bucket too)",
                )
            continue
        active, errors = _active_periods(afk[host], file)
        if within is not None:
            active = [piece for period in active for piece in intersect(period, [within])]
        yield from errors
        for bucket_id, bucket in window_buckets:
            yield from _bucket_focus(host, bucket_id, bucket, active, file=file, user=user, options=options)


def _bucket_focus(
    host: str,
    bucket_id: str,
    bucket: Mapping[str, Any],
    active: list[Interval],
    *,
    file: str,
    user: str,
    options: ImportOptions,
) -> Iterator[ImportItem]:
    parsed: list[WindowEvent] = []
    for item in _window_events(bucket_id, bucket, file):
        if isinstance(item, RecordError):
            yield item
        else:
            parsed.append(item)
    covered_until: datetime | None = None
    for event in sorted(parsed, key=lambda e: (e.timestamp, e.position)):
        span = event.span
        # Watcher events can overlap by a heartbeat; count each second of a bucket once.
        if covered_until is not None and span.start < covered_until:
            span = Interval(covered_until, max(covered_until, span.end))
        covered_until = max(covered_until or span.end, span.end)
        for part in intersect(span, active):
            for piece in split_at_midnight(part, options.tz):
                yield make_event(
                    {
                        "event_id": deterministic_id(
                            SOURCE, host, bucket_id, event.timestamp.isoformat(), piece.start.isoformat()
                        ),
                        "kind": "focus",
                        "device_id": host,
                        "user": user,
                        "app": event.app,
                        "title": event.title,
                        "start": piece.start,
                        "duration_s": piece.seconds,
                        "source": SOURCE,
                    },
                    file=file,
                    locator=f"bucket {bucket_id} event {event.position}",
                    now=options.now,
                )


def read_export(path: Path, *, user: str, options: ImportOptions = DEFAULT_OPTIONS) -> Iterator[ImportItem]:
    """Focus events from an `aw-buckets-export.json` file written by aw-server's /api/0/export."""
    file = str(path)
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        yield RecordError(file, "file", f"cannot read ActivityWatch export: {exc}")
        return
    buckets = document.get("buckets") if isinstance(document, dict) else None
    if not isinstance(buckets, dict):
        yield RecordError(file, "file", 'not an ActivityWatch export: no "buckets" object')
        return
    yield from focus_items(buckets, file=file, user=user, options=options)


class ActivityWatchClient:
    """A thin reader for the local aw-server REST API (/api/0/...)."""

    def __init__(self, base_url: str = DEFAULT_URL, *, http: httpx.Client | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None

    def __enter__(self) -> ActivityWatchClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        url = f"{self.base_url}/api/0/{path}"
        try:
            response = self._http.get(url, params=params)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise TransientError(f"ActivityWatch server at {self.base_url} did not answer {url}: {exc}") from exc
        return response.json()

    def buckets(self) -> dict[str, dict[str, Any]]:
        """Bucket metadata keyed by bucket id."""
        result: dict[str, dict[str, Any]] = self._get("buckets/")
        return result

    def events(
        self, bucket_id: str, *, start: datetime | None = None, end: datetime | None = None, limit: int = -1
    ) -> list[dict[str, Any]]:
        """A bucket's events overlapping [start, end); the server trims events at the range edges."""
        params = {"limit": str(limit)}
        if start is not None:
            params["start"] = start.isoformat()
        if end is not None:
            params["end"] = end.isoformat()
        result: list[dict[str, Any]] = self._get(f"buckets/{quote(bucket_id, safe='')}/events", params)
        return result

    def export_range(self, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
        """Window and AFK buckets with their events in [start, end), in the export file's shape."""
        exported: dict[str, dict[str, Any]] = {}
        for bucket_id, meta in self.buckets().items():
            if meta.get("type") in (WINDOW_TYPE, AFK_TYPE):
                exported[bucket_id] = {**meta, "events": self.events(bucket_id, start=start, end=end)}
        return exported


def read_server(
    client: ActivityWatchClient,
    start: datetime,
    end: datetime,
    *,
    user: str,
    options: ImportOptions = DEFAULT_OPTIONS,
) -> Iterator[ImportItem]:
    """Focus events for [start, end) read live from aw-server; read closed, non-overlapping ranges."""
    # aw-server rounds `end` up by a millisecond; clip so that consecutive ranges share no instant.
    yield from focus_items(
        client.export_range(start, end),
        file=client.base_url,
        user=user,
        options=options,
        within=Interval(start, end),
    )
