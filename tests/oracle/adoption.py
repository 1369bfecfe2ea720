"""The adoption rules of docs/metrics.md as plain Python: the oracle the pipeline's SQL is compared with.

Production computes these figures in SQL (`pipeline/store.py`, `pipeline/refresh.py`, the views of
`pipeline/schema.py`); nothing here runs in production. Each function is a direct, slow reading of one
definition, kept obvious rather than fast. The small functions are checked against hand-computed cases
(tests/pipeline/domain/test_domain_*.py); the fleet-level ones compose them and are compared with the
SQL tables on random fleets (tests/pipeline/test_figures_oracle.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from pipeline.domain.adoption import cost_per_active_user, licence_utilisation, stickiness, wasted_spend
from pipeline.domain.rules import ACTIVE_MINUTES, K_ANONYMITY, LOW_DAYS, MIN_COVERAGE, MONTH_DAYS, TOLERANCE, WEEK_DAYS

FOCUS, OPEN, LAUNCH = "focus", "open", "launch"

# --- Time: calendar days in the organisation's time zone -------------------------------------------------


def window(as_of: date, days: int) -> tuple[date, date]:
    """The `days` calendar days ending at `as_of`, both ends inclusive (7 -> D-6..D, 28 -> D-27..D)."""
    if days < 1:
        raise ValueError(f"a window has at least one day, got {days}")
    return as_of - timedelta(days=days - 1), as_of


def days_between(first: date, last: date) -> Iterator[date]:
    """Every day from `first` to `last`, both inclusive."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def split_by_day(start: datetime, duration_s: float, tz: ZoneInfo) -> list[tuple[date, float]]:
    """A span cut at each local midnight it crosses: (local day, real elapsed seconds) pieces.

    A span ending exactly at midnight gives no zero piece for the next day; a zero-length span
    (launch evidence) gives one piece of 0 seconds on its start day.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if duration_s < 0:
        raise ValueError(f"duration_s must be >= 0, got {duration_s}")
    # Instants in UTC: wall-clock arithmetic would gain or lose an hour on DST days.
    cursor = start.astimezone(UTC)
    end = cursor + timedelta(seconds=duration_s)
    if duration_s == 0:
        return [(cursor.astimezone(tz).date(), 0.0)]
    pieces: list[tuple[date, float]] = []
    while cursor < end:
        day = cursor.astimezone(tz).date()  # from the instant: a skipped calendar day yields no piece
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        piece_end = min(next_midnight, end)
        pieces.append((day, (piece_end - cursor).total_seconds()))
        cursor = piece_end
    return pieces


# --- Usage: focus time, active days, active users ------------------------------------------------------------


class Span(Protocol):
    """What the rules read of a usage event (collectors.event.UsageEvent satisfies it)."""

    @property
    def kind(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def app(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def duration_s(self) -> float: ...


class DailyFocus(NamedTuple):
    """Focus seconds of one user on one application on one local day."""

    user: str
    app: str
    day: date
    focus_s: float


class ActiveDay(NamedTuple):
    """A day on which a user was active on an application."""

    user: str
    app: str
    day: date


class ActiveCounts(NamedTuple):
    """Active users on D (DAU), in the 7-day window (WAU) and in the 28-day window (MAU)."""

    dau: int
    wau: int
    mau: int


def focus_by_day(spans: Iterable[Span], tz: ZoneInfo) -> list[DailyFocus]:
    """Focus seconds per (user, app, local day); `open` and `launch` evidence never counts as focus."""
    totals: dict[tuple[str, str, date], float] = defaultdict(float)
    for span in spans:
        if span.kind != FOCUS:
            continue
        for day, seconds in split_by_day(span.start, span.duration_s, tz):
            totals[span.user, span.app, day] += seconds
    return [DailyFocus(user, app, day, s) for (user, app, day), s in sorted(totals.items())]


def is_active_day(focus_s: float, min_minutes: float = ACTIVE_MINUTES) -> bool:
    """A day is active when focus time reaches `min_minutes` (inclusive)."""
    return focus_s >= min_minutes * 60


def active_days(
    rows: Iterable[DailyFocus],
    min_minutes: float = ACTIVE_MINUTES,
    app_min_minutes: Mapping[str, float] | None = None,
) -> frozenset[ActiveDay]:
    """Active (user, app, day) triples; rows of the same key are summed first (several devices or identifiers)."""
    overrides = app_min_minutes or {}
    totals: dict[ActiveDay, float] = defaultdict(float)
    for row in rows:
        totals[ActiveDay(row.user, row.app, row.day)] += row.focus_s
    return frozenset(
        key for key, seconds in totals.items() if is_active_day(seconds, overrides.get(key.app, min_minutes))
    )


def active_users(
    days: Iterable[ActiveDay], first: date, last: date, apps: Collection[str] | None = None
) -> frozenset[str]:
    """Users with at least one active day in first..last on any of `apps` (all apps when None): counted once."""
    return frozenset(d.user for d in days if first <= d.day <= last and (apps is None or d.app in apps))


def active_counts(days: Iterable[ActiveDay], as_of: date, apps: Collection[str] | None = None) -> ActiveCounts:
    """DAU, WAU (D-6..D) and MAU (D-27..D) as of `as_of`."""
    rows = list(days)
    return ActiveCounts(
        dau=len(active_users(rows, *window(as_of, 1), apps)),
        wau=len(active_users(rows, *window(as_of, WEEK_DAYS), apps)),
        mau=len(active_users(rows, *window(as_of, MONTH_DAYS), apps)),
    )


def dau_series(
    days: Iterable[ActiveDay], as_of: date, n_days: int = MONTH_DAYS, apps: Collection[str] | None = None
) -> list[int]:
    """DAU of each day of the window ending at `as_of`, oldest first, zeros included."""
    rows = list(days)
    return [len(active_users(rows, day, day, apps)) for day in days_between(*window(as_of, n_days))]


def reporting_users(seen: Iterable[tuple[str, date]], first: date, last: date) -> frozenset[str]:
    """Users with any telemetry (any kind, any application) in first..last: the numerator of coverage."""
    return frozenset(user for user, day in seen if first <= day <= last)


# --- Denominators and ratios -----------------------------------------------------------------------------------


def target_population(
    directory: Mapping[str, str] | None, departments: Collection[str] | None = None
) -> frozenset[str] | None:
    """Users the directory (user -> department) places in the target departments; all of it when none.

    None when there is no directory: the adoption ratio is then not computed.
    """
    if directory is None:
        return None
    if not departments:
        return frozenset(directory)
    return frozenset(user for user, dept in directory.items() if dept in departments)


def adoption_ratio(active: Collection[str], population: Collection[str] | None) -> float | None:
    """Active users (28-day) inside the target population / its size; None without a population."""
    if not population:
        return None
    members = frozenset(population)
    return len(members.intersection(active)) / len(members)


def coverage(reporting: Collection[str], population: Collection[str] | None) -> float | None:
    """Share of the target population with any telemetry in the 28-day window; None without a population."""
    return adoption_ratio(reporting, population)


def is_small(population: Collection[str] | None, k: int = K_ANONYMITY) -> bool:
    """A target population of 1 to k - 1 people: it gets no adoption figures (k-anonymity)."""
    return population is not None and 0 < len(frozenset(population)) < k


@dataclass(frozen=True)
class AdoptionInput:
    """What one investment's figures are computed from, as of one day (the sets are 28-day windows)."""

    population: frozenset[str] | None
    active_users: frozenset[str]
    reporting_users: frozenset[str]
    seats: int | None = None
    annual_cost: float | None = None


