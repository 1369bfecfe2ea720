"""The plain values every alignment score is computed from: strategy structure, measured state, usage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pipeline.domain.portfolio import Overlap
from pipeline.domain.rules import K_ANONYMITY, app_name


@dataclass(frozen=True)
class AppInfo:
    """A catalog application: what it is for, whether it is sanctioned, what legacy app it displaces."""

    id: str
    name: str
    capability: str | None = None
    sanctioned: bool = True
    replaces: str | None = None
    interchangeable_with: tuple[str, ...] = ()  # applications the catalog says do the same job
    annual_cost_per_user: float | None = None  # the catalog's price, used for shadow IT
    currency: str | None = None


@dataclass(frozen=True)
class InitiativeInfo:
    """An initiative placed in the Henderson & Venkatraman model."""

    id: str
    name: str
    objective: str
    domain: str
    perspective: str
    weight: float = 1.0
    has_owner: bool = False
    depends_on: tuple[str, ...] = ()
    owner: str | None = None  # the owner's name, when the catalog names one


@dataclass(frozen=True)
class ObjectiveInfo:
    """A business objective and the ids of its initiatives."""

    id: str
    name: str
    initiatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class InvestmentInfo:
    """Money spent, what it buys and the plan it is judged against (initiative None: orphan spend)."""

    id: str
    name: str
    annual_cost: float
    go_live: date
    target_ratio: float
    target_date: date
    initiative: str | None = None
    objective: str | None = None
    applications: tuple[str, ...] = ()
    currency: str = "EUR"
    seats: int | None = None
    has_owner: bool = True
    renewal_date: date | None = None
    curve: Literal["s_curve", "linear"] = "s_curve"
    target_departments: tuple[str, ...] = ()  # empty: the whole directory
    owner: str | None = None  # the owner's name, when the catalog names one


@dataclass(frozen=True)
class Strategy:
    """The catalog as plain values: objectives -> initiatives -> investments, and applications."""

    objectives: tuple[ObjectiveInfo, ...] = ()
    initiatives: Mapping[str, InitiativeInfo] = field(default_factory=dict)
    investments: Mapping[str, InvestmentInfo] = field(default_factory=dict)
    applications: Mapping[str, AppInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class InvestmentState:
    """The docs/metrics.md figures of one investment as of one day (a row of adoption_current)."""

    status: str = "unknown"
    adoption_ratio: float | None = None
    planned_ratio: float | None = None
    coverage: float | None = None
    population: int | None = None
    mau: int = 0
    licence_utilisation: float | None = None
    wasted_spend: float | None = None
    forecast: str = "insufficient_data"
    forecast_date: date | None = None
    at_risk: bool | None = None
    status_reason: str | None = None  # why the status is not on_track (docs/metrics.md, Data completeness)

    @property
    def judged(self) -> bool:
        """Status on_track or low: there is enough evidence to judge adoption against the plan."""
        return self.status in ("on_track", "low")

    @property
    def low_or_at_risk(self) -> bool:
        """Status low, or judged and the forecast misses the target date (missing data is not a risk)."""
        return self.status == "low" or (self.judged and self.at_risk is True)


@dataclass(frozen=True)
class Usage:
    """Usage in the 28-day window ending at the as-of day, keyed by application (catalog id or uncatalogued:x).

    Read from the pipeline's own file only: user sets hold pseudonyms for counting; alignment.summary reduces them
    to a UsageSummary, the only form that is stored or scored.
    """

    focus_s: Mapping[str, float] = field(default_factory=dict)
    active_users: Mapping[str, frozenset[str]] = field(default_factory=dict)
    active_by_department: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    active_user_days: Mapping[str, int] = field(default_factory=dict)
    active_focus_s: Mapping[str, float] = field(default_factory=dict)
    weekly_active: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    first_day: date | None = None

    @property
    def active_people(self) -> frozenset[str]:
        """Everyone with an active day on any application."""
        return frozenset().union(*self.active_users.values()) if self.active_users else frozenset()


@dataclass(frozen=True)
class UsageSummary:
    """The k-safe counts of Usage the alignment scores read (alignment.summary.summarise): per application only
    for applications with >= k active users, per department only for departments of >= k people."""

    focus_s: Mapping[str, float] = field(default_factory=dict)
    total_focus_s: float = 0.0  # every application's, shown or not
    sanctioned_focus_s: float = 0.0  # on sanctioned catalog applications, shown or not
    funded_active_user_days: int = 0  # active (user, application, day) triples on applications an investment funds
    funded_active_focus_s: float = 0.0  # focus on those active days
    active_users: Mapping[str, int] = field(default_factory=dict)
    weekly_active: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    active_people: int = 0  # active on any application
    shadow_people: int = 0  # active on any shadow-IT application
    # Per investment, (department, adoption ratio) of its k-safe target departments whose use can be seen.
    department_adoption: Mapping[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    overlaps: tuple[Overlap, ...] = ()  # interchangeable tools used side by side in a department, >= k people
    overlap_focus_s: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # per overlap group, per app
    # Per catalog capability used by >= k active people: (focus seconds, effective number of tools 1 / Σ share²).
    capabilities: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    first_day: date | None = None


@dataclass(frozen=True)
class SwitchWeek:
    """Focus on a new application and on the legacy one it replaces, for one department and week."""

    new_app: str
    old_app: str
    department: str
    week: date
    new_s: float
    old_s: float
    users: int


@dataclass(frozen=True)
class InterventionEffect:
    """An intervention's estimated effect on its investment's adoption, as `intervention_effects` publishes it.

    k-safe: `departments` names only departments of at least k people, and a group under k has no figure (verdict
    not_estimable). Shares: 0.2 is 20 percentage points (docs/metrics.md, Effect of an intervention).
    """

    intervention: str
    investment: str
    kind: str  # training, communication, enablement, licence_change, other
    first_day: date
    last_day: date
    post_to: date  # the last day of the window after
    departments: tuple[str, ...]
    verdict: str  # effect, no_detectable_effect, not_estimable
    reason: str | None = None  # why not_estimable
    level: float = 0.99
    effect: float | None = None
    effect_low: float | None = None
    effect_high: float | None = None
    # The pre-period check can show that the groups drifted apart before, never that they moved in parallel.
    trends: str = "not_checked"  # no_divergence_detected, diverging, not_checked
    additional_active_users: float | None = None
    cost: float | None = None
    currency: str | None = None
    cost_per_additional_active_user: float | None = None  # the point value: cost / additional_active_users
    # The range that follows from the interval: cost / (effect_high x treated people) .. cost / (effect_low x treated
    # people); like the point value, only for verdict effect and a rise (None in a file published before it).
    cost_per_additional_active_user_low: float | None = None
    cost_per_additional_active_user_high: float | None = None
    # The investment's other interventions on a day of its windows: where they reached the same departments, the
    # effect is theirs together; the departments they reached elsewhere are left out of the comparison.
    overlaps: tuple[str, ...] = ()

    @property
    def rose(self) -> bool:
        """Whether it measurably raised adoption: verdict effect, and a rise."""
        return self.verdict == "effect" and self.effect is not None and self.effect > 0

    @property
    def diverging(self) -> bool:
        """Whether the groups were already drifting apart before it: its effect is to be read with caution."""
        return self.trends == "diverging"

    @property
    def interval(self) -> tuple[float, float] | None:
        """(low, high) of the effect's interval at `level`; None when it was not estimated."""
        if self.effect_low is None or self.effect_high is None:
            return None
        return self.effect_low, self.effect_high


@dataclass(frozen=True)
class Facts:
    """Everything the alignment scores read, as of one day."""

    as_of: date
    strategy: Strategy
    states: Mapping[str, InvestmentState] = field(default_factory=dict)
    usage: UsageSummary = field(default_factory=UsageSummary)
    switches: tuple[SwitchWeek, ...] = ()
    department_sizes: Mapping[str, int] = field(default_factory=dict)
    series: Mapping[str, tuple[tuple[date, float | None], ...]] = field(default_factory=dict)
    k: int = K_ANONYMITY
    # Per intervention, its latest estimate made on or before this day (a final one is kept as it was made).
    effects: tuple[InterventionEffect, ...] = ()

    def app_name(self, app: str) -> str:
        """The display name of an application key (the raw identifier for an uncatalogued one)."""
        info = self.strategy.applications.get(app)
        return info.name if info is not None else app_name(app)

    def state(self, investment: str) -> InvestmentState:
        """The measured state of an investment; an unmeasured one is `unknown`."""
        return self.states.get(investment, InvestmentState())
