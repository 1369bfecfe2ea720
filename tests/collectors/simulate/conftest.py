"""Shared fixtures: one default organisation and its usage, counted the simple way docs/metrics.md defines it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import yaml

from collectors.simulate import Organisation

AS_OF = date(2026, 3, 4)  # a Wednesday
HISTORY_DAYS = 84  # enough for 28-day windows ending eight weeks back


@dataclass
class Usage:
    """Focus seconds per (app, user, day), split at local midnight, and who had any telemetry each day."""

    focus: dict[tuple[str, str, date], float] = field(default_factory=lambda: defaultdict(float))
    seen: dict[date, set[str]] = field(default_factory=lambda: defaultdict(set))

    def active_users(self, app: str, end: date, min_minutes: float = 5.0) -> set[str]:
        start = end - timedelta(days=27)
        return {
            user
            for (a, user, day), seconds in self.focus.items()
            if a == app and start <= day <= end and seconds >= min_minutes * 60
        }

    def any_use(self, app: str, end: date) -> set[str]:
        start = end - timedelta(days=27)
        return {user for (a, user, day), s in self.focus.items() if a == app and start <= day <= end and s > 0}

    def covered(self, end: date) -> set[str]:
        users: set[str] = set()
        for n in range(28):
            users |= self.seen.get(end - timedelta(days=n), set())
        return users

    def seconds(self, app: str, first: date, last: date) -> float:
        return sum(s for (a, _, day), s in self.focus.items() if a == app and first <= day <= last)


def count_usage(org: Organisation, days: list[date]) -> Usage:
    usage = Usage()
    for day in days:
        for event in org.events_for_day(day):
            usage.seen[day].add(event.user)
            if event.kind != "focus":
                continue
            app = org.app_of(event.app)
            assert app is not None, event.app
            start = event.start.astimezone(org.tz)
            end = event.end.astimezone(org.tz)
            while start < end:
                midnight = datetime.combine(start.date() + timedelta(days=1), time(), tzinfo=org.tz)
                part_end = min(end, midnight)
                usage.focus[(app, event.user, start.date())] += (part_end - start).total_seconds()
                start = part_end
    return usage


@pytest.fixture(scope="session")
def org() -> Organisation:
    return Organisation.build(42, 1.0, AS_OF)


@pytest.fixture(scope="session")
def usage(org: Organisation) -> Usage:
    return count_usage(org, org.backfill_days(HISTORY_DAYS))


@pytest.fixture(scope="session")
def catalog_doc(org: Organisation, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    org.write_catalog(path)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="session")
def investments(catalog_doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = [inv for obj in catalog_doc["objectives"] for ini in obj["initiatives"] for inv in ini["investments"]]
    found += catalog_doc["investments"]
    return {inv["id"]: inv for inv in found}


@pytest.fixture(scope="session")
def departments(org: Organisation) -> dict[str, str]:
    return dict(org.directory_rows())
