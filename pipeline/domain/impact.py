"""The effect of an intervention on adoption: difference-in-differences with a seeded bootstrap (docs/metrics.md).

The treated departments' change in adoption ratio from the window before the intervention to the window after it,
minus the same change in the untreated departments of the investment's target population, over the people with
telemetry in both windows (missing data is not non-use). The interval comes from resampling people with replacement
within each department, plus a few pseudo-people per group so that a group in which nobody changed is not taken for
certain; the verdict is `effect` when the interval excludes 0, `no_detectable_effect` (inconclusive) when it contains
0, and `not_estimable`, with its reason, when the data cannot say. Pure: the people arrive already counted by activity
pattern (pipeline.impact reads them from DuckDB).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from itertools import accumulate
from typing import Any, NamedTuple

from pipeline.domain.privacy import shown_beside_a_total
from pipeline.domain.rules import (
    EFFECT_LEVEL,
    EFFECT_PSEUDO_PEOPLE,
    EFFECT_RESAMPLES,
    EFFECT_SEED,
    EFFECT_SETTLE_DAYS,
    EFFECT_WINDOW_DAYS,
    K_ANONYMITY,
    MIN_COVERAGE,
)


class Verdict(StrEnum):
    """What the estimate says; the values are the strings shown everywhere."""

    EFFECT = "effect"
    NO_DETECTABLE_EFFECT = "no_detectable_effect"
    NOT_ESTIMABLE = "not_estimable"


class Reason(StrEnum):
    """Why an effect is not estimable."""

    NO_DIRECTORY = "no_directory"
    NO_COMPARISON_GROUP = "no_comparison_group"
    SMALL_GROUP = "small_group"
    WINDOW_NOT_OVER = "window_not_over"
    UNKNOWN_DAYS = "unknown_days"


class Trends(StrEnum):
    """The parallel-trends check: the same difference-in-differences one window earlier.

    It can show that the groups drifted apart before the intervention, never that they moved in parallel: an interval
    containing 0 is no divergence *detected*.
    """

    NO_DIVERGENCE_DETECTED = "no_divergence_detected"  # its interval contains 0
    DIVERGING = "diverging"  # its interval excludes 0: the groups already drifted apart before the intervention
    NOT_CHECKED = "not_checked"  # the base window lacks known days, or its people with telemetry are under k


class Activity(NamedTuple):
    """One person's pattern: active for the investment in the base, pre and post windows.

    A person is counted only with telemetry in the pre and post windows; `base` is None without telemetry in the base
    window (that person is left out of the trend check only).
    """

    base: bool | None
    pre: bool
    post: bool


PATTERNS: tuple[Activity, ...] = tuple(
    Activity(b, p, q) for b in (None, False, True) for p in (False, True) for q in (False, True)
)


@dataclass(frozen=True)
class Windows:
    """The three windows of an estimate, each (first day, last day), inclusive."""

    base: tuple[date, date]
    pre: tuple[date, date]
    post: tuple[date, date]

    @classmethod
    def around(cls, first_day: date, last_day: date, days: int = EFFECT_WINDOW_DAYS) -> Windows:
        """`days` days before the intervention's first day, `days` after its last, and the `days` before those."""
        if days < 1:
            raise ValueError(f"a window has at least one day, got {days}")
        if last_day < first_day:
            raise ValueError(f"the last day {last_day} is before the first {first_day}")
        one = timedelta(days=1)
        width = timedelta(days=days)
        return cls(
            base=(first_day - 2 * width, first_day - width - one),
            pre=(first_day - width, first_day - one),
            post=(last_day + one, last_day + width),
        )


