"""Measure generation speed: `python -m collectors.simulate.benchmark [days] [scale]`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from collectors.simulate.organisation import Organisation


def rate(org: Organisation, days: int, produce: Callable[[date], Iterable[Any]]) -> tuple[int, float]:
    """(events, events per second) for producing `days` days with `produce`."""
    started = time.perf_counter()
    count = sum(1 for day in org.backfill_days(days) for _ in produce(day))
    return count, count / (time.perf_counter() - started)


def main(argv: list[str]) -> int:
    days = int(argv[0]) if argv else 28
    scale = float(argv[1]) if len(argv) > 1 else 1.0
    org = Organisation.build(42, scale, date(2026, 3, 2))
    for label, produce in (("UsageEvent", org.events_for_day), ("dict", org.dicts_for_day)):
        count, per_s = rate(org, days, produce)
        print(f"{label:>10}: {count:,} events in {days} days, {per_s:,.0f} events/s ({len(org.users):,} users)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
