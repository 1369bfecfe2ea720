"""Luftman alignment maturity: telemetry proxies mapped to levels 1-5, combined with survey answers.

An attribute is scored from the survey when anybody rated it (mean of the business mean and the IT mean),
else from its telemetry proxy when there is one, else it is "not assessed" — never guessed. A criterion's
level is the mean of its scored attributes, shown only when at least half of its attributes are evidenced
(else "insufficient evidence"); the overall figure is the mean of the criteria with a level.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from alignment.criteria import CRITERIA, Criterion, level_name
from alignment.facts import Facts
from alignment.survey import Answer, role_means
from pipeline.domain.portfolio import CatalogApp, shadow_it

TELEMETRY_LABEL = "telemetry-evidenced indicators"
SURVEY_LABEL = "Luftman alignment maturity (survey answers, telemetry where nobody rated)"
MIN_EVIDENCED = 0.5  # share of a criterion's attributes that must be evidenced for it to have a level
INSUFFICIENT = "insufficient evidence"
NOT_ASSESSED = "not assessed"


@dataclass(frozen=True)
class Band:
    """Explicit cut-offs from a proxy value to a level: each cut-off passed adds one level to 1."""

    cuts: tuple[float, float, float, float]
    higher_is_better: bool

    def level(self, value: float) -> int:
        """1 + the number of cut-offs the value reaches (>= when higher is better, <= otherwise)."""
        if math.isnan(value):
            raise ValueError("a proxy value is never NaN")
        if self.higher_is_better:
            return 1 + sum(1 for c in self.cuts if value >= c)
        return 1 + sum(1 for c in self.cuts if value <= c)


@dataclass(frozen=True)
class ProxySpec:
    """A telemetry proxy: which attribute it evidences and how its value maps to a level."""

    id: str
    criterion: str
    attribute: str
    name: str
    band: Band
    weak: bool = False  # evidence that only hints at the attribute (depth of use is not skill)


HIGHER_SHARE = Band((0.5, 0.7, 0.85, 0.95), higher_is_better=True)

PROXIES: tuple[ProxySpec, ...] = (
    ProxySpec(
        "sanctioned_use_share", "scope_architecture", "standards_articulation",
        "share of focus time on sanctioned applications", HIGHER_SHARE,
    ),
    ProxySpec(
        "effective_tools_per_capability", "scope_architecture", "architectural_integration",
        "effective number of tools per capability (1 / sum of squared shares)",
        Band((3.0, 2.0, 1.5, 1.2), higher_is_better=False),
    ),
    ProxySpec(
        "shadow_it_user_share", "scope_architecture", "scope_of_it",
        "share of active people who use shadow IT", Band((0.5, 0.3, 0.15, 0.05), higher_is_better=False),
    ),
    ProxySpec(
        "spend_tied_to_initiative", "value_measurement", "business_metrics",
        "share of spend tied to a strategic initiative", HIGHER_SHARE,
    ),
    ProxySpec(
        "cost_per_active_user_vs_plan", "value_measurement", "balanced_metrics",
        "actual cost per active user / planned cost per active user",
        Band((3.0, 2.0, 1.5, 1.1), higher_is_better=False),
    ),
    ProxySpec(
        "waste_share", "value_measurement", "it_metrics",
        "wasted spend / annual cost of licensed investments", Band((0.5, 0.35, 0.2, 0.1), higher_is_better=False),
    ),
    ProxySpec(
        "governance_completeness", "governance", "investment_management",
        "share of investments with an owner, an adoption target and a review (renewal) date", HIGHER_SHARE,
    ),
    ProxySpec(
        "depth_minutes", "skills", "change_readiness",
        "focus minutes per active user per active day on funded applications",
        Band((10.0, 20.0, 30.0, 45.0), higher_is_better=True), weak=True,
    ),
)  # fmt: skip


# Proxy values: pure functions of the facts; None when there is no evidence.


def sanctioned_use_share(facts: Facts) -> float | None:
    """Focus time on sanctioned catalog applications / all focus time."""
    total = facts.usage.total_focus_s
    return facts.usage.sanctioned_focus_s / total if total > 0 else None


def effective_tools_per_capability(facts: Facts) -> float | None:
    """Per capability 1 / Σ share² of focus time over its catalog apps, averaged weighted by focus time."""
    found = facts.usage.capabilities.values()
    grand = sum(total for total, _tools in found)
    return sum(total / grand * tools for total, tools in found) if grand > 0 else None


def shadow_apps(facts: Facts) -> list[str]:
    """Uncatalogued or unsanctioned applications with at least k active users (docs/metrics.md shadow IT)."""
    catalog = {a.id: CatalogApp(a.sanctioned, a.capability) for a in facts.strategy.applications.values()}
    found = shadow_it(facts.usage.active_users, catalog, facts.k)
    return [s.app for s in found]


def shadow_it_user_share(facts: Facts) -> float | None:
    """People active on any shadow-IT application / people active on any application."""
    people = facts.usage.active_people
    return facts.usage.shadow_people / people if people else None


def spend_tied_to_initiative(facts: Facts) -> float | None:
    """Annual cost of investments under an initiative / all annual cost."""
    invs = facts.strategy.investments.values()
    total = sum(i.annual_cost for i in invs)
    return sum(i.annual_cost for i in invs if i.initiative) / total if total > 0 else None


def cost_per_active_user_vs_plan(facts: Facts) -> float | None:
    """(Σ cost / Σ active users) / (Σ cost / Σ planned users) = Σ planned users / Σ active users.

    Planned users = planned ratio today × target population, over investments judged on_track or low;
    infinity when nobody is active at all.
    """
    planned = active = 0.0
    for inv in facts.strategy.investments.values():
        st = facts.state(inv.id)
        if not st.judged or not st.planned_ratio or not st.population:
            continue
        planned += st.planned_ratio * st.population
        active += st.mau
    if planned <= 0:
        return None
    return planned / active if active > 0 else math.inf


def waste_share(facts: Facts) -> float | None:
    """Σ wasted spend / Σ annual cost over started investments whose seats are known."""
    wasted = cost = 0.0
    for inv in facts.strategy.investments.values():
        st = facts.state(inv.id)
        if st.wasted_spend is None or st.status == "not_started":
            continue
        wasted += st.wasted_spend
        cost += inv.annual_cost
    return wasted / cost if cost > 0 else None


def governance_completeness(facts: Facts) -> float | None:
    """Share of investments with an owner, a target (ratio > 0 and date) and a renewal date."""
    invs = list(facts.strategy.investments.values())
    if not invs:
        return None
    complete = sum(1 for i in invs if i.has_owner and i.target_ratio > 0 and i.renewal_date is not None)
    return complete / len(invs)


def depth_minutes(facts: Facts) -> float | None:
    """Focus minutes on active days / active (user, application, day) triples, on apps some investment funds."""
    days = facts.usage.funded_active_user_days
    return facts.usage.funded_active_focus_s / days / 60 if days > 0 else None


PROXY_VALUES: dict[str, Callable[[Facts], float | None]] = {
    "sanctioned_use_share": sanctioned_use_share,
    "effective_tools_per_capability": effective_tools_per_capability,
    "shadow_it_user_share": shadow_it_user_share,
    "spend_tied_to_initiative": spend_tied_to_initiative,
    "cost_per_active_user_vs_plan": cost_per_active_user_vs_plan,
    "waste_share": waste_share,
    "governance_completeness": governance_completeness,
    "depth_minutes": depth_minutes,
}


@dataclass(frozen=True)
class Proxy:
    """A proxy's value on the facts and the level it maps to (both None without evidence)."""

    spec: ProxySpec
    value: float | None

    @property
    def level(self) -> int | None:
        return None if self.value is None else self.spec.band.level(self.value)