@dataclass(frozen=True)
class Group:
    """The people of a group of departments, as the estimate needs them."""

    # department -> people with telemetry in the pre and post windows, per activity pattern
    departments: Mapping[str, Mapping[Activity, int]]
    reporting: Mapping[date, int] = field(default_factory=dict)  # day -> people with telemetry in its 28-day window
    directory: int = 0  # the directory's people in the group's departments, coverage's denominator (0: `size`)

    @property
    def size(self) -> int:
        """The people counted: those with telemetry in the pre and post windows."""
        return sum(sum(counts.values()) for counts in self.departments.values())

    @property
    def people(self) -> int:
        """The directory's people in the group's departments (`size` when not given)."""
        return self.directory or self.size

    def with_base(self) -> Group:
        """The people with telemetry in the base window too: those the trend check counts."""
        kept = {d: {a: n for a, n in c.items() if a.base is not None} for d, c in self.departments.items()}
        return Group({d: c for d, c in kept.items() if c}, self.reporting, self.directory)

    def ratio(self, window: str) -> float:
        """Share of the group active in one window ('base', 'pre' or 'post'); the base over `with_base()`."""
        group = self.with_base() if window == "base" else self
        active = sum(n for counts in group.departments.values() for a, n in counts.items() if getattr(a, window))
        return active / group.size

    def unknown_days(self, first: date, last: date, min_coverage: float) -> list[date]:
        """The days from first to last whose coverage (docs/metrics.md) is under min_coverage: not known."""
        size = self.people
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return [day for day in days if size == 0 or self.reporting.get(day, 0) / size < min_coverage]


@dataclass(frozen=True)
class Subject:
    """An intervention as the estimate needs it."""

    intervention: str
    investment: str
    kind: str
    first_day: date
    last_day: date
    departments: tuple[str, ...]  # treated
    cost: float | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Options:
    """How an estimate is made (defaults: pipeline.domain.rules)."""

    window_days: int = EFFECT_WINDOW_DAYS
    level: float = EFFECT_LEVEL
    resamples: int = EFFECT_RESAMPLES
    seed: int = EFFECT_SEED
    k: int = K_ANONYMITY
    settle_days: int = EFFECT_SETTLE_DAYS

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {self.window_days}")
        if not 0 < self.level < 1:
            raise ValueError(f"level must be between 0 and 1, got {self.level}")
        if self.resamples < 1:
            raise ValueError(f"resamples must be at least 1, got {self.resamples}")
        if self.settle_days < 0:
            raise ValueError(f"settle_days must be 0 or more, got {self.settle_days}")


