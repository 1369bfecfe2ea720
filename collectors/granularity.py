"""Time granularity: split spans at local midnight and truncate per-person starts to the hour or the day.

Applied before Kafka (PrivacyPolicy), so working times cannot be read from the stored data. Splitting first keeps
every second on the local day it was used, exactly where the pipeline's rollup would have cut it
(pipeline/sql/rollup.sql): the figures are the same at every granularity.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from collectors.event import MAX_TEXT, UsageEvent, deterministic_id

Granularity = Literal["exact", "hour", "day"]
_ONE_DAY = timedelta(days=1)


class Piece(NamedTuple):
    """The part of a span on one local day: its start (UTC) and its real elapsed seconds."""

    day: date
    start: datetime
    duration_s: float


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant the local `day` begins, in UTC."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def split_at_midnight(start: datetime, duration_s: float, tz: ZoneInfo) -> list[Piece]:
    """One piece per local day the span touches; a span ending exactly at midnight stays whole.

    Computed on instants, so a DST day has its 23 or 25 real hours; an unsplit span keeps its duration as sent.
    """
    begin = start.astimezone(UTC)
    day = begin.astimezone(tz).date()
    end = begin + timedelta(seconds=duration_s)
    pieces: list[Piece] = []
    while (boundary := local_midnight(day + _ONE_DAY, tz)) < end:
        pieces.append(Piece(day, begin, (boundary - begin).total_seconds()))
        begin, day = boundary, day + _ONE_DAY
    pieces.append(Piece(day, begin, (end - begin).total_seconds() if pieces else duration_s))
    return pieces


def truncate(start: datetime, day: date, granularity: Granularity, tz: ZoneInfo) -> datetime:
    """`start` (on local `day`) as the granularity shows it, in local time, never before that day's midnight."""
    if granularity == "exact":
        return start
    midnight = local_midnight(day, tz)
    if granularity == "day":
        return midnight.astimezone(tz)
    # The local hour (fold kept, so the repeated hour of a DST change stays the right one), compared as instants.
    hour = start.astimezone(tz).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    return max(hour, midnight).astimezone(tz)


def piece_id(event_id: str, day: date) -> str:
    """The id of a later piece of a split span: stable, distinct per day, within the contract's length."""
    suffixed = f"{event_id}#{day.isoformat()}"
    return suffixed if len(suffixed) <= MAX_TEXT else deterministic_id("split", event_id, day.isoformat())


def coarsen(event: UsageEvent, granularity: Granularity, tz: ZoneInfo) -> list[UsageEvent]:
    """The events that leave for Kafka in place of `event`: itself at `exact`, else one per local day, truncated.

    The first piece keeps the event's id, later ones get `piece_id`: a redelivered event gives the same ids again,
    so the pipeline's dedup (device and event id) still drops it.
    """
    if granularity == "exact":
        return [event]
    return [
        event.model_copy(
            update={
                "event_id": piece_id(event.event_id, piece.day) if n else event.event_id,
                "start": truncate(piece.start, piece.day, granularity, tz),
                "duration_s": piece.duration_s,
            }
        )
        for n, piece in enumerate(split_at_midnight(event.start, event.duration_s, tz))
    ]


def coarsen_rows(rows: Iterable[Mapping[str, Any]], granularity: Granularity, tz: ZoneInfo) -> Iterator[dict[str, Any]]:
    """JSON-ready events (already pseudonymised, as the simulator writes straight to Kafka) coarsened as the gateway
    would have: the works council's granularity holds for simulated history too."""
    for row in rows:
        if granularity == "exact":
            yield dict(row)
            continue
        for event in coarsen(UsageEvent.model_validate(row), granularity, tz):
            yield event.model_dump(mode="json", exclude_none=True)