class AdoptionFigures(NamedTuple):
    """The adoption and cost figures of one investment; None where docs/metrics.md leaves a figure undefined."""

    adoption_ratio: float | None
    coverage: float | None
    active_users: int
    licence_utilisation: float | None
    wasted_spend: float | None
    cost_per_active_user: float | None


def figures(data: AdoptionInput) -> AdoptionFigures:
    """All figures of one investment; a day with coverage 0 has no data, so no adoption ratio (not 0)."""
    active = len(data.active_users)
    covered = coverage(data.reporting_users, data.population)
    return AdoptionFigures(
        adoption_ratio=None if covered == 0 else adoption_ratio(data.active_users, data.population),
        coverage=covered,
        active_users=active,
        licence_utilisation=licence_utilisation(active, data.seats),
        wasted_spend=wasted_spend(data.seats, active, data.annual_cost),
        cost_per_active_user=cost_per_active_user(data.annual_cost, active),
    )


# --- A whole fleet: what the pipeline's tables should hold -----------------------------------------------------


@dataclass(frozen=True)
class App:
    """A catalogued application."""

    id: str
    capability: str
    min_minutes: float = ACTIVE_MINUTES
    sanctioned: bool = True


@dataclass(frozen=True)
class Investment:
    """An investment: its applications, target departments (None: the whole directory) and thresholds."""

    id: str
    applications: tuple[str, ...]
    target_departments: tuple[str, ...] | None = None
    min_minutes: float | None = None  # overrides its applications' thresholds
    seats: int | None = None