@dataclass(frozen=True)
class Effect:
    """The estimated effect of one intervention on its investment's adoption, with every figure and the verdict.

    Ratios and effects are shares (0.2 = 20 percentage points). Figures are None where they are not estimable;
    group sizes (people with telemetry in both windows) are None for a group under k. `row()` is the flat form the
    CSV, the JSON and views use.
    """

    intervention: str
    investment: str
    kind: str
    first_day: date
    last_day: date
    as_of: date
    window_days: int
    level: float
    base_window: tuple[date, date]
    pre_window: tuple[date, date]
    post_window: tuple[date, date]
    departments: tuple[str, ...]
    comparison_departments: tuple[str, ...]
    verdict: Verdict
    reason: Reason | None
    detail: str
    treated_people: int | None = None
    comparison_people: int | None = None
    treated_pre: float | None = None
    treated_post: float | None = None
    comparison_pre: float | None = None
    comparison_post: float | None = None
    effect: float | None = None
    effect_low: float | None = None
    effect_high: float | None = None
    trends: Trends = Trends.NOT_CHECKED
    pre_trend: float | None = None
    pre_trend_low: float | None = None
    pre_trend_high: float | None = None
    additional_active_users: float | None = None
    cost: float | None = None
    currency: str | None = None
    cost_per_additional_active_user: float | None = None
    overlaps: tuple[str, ...] = ()
    # The range that follows from the interval: cost / (effect_high x treated) .. cost / (effect_low x treated).
    cost_per_additional_active_user_low: float | None = None
    cost_per_additional_active_user_high: float | None = None

    def row(self) -> dict[str, Any]:
        """Plain values only (dates as ISO text, tuples joined by ';'), one key per figure."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if name.endswith("_window"):
                out[name.replace("_window", "_from")] = value[0].isoformat()
                out[name.replace("_window", "_to")] = value[1].isoformat()
            elif isinstance(value, date):
                out[name] = value.isoformat()
            elif isinstance(value, tuple):
                out[name] = ";".join(value)
            elif isinstance(value, StrEnum):
                out[name] = str(value)
            else:
                out[name] = value
        return out


def estimate(
    subject: Subject,
    as_of: date,
    treated: Group,
    comparison: Group,
    *,
    comparison_departments: Sequence[str] = (),
    population: Mapping[str, int] | None = None,
    overlaps: Sequence[str] = (),
    has_directory: bool = True,
    min_coverage: float = MIN_COVERAGE,
    options: Options | None = None,
) -> Effect:
    """The effect of `subject` on adoption as of `as_of`, from the people of the treated and comparison groups.

    `population` holds the size of each of the investment's target departments (default: the groups' own). Its
    departments in neither group are *left out* (another intervention of the investment reached them during the
    windows). Privacy, as next to any published total (docs/metrics.md, Secondary suppression): the investment's
    adoption and its departments of k people or more are published, so each group and the left-out part must hold,
    in departments not shown on their own (pipeline.domain.privacy.shown_beside_a_total), none or at least k people;
    otherwise subtracting would reveal them. `reporting` of each group must cover every day of the windows
    (coverage; a day missing counts as nobody reporting).
    """
    opts = options or Options()
    windows = Windows.around(subject.first_day, subject.last_day, opts.window_days)
    base: dict[str, Any] = {
        "intervention": subject.intervention,
        "investment": subject.investment,
        "kind": subject.kind,
        "first_day": subject.first_day,
        "last_day": subject.last_day,
        "as_of": as_of,
        "window_days": opts.window_days,
        "level": opts.level,
        "base_window": windows.base,
        "pre_window": windows.pre,
        "post_window": windows.post,
        "departments": subject.departments,
        "comparison_departments": tuple(comparison_departments),
        "cost": subject.cost,
        "currency": subject.currency,
        "overlaps": tuple(overlaps),
    }

    def not_estimable(reason: Reason, detail: str, *, sizes: bool = True) -> Effect:
        # A size is shown for k people or more, and not when 1 to k - 1 of the directory's lack telemetry (it would
        # count them).
        people = tuple(
            g.size if sizes and g.size >= opts.k and not 0 < g.people - g.size < opts.k else None
            for g in (treated, comparison)
        )
        return Effect(
            **base,
            verdict=Verdict.NOT_ESTIMABLE,
            reason=reason,
            detail=detail,
            treated_people=people[0],
            comparison_people=people[1],
        )

    if not has_directory:
        return not_estimable(Reason.NO_DIRECTORY, "no directory: who is in which department is unknown", sizes=False)
    k = opts.k
    # First what the directory decides (who is in which group), then the days, then the people with telemetry.
    if treated.people == 0:
        return not_estimable(Reason.SMALL_GROUP, "the treated departments hold nobody in the directory", sizes=False)
    parts = _Parts.of(subject, treated, comparison, comparison_departments, population)
    if comparison.people == 0:
        why = " that no other intervention reached in the windows" if parts.left_out else ""
        detail = f"no untreated department of the investment's target population{why} to compare with"
        return not_estimable(Reason.NO_COMPARISON_GROUP, detail, sizes=False)
    for name, size in (("treated departments", treated.people), ("comparison departments", comparison.people)):
        if size < k:
            return not_estimable(Reason.SMALL_GROUP, f"the {name} hold fewer than k = {k} people", sizes=False)
    if 0 < parts.left_out < k:
        detail = (
            f"the departments left out of the comparison (reached by another intervention in the windows) hold "
            f"fewer than k = {k} people"
        )
        return not_estimable(Reason.SMALL_GROUP, detail, sizes=False)
    for name, hidden in parts.hidden(k).items():
        if 0 < hidden < k:
            detail = (
                f"the {name} departments that are not shown on their own (under k, or left out beside them) hold "
                f"together fewer than k = {k} people: the investment's published figures would reveal them"
            )
            return not_estimable(Reason.SMALL_GROUP, detail, sizes=False)
    ready = windows.post[1] + timedelta(days=opts.settle_days + 1)
    if as_of < ready:
        return not_estimable(
            Reason.WINDOW_NOT_OVER,
            f"the window after ends on {windows.post[1].isoformat()}; estimated from {ready.isoformat()} on, when "
            f"{opts.settle_days} more days have passed for telemetry a device kept while offline",
        )
    for name, group in (("treated", treated), ("comparison", comparison)):
        missing = [day for window in (windows.pre, windows.post) for day in group.unknown_days(*window, min_coverage)]
        if missing:
            detail = (
                f"{len(missing)} day{'s' if len(missing) != 1 else ''} of the windows "
                f"{'lack' if len(missing) != 1 else 'lacks'} known telemetry for the "
                f"{name} group (coverage under {min_coverage:g}; first {missing[0].isoformat()}): missing data is "
                "not non-use"
            )
            return not_estimable(Reason.UNKNOWN_DAYS, detail)
    for name, group in (("treated", treated), ("comparison", comparison)):
        if group.size < k:
            detail = f"fewer than k = {k} people of the {name} group have telemetry in both windows"
            return not_estimable(Reason.SMALL_GROUP, detail, sizes=False)
        # The group's adoption over all its people is published day by day: beside it, the figures over those with
        # telemetry would reveal the activity of the few left out.
        if 0 < group.people - group.size < k:
            detail = (
                f"{group.people - group.size} of the {name} group's people have no telemetry in a window: fewer than "
                f"k = {k} left out would be revealed beside the published adoption (estimable once none or k or more "
                "are)"
            )
            return not_estimable(Reason.SMALL_GROUP, detail, sizes=False)

    seed = f"{opts.seed}:{subject.intervention}"
    effect = _did(treated, comparison, "pre", "post")
    low, high = _interval(_bootstrap(treated, comparison, ("pre", "post"), opts.resamples, seed), opts.level)
    verdict = Verdict.EFFECT if low > 0 or high < 0 else Verdict.NO_DETECTABLE_EFFECT
    base_known = not any(g.unknown_days(*windows.base, min_coverage) for g in (treated, comparison))
    trend = _trend(treated, comparison, opts, seed) if base_known else {}
    additional = effect * treated.size
    costs = cost_per_additional_user(subject.cost, verdict, (effect, low, high), treated.size)
    if verdict is Verdict.EFFECT:
        detail = f"{'a rise' if effect > 0 else 'a fall'} beyond the comparison's change (the interval excludes 0)"
    else:
        detail = "inconclusive (the interval contains 0): chance alone could explain the change beyond the comparison's"
    return Effect(
        **base,
        verdict=verdict,
        reason=None,
        detail=detail,
        treated_people=treated.size,
        comparison_people=comparison.size,
        treated_pre=treated.ratio("pre"),
        treated_post=treated.ratio("post"),
        comparison_pre=comparison.ratio("pre"),
        comparison_post=comparison.ratio("post"),
        effect=effect,
        effect_low=low,
        effect_high=high,
        additional_active_users=additional,
        **costs,
        **trend,
    )


def _trend(treated: Group, comparison: Group, opts: Options, seed: str) -> dict[str, Any]:
    """The pre-trend check's figures, over the people with telemetry in the base window too (its days known).

    Not checked ({}) when those people are under k in a group: their figure would be shown.
    """
    t, c = treated.with_base(), comparison.with_base()
    if t.size < opts.k or c.size < opts.k:
        return {}
    low, high = _interval(_bootstrap(t, c, ("base", "pre"), opts.resamples, f"{seed}:trend"), opts.level)
    return {
        "trends": Trends.DIVERGING if low > 0 or high < 0 else Trends.NO_DIVERGENCE_DETECTED,
        "pre_trend": _did(t, c, "base", "pre"),
        "pre_trend_low": low,
        "pre_trend_high": high,
    }


def cost_per_additional_user(
    cost: float | None, verdict: str, effect: tuple[float | None, float | None, float | None], people: int | None
) -> dict[str, Any]:
    """The cost per additional active user at the effect and over its interval (effect, low, high), for a rise found
    only (else None): the Effect fields. The pseudo-people pull the interval towards 0, so a large effect may lie
    above it."""
    point, low, high = effect
    if cost is None or verdict != Verdict.EFFECT or not people or point is None or low is None or high is None:
        return dict.fromkeys(_COSTS)
    if point <= 0 or low <= 0:  # a fall, or a rise whose interval does not exclude 0 from below
        return dict.fromkeys(_COSTS)
    return dict(zip(_COSTS, (cost / (point * people), cost / (high * people), cost / (low * people)), strict=True))


_COSTS = (
    "cost_per_additional_active_user",
    "cost_per_additional_active_user_low",
    "cost_per_additional_active_user_high",
)


@dataclass(frozen=True)
class _Parts:
    """The investment's target departments split into the treated group, the comparison group and the left-out."""

    sizes: Mapping[str, int]  # every target department's people
    departments: Mapping[str, frozenset[str]]  # "treated", "comparison", "left out" -> their departments

    @classmethod
    def of(
        cls,
        subject: Subject,
        treated: Group,
        comparison: Group,
        comparison_departments: Sequence[str],
        population: Mapping[str, int] | None,
    ) -> _Parts:
        sizes = dict(population) if population is not None else {**_sizes(treated), **_sizes(comparison)}
        treated_departments = frozenset(subject.departments) | frozenset(treated.departments)
        compared = frozenset(comparison_departments) | frozenset(comparison.departments)
        left = frozenset(sizes) - treated_departments - compared
        return cls(sizes, {"treated": treated_departments, "comparison": compared, "left out": left})

    @property
    def left_out(self) -> int:
        return sum(self.sizes[d] for d in self.departments["left out"])

    def hidden(self, k: int) -> dict[str, int]:
        """Per part, the people in its departments that the published department breakdown does not show."""
        shown = set(shown_beside_a_total(self.sizes, k))
        return {
            name: sum(n for d, n in self.sizes.items() if d in departments and d not in shown)
            for name, departments in self.departments.items()
        }


