"""The simulated organisation: people, devices, catalog, stories, and the usage events they produce.

Example:
    >>> org = Organisation.build(seed=42, scale=1.0, as_of=date(2026, 3, 2))
    >>> org.write_directory(Path("directory.csv")); org.write_catalog(Path("catalog.yaml"))
    >>> events = list(org.backfill(28))
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import random
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from base.pseudonym import pseudonymise, pseudonymise_device
from collectors.event import SCHEMA_VERSION, UsageEvent
from collectors.simulate.applications import identifier_index
from collectors.simulate.catalog import catalog_document, seats, target_population, write_catalog_yaml
from collectors.simulate.event_ids import event_id, id_prefix
from collectors.simulate.fast_event import unvalidated_event
from collectors.simulate.interventions import SimulatedIntervention, write_interventions
from collectors.simulate.live import live_events
from collectors.simulate.population import User, build_users
from collectors.simulate.portfolio import INVESTMENTS_BY_ID
from collectors.simulate.stories import STORIES, Story, StorySpec, outcome, ratio_on
from collectors.simulate.workday import DayContext, Span, user_day

SOURCE = "simulator"


def _fixed_offset(midnight: datetime) -> str | None:
    """The day's UTC offset as isoformat writes it, or None when it changes during the day (DST)."""
    later = midnight + timedelta(hours=23, minutes=59)
    if midnight.utcoffset() != later.utcoffset():
        return None
    return midnight.isoformat()[19:]