class UsageDay(NamedTuple):
    """One (day, user, raw identifier) row: focus and open seconds, launch records."""

    focus_s: float
    open_s: float
    launches: int


class DailyFigures(NamedTuple):
    """An investment's counts and ratios on one day (windows ending that day)."""

    dau: int
    wau: int
    mau: int
    mau_target: int
    population: int | None
    reporting: int
    adoption_ratio: float | None
    coverage: float | None


class DepartmentFigures(NamedTuple):
    population: int
    active_users: int | None
    adoption_ratio: float | None
    coverage: float


class ApplicationFigures(NamedTuple):
    in_catalog: bool
    sanctioned: bool
    capability: str | None
    active_users: int


@dataclass(frozen=True)
class Fleet:
    """Everything the figures depend on: the events, the time zone, the catalog and the directory."""

    spans: tuple[Span, ...]
    tz: ZoneInfo
    applications: Mapping[str, App]
    identity: Mapping[str, str]  # raw identifier -> application id; any other identifier is uncatalogued
    investments: Mapping[str, Investment]
    directory: Mapping[str, str] | None  # user -> department; None: no directory

    def application_of(self, raw: str) -> str:
        """The catalog application of a raw identifier, or the identifier itself when uncatalogued."""
        return self.identity.get(raw, raw)

    def min_minutes(self, application: str, investment: Investment | None = None) -> float:
        """The active-day threshold: the investment's override, else the application's, else the default."""
        if investment is not None and investment.min_minutes is not None:
            return investment.min_minutes
        app = self.applications.get(application)
        return app.min_minutes if app is not None else ACTIVE_MINUTES

    @cached_property
    def focus(self) -> list[DailyFocus]:
        """Focus per (user, application, day): the raw identifiers of one application are added up."""
        totals: dict[tuple[str, str, date], float] = defaultdict(float)
        for row in focus_by_day(self.spans, self.tz):
            totals[row.user, self.application_of(row.app), row.day] += row.focus_s
        return [DailyFocus(user, app, day, s) for (user, app, day), s in totals.items()]

    @cached_property
    def seen(self) -> frozenset[tuple[str, date]]:
        """(user, day) of every piece of telemetry, any kind, any application."""
        return frozenset((s.user, day) for s in self.spans for day, _ in split_by_day(s.start, s.duration_s, self.tz))

    def active_days_of(self, investment: Investment) -> frozenset[ActiveDay]:
        thresholds = {a: self.min_minutes(a, investment) for a in investment.applications}
        return active_days(self.focus, app_min_minutes=thresholds)

    def population(self, investment: Investment) -> frozenset[str] | None:
        return target_population(self.directory, investment.target_departments)


def usage_user_daily(fleet: Fleet) -> dict[tuple[date, str, str], UsageDay]:
    """Per (local day, user, raw identifier): focus and open seconds split at midnight, launch records."""
    focus: dict[tuple[date, str, str], float] = defaultdict(float)
    background: dict[tuple[date, str, str], float] = defaultdict(float)
    launches: dict[tuple[date, str, str], int] = defaultdict(int)
    for span in fleet.spans:
        for day, seconds in split_by_day(span.start, span.duration_s, fleet.tz):
            key = (day, span.user, span.app)
            focus[key] += seconds if span.kind == FOCUS else 0.0
            background[key] += seconds if span.kind == OPEN else 0.0
            launches[key] += 1 if span.kind == LAUNCH else 0
    return {key: UsageDay(focus[key], background[key], launches[key]) for key in focus}