def _sizes(group: Group) -> dict[str, int]:
    return {d: sum(counts.values()) for d, counts in group.departments.items()}


def _did(treated: Group, comparison: Group, before: str, after: str) -> float:
    return (treated.ratio(after) - treated.ratio(before)) - (comparison.ratio(after) - comparison.ratio(before))


def _bootstrap(treated: Group, comparison: Group, windows: tuple[str, str], resamples: int, seed: str) -> list[float]:
    """The difference-in-differences between two windows ('base', 'pre', 'post') in each of `resamples` resamples.

    Each resample draws every department's people with replacement within that department, plus, per group,
    EFFECT_PSEUDO_PEOPLE pseudo-people drawn alike from the four before/after cells (as Agresti and Min add half an
    observation to each cell of a paired table): without them a group in which nobody changed would change by exactly
    0 in every resample, as if that were certain. Only a person's change (after - before: -1, 0 or +1) matters, so a
    department is drawn as its changes with their counts as weights.
    """
    rng = random.Random(seed)
    pseudo = {-1: 1, 0: 2, 1: 1}  # the four cells 10, 00, 11, 01 alike
    strata = [
        (sign, n, changes, list(accumulate(counts.values())))
        for sign, group in ((1, treated), (-1, comparison))
        for n, changes, counts in [*_changes(group, *windows), (EFFECT_PSEUDO_PEOPLE, list(pseudo), pseudo)]
    ]
    n_t, n_c = (group.size + EFFECT_PSEUDO_PEOPLE for group in (treated, comparison))
    values: list[float] = []
    for _ in range(resamples):
        sums = {1: 0, -1: 0}
        for sign, n, changes, cumulative in strata:
            if len(changes) == 1:
                sums[sign] += changes[0] * n
            else:
                sums[sign] += sum(rng.choices(changes, cum_weights=cumulative, k=n))
        values.append((sums[1] * n_c - sums[-1] * n_t) / (n_t * n_c))
    return values


def _changes(group: Group, before: str, after: str) -> list[tuple[int, list[int], dict[int, int]]]:
    """Per department (in a stable order): its size, and its people per change from `before` to `after`."""
    out = []
    for department in sorted(group.departments):
        counts: dict[int, int] = {}
        for a, n in group.departments[department].items():
            if n > 0:
                change = int(bool(getattr(a, after))) - int(bool(getattr(a, before)))
                counts[change] = counts.get(change, 0) + n
        if counts:
            ordered = dict(sorted(counts.items()))
            out.append((sum(ordered.values()), list(ordered), ordered))
    return out


def _interval(values: list[float], level: float) -> tuple[float, float]:
    """The percentile interval of the resampled values at `level`."""
    ordered = sorted(values)
    tail = (1 - level) / 2
    return _quantile(ordered, tail), _quantile(ordered, 1 - tail)


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default), on sorted values."""
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    if ordered[below] == ordered[above]:
        return float(ordered[below])
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