class Organisation:
    """A seeded synthetic organisation; every output is a pure function of (seed, scale, as_of, tz)."""

    def __init__(
        self,
        seed: int,
        scale: float,
        as_of: date,
        tz: str,
        *,
        departments: list[tuple[str, int]],
        users: list[User],
        interventions: Sequence[SimulatedIntervention] = (),
    ) -> None:
        self.seed = seed
        self.scale = scale
        self.as_of = as_of
        self.tz = ZoneInfo(tz)
        self.departments = departments
        self.users = tuple(users)
        self.specs = STORIES  # users' adoption thresholds are drawn against these
        self._sizes = dict(departments)
        self._populations = [
            sum(1 for u in self.users if not spec.departments or u.department in spec.departments)
            for spec in self.specs
        ]
        # A per-seed salt so that seeds 1 and -1 (equal for random.Random) still differ.
        self._salt = int.from_bytes(hashlib.sha256(f"alignmon-simulate:{seed}".encode()).digest()[:8], "big")
        self._pseudonyms: dict[bytes, list[str]] = {}
        self._device_pseudonyms: dict[bytes, dict[str, str]] = {}
        # Expected outcomes of the stories' curves alone: an intervention's extra adopters are not in them.
        self.stories = tuple(self._outcome(spec, n) for spec, n in zip(self.specs, self._populations, strict=True))
        self.interventions = tuple(interventions)
        self._lifts = [self._lift(item) for item in self.interventions]

    @classmethod
    def build(
        cls,
        seed: int,
        scale: float,
        as_of: date,
        tz: str = "UTC",
        interventions: Sequence[SimulatedIntervention] = (),
    ) -> Organisation:
        """The organisation for a seed, a scale factor (users multiplied) and an as-of day, with the interventions
        (collectors.simulate.interventions) whose known effects it plays out."""
        departments, users = build_users(seed, scale, STORIES)
        return cls(seed, scale, as_of, tz, departments=departments, users=users, interventions=interventions)

    def _lift(self, item: SimulatedIntervention) -> tuple[int, date, list[tuple[str, list[float], int]]]:
        """(story index, first day, [(department, its members' sorted thresholds, extra adopters)]) of one."""
        s = next((n for n, spec in enumerate(self.specs) if spec.investment == item.investment), None)
        if s is None:
            raise ValueError(f"intervention {item.id}: no story plays out investment {item.investment!r}")
        out = []
        for department in item.departments:
            thresholds = sorted(t for u in self.users if u.department == department for n, t in u.stories if n == s)
            if not thresholds:
                raise ValueError(f"intervention {item.id}: {department!r} is not in {item.investment}'s population")
            out.append((department, thresholds, item.extra(len(thresholds))))
        return s, item.day, out

    def _lifted(self, day: date, ratios: tuple[float, ...]) -> dict[tuple[int, str], float]:
        """The ratio each treated department's thresholds are compared with on `day`: exactly its extra adopters
        more (or fewer) than the curve alone makes adopt."""
        extra: dict[tuple[int, str], tuple[list[float], int]] = {}
        for s, first, departments in self._lifts:
            if day < first:
                continue
            for department, thresholds, n in departments:
                before = extra.get((s, department), (thresholds, 0))[1]
                extra[(s, department)] = (thresholds, before + n)
        lifted = {}
        for (s, department), (thresholds, n) in extra.items():
            adopters = min(len(thresholds), max(0, bisect.bisect_left(thresholds, ratios[s]) + n))
            # Thresholds are distinct and below 1: exactly `adopters` of them are below the ratio returned.
            lifted[(s, department)] = thresholds[adopters] if adopters < len(thresholds) else 1.0
        return lifted

    def _outcome(self, spec: StorySpec, population: int) -> Story:
        if spec.investment is None:
            return outcome(spec, self.as_of, population, None, None)
        inv = INVESTMENTS_BY_ID[spec.investment]
        if target_population(inv, self._sizes) != population:
            raise ValueError(f"story {spec.key}: population differs from {inv.id}'s target population")
        return outcome(spec, self.as_of, population, inv.planned(self.as_of, self.as_of), seats(inv, self._sizes))

    # directory and catalog

    def directory_rows(self) -> list[tuple[str, str]]:
        """(user, department) for every user, in a stable order."""
        return [(u.name, u.department) for u in self.users]

    def write_directory(self, path: Path, pseudonymise_with: bytes | None = None) -> None:
        """Write the directory CSV `user,department` with a header: HR's names, or with a key the pseudonyms the
        pipeline reads (what `alignmon directory pseudonymise` makes of HR's file)."""
        names = self._pseudonym_table(pseudonymise_with)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(("user", "department"))
            writer.writerows((names[u.position], u.department) for u in self.users)

    def catalog(self) -> dict[str, Any]:
        """The catalog document (applications, objectives, orphan investments, settings) as plain data."""
        return catalog_document(self.as_of, self._sizes, self.tz.key)

    def write_catalog(self, path: Path) -> None:
        """Write the catalog YAML; its dates are relative to the as-of day."""
        header = (
            f"Generated by `alignmon simulate` (seed {self.seed}, scale {self.scale}, as-of {self.as_of}).\n"
            "Dates are relative to the as-of day; regenerate rather than edit."
        )
        write_catalog_yaml(path, self.catalog(), header)

    def write_interventions(self, path: Path) -> None:
        """Write the interventions file (pipeline/catalog/interventions.py's format) beside the catalog."""
        header = (
            f"Generated by `alignmon simulate` (seed {self.seed}, scale {self.scale}, as-of {self.as_of}): the "
            "simulated interventions;\ntheir true effects are in the notes."
        )
        write_interventions(path, self.interventions, header)

    def app_of(self, identifier: str) -> str | None:
        """The simulator's own app id for a raw identifier it emits (ground truth for tests)."""
        return _IDENTIFIERS.get(identifier)

    # events

    def day_context(self, day: date) -> DayContext:
        """The story ratios and background apps of one day."""
        ratios = tuple(
            ratio_on(spec, day, self.as_of, n) for spec, n in zip(self.specs, self._populations, strict=True)
        )
        teams_live = day >= self.as_of + timedelta(days=INVESTMENTS_BY_ID["inv-teams"].go_live)
        background = ("teams",) if teams_live else ()
        if not self._lifts:
            return DayContext(self.specs, ratios, background)
        return DayContext(self.specs, ratios, background, self._lifted(day, ratios))

    def _user_rng(self, day: date, user: User) -> random.Random:
        return random.Random((self._salt * 1_000_003 + day.toordinal()) * 1_048_583 + user.position)

    def _pseudonym_table(self, key: bytes | None) -> list[str]:
        if key is None:
            return [u.name for u in self.users]
        if key not in self._pseudonyms:
            self._pseudonyms[key] = [pseudonymise(u.name, key) for u in self.users]
        return self._pseudonyms[key]

    def _device_table(self, key: bytes | None) -> dict[str, str]:
        """Device id -> what the gateway makes of it (its keyed pseudonym; itself without a key)."""
        if key is None:
            return {d.id: d.id for u in self.users for d in u.devices}
        if key not in self._device_pseudonyms:
            self._device_pseudonyms[key] = {d.id: pseudonymise_device(d.id, key) for u in self.users for d in u.devices}
        return self._device_pseudonyms[key]

    def _user_days(self, day: date, pseudonymise_with: bytes | None) -> Iterator[tuple[User, str, list[Span]]]:
        """(user, user field, spans) for every user at work on `day`."""
        if day.weekday() >= 5:
            return
        ctx = self.day_context(day)
        names = self._pseudonym_table(pseudonymise_with)
        for user in self.users:
            spans = user_day(user, ctx, self._user_rng(day, user))
            if spans:
                yield user, names[user.position], spans

    def dicts_for_day(
        self, day: date, *, pseudonymise_with: bytes | None = None, with_department: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The day's events as JSON-ready dicts (the UsageEvent JSON shape), for bulk sinks; fastest path."""
        midnight = datetime.combine(day, time(), tzinfo=self.tz)
        day_key = day.isoformat()
        # One UTC offset all day (no DST change): format times directly, much faster than isoformat().
        offset = _fixed_offset(midnight)
        devices = self._device_table(pseudonymise_with)
        for user, who, spans in self._user_days(day, pseudonymise_with):
            prefixes = [id_prefix(self.seed, user.name, d.id, day_key) for d in user.devices]
            for index, (d, kind, app, start_s, duration_s) in enumerate(spans):
                device = user.devices[d]
                if offset is None:
                    start = (midnight + timedelta(seconds=start_s)).isoformat()
                else:
                    start = f"{day_key}T{start_s // 3600:02d}:{start_s // 60 % 60:02d}:{start_s % 60:02d}{offset}"
                row: dict[str, Any] = {
                    "event_id": event_id(prefixes[d], index),
                    "kind": kind,
                    "device_id": devices[device.id],
                    "user": who,
                    "app": device.identifiers[app],
                    "start": start,
                    "duration_s": float(duration_s),
                    "source": SOURCE,
                    "schema_version": SCHEMA_VERSION,
                }
                if with_department:
                    row["department"] = user.department
                yield row

    def events_for_day(
        self, day: date, *, pseudonymise_with: bytes | None = None, with_department: bool = False
    ) -> Iterator[UsageEvent]:
        """The day's events: pure and deterministic in (seed, day), whatever else was generated.

        Built without per-event validation for speed; tests validate the generator's output in full.
        `pseudonymise_with` replaces user names and device ids by the gateway's keyed pseudonyms (for direct-to-Kafka
        backfills); `with_department` adds the department as the gateway would from the directory.
        """
        midnight = datetime.combine(day, time(), tzinfo=self.tz)
        day_key = day.isoformat()
        build = unvalidated_event
        devices = self._device_table(pseudonymise_with)
        for user, who, spans in self._user_days(day, pseudonymise_with):
            prefixes = [id_prefix(self.seed, user.name, d.id, day_key) for d in user.devices]
            department = user.department if with_department else None
            for index, (d, kind, app, start_s, duration_s) in enumerate(spans):
                device = user.devices[d]
                yield build(
                    {
                        "event_id": event_id(prefixes[d], index),
                        "kind": kind,
                        "device_id": devices[device.id],
                        "user": who,
                        "app": device.identifiers[app],
                        "start": midnight + timedelta(seconds=start_s),
                        "duration_s": float(duration_s),
                        "source": SOURCE,
                        "title": None,
                        "department": department,
                        "schema_version": SCHEMA_VERSION,
                    }
                )

    def backfill_days(self, days: int) -> list[date]:
        """The `days` calendar days ending at the as-of day, oldest first."""
        return [self.as_of - timedelta(days=n) for n in range(days - 1, -1, -1)]

    def backfill(
        self, days: int, *, pseudonymise_with: bytes | None = None, with_department: bool = False
    ) -> Iterator[UsageEvent]:
        """Every event of the `days` days ending at the as-of day, day by day."""
        for day in self.backfill_days(days):
            yield from self.events_for_day(day, pseudonymise_with=pseudonymise_with, with_department=with_department)

    # Events as simulated time passes: collectors.simulate.live.live_events, called as org.live(...).
    live = live_events


_IDENTIFIERS = identifier_index()