def daily_figures(fleet: Fleet, investment_id: str, day: date, k: int = K_ANONYMITY) -> DailyFigures:
    """DAU, WAU, MAU (anyone), MAU of the target population, population, coverage and adoption on `day`.

    mau_target is the raw count (adoption_series); a population under k people has no coverage or adoption.
    """
    investment = fleet.investments[investment_id]
    days = fleet.active_days_of(investment)
    counts = active_counts(days, day, investment.applications)
    active = active_users(days, *window(day, MONTH_DAYS), investment.applications)
    population = fleet.population(investment)
    reporting = reporting_users(fleet.seen, *window(day, MONTH_DAYS))
    fig = figures(AdoptionInput(population, active, reporting))
    small = is_small(population, k)
    return DailyFigures(
        dau=counts.dau,
        wau=counts.wau,
        mau=counts.mau,
        mau_target=len(active & (population or frozenset())),
        population=None if population is None else len(population),
        reporting=len(reporting & (population or frozenset())),
        adoption_ratio=None if small else fig.adoption_ratio,
        coverage=None if small else fig.coverage,
    )


def investment_stickiness(fleet: Fleet, investment_id: str, as_of: date) -> float | None:
    """Mean DAU over the 28-day window ending at `as_of` / MAU."""
    investment = fleet.investments[investment_id]
    days = fleet.active_days_of(investment)
    mau = active_counts(days, as_of, investment.applications).mau
    return stickiness(dau_series(days, as_of, MONTH_DAYS, investment.applications), mau)


def status(
    fleet: Fleet,
    investment_id: str,
    as_of: date,
    go_live: date,
    planned: Callable[[date], float],
    k: int = K_ANONYMITY,
) -> tuple[str, str | None]:
    """docs/metrics.md's status and reason on `as_of`; `planned(t)` is the plan on a day t >= go_live."""
    if as_of < go_live:
        return "not_started", "before_go_live"
    if is_small(fleet.population(fleet.investments[investment_id]), k):
        return "unknown", "small_population"
    today = daily_figures(fleet, investment_id, as_of, k)
    if today.coverage is None:
        return "unknown", "no_directory"
    if today.coverage < MIN_COVERAGE:
        return "unknown", "low_coverage"
    below: list[bool | None] = []  # per day of the last LOW_DAYS: below plan, not below, or not known
    for back in range(LOW_DAYS):
        day = as_of - timedelta(days=back)
        fig = daily_figures(fleet, investment_id, day, k)
        if fig.coverage is None or fig.coverage < MIN_COVERAGE or fig.adoption_ratio is None:
            below.append(None)
        else:
            below.append(day >= go_live and fig.adoption_ratio < planned(day) * (1 - TOLERANCE))
    if False in below:  # a known day at or above the threshold, today included
        return "on_track", None
    if all(b is True for b in below):
        return "low", "below_plan"
    return "unknown", "insufficient_history"


def department_adoption(
    fleet: Fleet, investment_id: str, as_of: date, k: int = K_ANONYMITY
) -> dict[str, DepartmentFigures]:
    """Adoption per target department of at least k people (smaller ones are suppressed, and then the smallest
    others until the left-out ones hold none or at least k people); no ratio below min_coverage (the share of the
    department with any telemetry in the 28-day window)."""
    if fleet.directory is None:
        return {}
    investment = fleet.investments[investment_id]
    active = active_users(fleet.active_days_of(investment), *window(as_of, MONTH_DAYS), investment.applications)
    reporting = reporting_users(fleet.seen, *window(as_of, MONTH_DAYS))
    out: dict[str, DepartmentFigures] = {}
    departments = set(investment.target_departments or fleet.directory.values())
    sizes = {d: len(target_population(fleet.directory, [d]) or frozenset()) for d in departments}
    # Secondary suppression: what is left out must be nobody or at least k people, or a subtraction from the
    # investment's totals would show it; the smallest shown departments go first.
    shown = sorted((d for d in departments if sizes[d] >= k), key=lambda d: (sizes[d], d))
    left_out = sum(n for n in sizes.values() if n < k)
    while shown and 0 < left_out < k:
        left_out += sizes[shown.pop(0)]
    for dept in shown:
        members = target_population(fleet.directory, [dept]) or frozenset()
        n = len(members & active)
        covered = len(members & reporting) / len(members)
        known = n if covered > 0 else None  # nobody reporting: no data, not nobody active
        out[dept] = DepartmentFigures(
            len(members), known, n / len(members) if covered >= MIN_COVERAGE else None, covered
        )
    return out