@dataclass(frozen=True)
class AttributeScore:
    """One attribute: its survey ratings, its telemetry proxy, and the score used (None: not assessed)."""

    criterion: str
    attribute: str
    business: float | None
    it: float | None
    proxy: Proxy | None

    @property
    def survey(self) -> float | None:
        """Mean of the role means (so ten business answers do not outweigh one IT answer)."""
        rated = [v for v in (self.business, self.it) if v is not None]
        return sum(rated) / len(rated) if rated else None

    @property
    def score(self) -> float | None:
        if self.survey is not None:
            return self.survey
        return float(self.proxy.level) if self.proxy is not None and self.proxy.level is not None else None

    @property
    def source(self) -> str:
        if self.survey is not None:
            return "survey"
        return "telemetry" if self.score is not None else "not assessed"


@dataclass(frozen=True)
class CriterionScore:
    """One criterion: its level (with enough evidence), how much is evidenced, business-IT disagreement."""

    criterion: Criterion
    attributes: tuple[AttributeScore, ...]

    @property
    def assessed(self) -> tuple[AttributeScore, ...]:
        return tuple(a for a in self.attributes if a.score is not None)

    @property
    def mean(self) -> float | None:
        """Mean of the evidenced attributes, whatever their share (not a level: see `score`)."""
        scores = [a.score for a in self.assessed if a.score is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def evidenced(self) -> float:
        """Share of the criterion's attributes that have evidence (survey or telemetry)."""
        return len(self.assessed) / len(self.attributes)

    @property
    def score(self) -> float | None:
        """The level: the mean of the evidenced attributes when at least half are evidenced, else None."""
        return self.mean if self.evidenced >= MIN_EVIDENCED else None

    @property
    def insufficient(self) -> bool:
        """Some evidence, but less than half of the attributes: shown as "insufficient evidence", never a number."""
        return self.mean is not None and self.score is None

    @property
    def level_text(self) -> str:
        """'3.7 (established, focused)', 'insufficient evidence (17% evidenced)' or 'not assessed'."""
        if self.score is not None:
            return f"{self.score:.1f} ({level_name(self.score)})"
        if self.insufficient:
            return f"{INSUFFICIENT} ({self.evidenced:.0%} evidenced)"
        return NOT_ASSESSED

    @property
    def disagreement(self) -> float | None:
        """Mean |business - IT| over attributes rated by both; None when no attribute was."""
        gaps = [abs(a.business - a.it) for a in self.attributes if a.business is not None and a.it is not None]
        return sum(gaps) / len(gaps) if gaps else None


@dataclass(frozen=True)
class Maturity:
    """All six criteria, the overall mean of those with a level and the weakest criterion."""

    criteria: tuple[CriterionScore, ...]
    surveyed: bool

    @property
    def label(self) -> str:
        """What the figure may be called: without survey answers it is never a Luftman score."""
        return SURVEY_LABEL if self.surveyed else TELEMETRY_LABEL

    @property
    def levelled(self) -> tuple[CriterionScore, ...]:
        """The criteria with a level (at least half of their attributes evidenced)."""
        return tuple(c for c in self.criteria if c.score is not None)

    @property
    def overall(self) -> float | None:
        scores = [c.score for c in self.levelled if c.score is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def headline(self) -> str:
        """'3.7 / 5 over 2 of 6 criteria', or why there is no figure."""
        if self.overall is None:
            evidenced = any(c.mean is not None for c in self.criteria)
            return (
                f"{INSUFFICIENT} for every criterion"
                if evidenced
                else f"{NOT_ASSESSED} (no evidence for any criterion)"
            )
        return f"{self.overall:.1f} / 5 over {len(self.levelled)} of {len(self.criteria)} criteria"

    @property
    def weakest(self) -> CriterionScore | None:
        """The criterion with a level with the lowest level (the first in Luftman's order on a tie)."""
        levelled = self.levelled
        return min(levelled, key=lambda c: c.score or 0.0) if levelled else None

    def by_id(self, criterion: str) -> CriterionScore:
        return next(c for c in self.criteria if c.criterion.id == criterion)


def proxies(facts: Facts) -> dict[tuple[str, str], Proxy]:
    """Every telemetry proxy on the facts, keyed by (criterion, attribute)."""
    return {(p.criterion, p.attribute): Proxy(p, PROXY_VALUES[p.id](facts)) for p in PROXIES}


def maturity(evidence: Mapping[tuple[str, str], Proxy], answers: Iterable[Answer] = ()) -> Maturity:
    """Combine telemetry proxies and survey answers into the six criteria."""
    answer_list = list(answers)
    ratings = role_means(answer_list)
    criteria = []
    for criterion in CRITERIA:
        attributes = []
        for attribute in criterion.attributes:
            rated = ratings.get((criterion.id, attribute), {})
            attributes.append(
                AttributeScore(
                    criterion.id,
                    attribute,
                    rated.get("business"),
                    rated.get("it"),
                    evidence.get((criterion.id, attribute)),
                )
            )
        criteria.append(CriterionScore(criterion, tuple(attributes)))
    return Maturity(tuple(criteria), surveyed=bool(answer_list))
