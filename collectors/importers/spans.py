"""Pure interval arithmetic for focus spans: union, intersection and splitting at local midnight."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, time, timedelta, tzinfo
from typing import NamedTuple


class Interval(NamedTuple):
    """A half-open time interval [start, end) with aware datetimes."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering exactly the given ones (empty intervals dropped)."""
    merged: list[Interval] = []
    for iv in sorted(i for i in intervals if i.end > i.start):
        if merged and iv.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, iv.end))
        else:
            merged.append(iv)
    return merged


def intersect(interval: Interval, cover: list[Interval]) -> Iterator[Interval]:
    """The parts of `interval` inside `cover` (sorted and disjoint, as `union` returns)."""
    for c in cover:
        if c.start >= interval.end:
            break
        start, end = max(interval.start, c.start), min(interval.end, c.end)
        if end > start:
            yield Interval(start, end)


def next_midnight(moment: datetime, tz: tzinfo) -> datetime:
    """The first local midnight in `tz` strictly after `moment`, as an aware datetime."""
    local_day = moment.astimezone(tz).date()
    candidate = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=tz)
    # In zones whose DST jump skips midnight, the wall-clock 00:00 resolves past the jump; still after moment.
    cut = candidate if candidate > moment else moment + timedelta(days=1)
    return cut.astimezone(moment.tzinfo)


def split_at_midnight(interval: Interval, tz: tzinfo) -> Iterator[Interval]:
    """Cut an interval at every local midnight in `tz`, so each piece lies within one calendar day."""
    start = interval.start
    while start < interval.end:
        cut = min(next_midnight(start, tz), interval.end)
        yield Interval(start, cut)
        start = cut