def application_activity(fleet: Fleet, as_of: date) -> dict[str, ApplicationFigures]:
    """Active users (28-day) of each application, catalogued or not; applications nobody used actively are absent.

    An application's own threshold applies (investment overrides do not); uncatalogued ones use the default.
    """
    thresholds = {row.app: fleet.min_minutes(row.app) for row in fleet.focus}
    days = active_days(fleet.focus, app_min_minutes=thresholds)
    out: dict[str, ApplicationFigures] = {}
    for application in sorted({d.app for d in days}):
        users = active_users(days, *window(as_of, MONTH_DAYS), [application])
        if users:
            app = fleet.applications.get(application)
            out[application] = ApplicationFigures(
                in_catalog=app is not None,
                sanctioned=app is not None and app.sanctioned,
                capability=app.capability if app is not None else None,
                active_users=len(users),
            )
    return out


def shadow_it_growth(
    fleet: Fleet, as_of: date, windows: Iterable[int], k: int = K_ANONYMITY
) -> dict[tuple[str, int], int]:
    """(application, window days) -> active users (28-day) as of `as_of` minus as of `as_of` - window, for the shadow-IT
    applications (not sanctioned, k or more active users as of `as_of`).

    Absent when the earlier day is not known: the telemetry (any kind, anyone) starts after its 28-day window does,
    or none falls in that window; and when its count is 1 to k - 1 (today's count minus the growth would show it).
    """
    held = {day for day, _user, _raw in usage_user_daily(fleet)}
    today = application_activity(fleet, as_of)
    out: dict[tuple[str, int], int] = {}
    for days in windows:
        earlier = as_of - timedelta(days=days)
        first, last = window(earlier, MONTH_DAYS)
        if not held or min(held) > first or not any(first <= day <= last for day in held):
            continue
        before = application_activity(fleet, earlier)
        for application, figures in today.items():
            if figures.sanctioned or figures.active_users < k:
                continue
            n = before[application].active_users if application in before else 0
            if 0 < n < k:
                continue
            out[application, days] = figures.active_users - n
    return out


class UsageGroup(NamedTuple):
    """Use of one application by one department on one day."""

    users: int
    active_users: int
    focus_minutes: float
    open_minutes: float
    launches: int


def usage_daily(fleet: Fleet, k: int = K_ANONYMITY) -> dict[tuple[date, str, str], UsageGroup]:
    """Per (day, application, department) with at least k people having any telemetry of it.

    People outside the directory are left out; an uncatalogued application is `uncatalogued:<raw identifier>`;
    an active user has an active day on the application (its identifiers' focus added up).
    """
    if fleet.directory is None:
        return {}
    thresholds = {row.app: fleet.min_minutes(row.app) for row in fleet.focus}
    active = active_days(fleet.focus, app_min_minutes=thresholds)
    groups: dict[tuple[date, str, str], list[tuple[str, UsageDay]]] = defaultdict(list)
    for (day, user, raw), usage in usage_user_daily(fleet).items():
        if user in fleet.directory:
            groups[day, fleet.application_of(raw), fleet.directory[user]].append((user, usage))
    out: dict[tuple[date, str, str], UsageGroup] = {}
    for (day, application, dept), rows in groups.items():
        users = {user for user, _ in rows}
        if len(users) >= k:
            label = application if application in fleet.applications else f"uncatalogued:{application}"
            out[day, label, dept] = UsageGroup(
                users=len(users),
                active_users=sum(ActiveDay(user, application, day) in active for user in users),
                focus_minutes=sum(usage.focus_s for _, usage in rows) / 60,
                open_minutes=sum(usage.open_s for _, usage in rows) / 60,
                launches=sum(usage.launches for _, usage in rows),
            )
    # Secondary suppression: per day and application, the departments left out (by directory size) must hold none
    # or at least k people, else the organisation-wide counts minus the shown rows would give theirs.
    sizes = Counter(fleet.directory.values())
    everyone = sum(sizes.values())
    for day, label in {(d, a) for d, a, _ in out}:
        shown = sorted((dept for d, a, dept in out if (d, a) == (day, label)), key=lambda x: (sizes[x], x))
        left_out = everyone - sum(sizes[dept] for dept in shown)
        while shown and 0 < left_out < k:
            dept = shown.pop(0)
            left_out += sizes[dept]
            del out[day, label, dept]
    return out
