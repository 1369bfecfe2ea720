"""Henderson & Venkatraman portfolio: spend, attainment and trouble per domain and per perspective."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alignment.facts import InvestmentInfo, InvestmentState, Strategy
from pipeline.domain.attainment import (
    InitiativeResult,
    InvestmentResult,
    initiative_attainment,
    objective_attainment,
)
from pipeline.domain.status import Status

DOMAINS = ("business_strategy", "it_strategy", "organisational_infrastructure", "it_infrastructure")
PERSPECTIVES = ("strategy_execution", "technology_transformation", "competitive_potential", "service_level")
MIXED = "mixed"


@dataclass(frozen=True)
class Segment:
    """One row of the portfolio: a domain, a perspective, the orphan spend or the total."""

    axis: str  # domain | perspective | orphan | total
    key: str
    initiatives: int
    investments: int
    spend: float
    attainment: float | None
    low_or_at_risk: int

    def spend_share(self, total: float) -> float | None:
        """This segment's share of all spend."""
        return self.spend / total if total > 0 else None


@dataclass(frozen=True)
class Portfolio:
    """The portfolio segments plus the two step-1 findings: orphan spend and unfunded strategy."""

    currency: str
    segments: tuple[Segment, ...]
    orphans: tuple[str, ...]
    unfunded_initiatives: tuple[str, ...]
    unfunded_objectives: tuple[str, ...]

    @property
    def total(self) -> Segment:
        return next(s for s in self.segments if s.axis == "total")

    @property
    def orphan(self) -> Segment:
        return next(s for s in self.segments if s.axis == "orphan")

    def by(self, axis: str) -> tuple[Segment, ...]:
        """The segments of one axis (domain or perspective), in the model's order."""
        return tuple(s for s in self.segments if s.axis == axis)


def attainment(pairs: Iterable[tuple[InvestmentInfo, InvestmentState]]) -> float | None:
    """Cost-weighted attainment (docs/metrics.md roll-up) over investments on_track or low."""
    return initiative_attainment(
        InvestmentResult(Status(st.status), inv.annual_cost, st.adoption_ratio, st.planned_ratio) for inv, st in pairs
    )


def _segment(axis: str, key: str, pairs: list[tuple[InvestmentInfo, InvestmentState]], initiatives: int) -> Segment:
    return Segment(
        axis=axis,
        key=key,
        initiatives=initiatives,
        investments=len(pairs),
        spend=sum(inv.annual_cost for inv, _ in pairs),
        attainment=attainment(pairs),
        low_or_at_risk=sum(1 for _, st in pairs if st.low_or_at_risk),
    )


def portfolio(strategy: Strategy, states: Mapping[str, InvestmentState]) -> Portfolio:
    """Classify every investment by its initiative's domain and perspective; find orphans and unfunded strategy."""
    pairs = [(inv, states.get(inv.id, InvestmentState())) for inv in strategy.investments.values()]
    segments: list[Segment] = []
    for axis, keys in (("domain", DOMAINS), ("perspective", PERSPECTIVES)):
        for key in keys:
            initiatives = {
                i.id for i in strategy.initiatives.values() if (i.domain if axis == "domain" else i.perspective) == key
            }
            members = [(inv, st) for inv, st in pairs if inv.initiative in initiatives]
            segments.append(_segment(axis, key, members, len(initiatives)))
    orphan_pairs = [(inv, st) for inv, st in pairs if inv.initiative is None]
    segments.append(_segment("orphan", "no initiative", orphan_pairs, 0))
    segments.append(_segment("total", "all investments", pairs, len(strategy.initiatives)))
    funded = {inv.initiative for inv in strategy.investments.values() if inv.initiative}
    unfunded_initiatives = tuple(i for i in strategy.initiatives if i not in funded)
    unfunded_objectives = tuple(o.id for o in strategy.objectives if not funded.intersection(o.initiatives))
    currencies = sorted({inv.currency for inv in strategy.investments.values()})
    return Portfolio(
        currency=currencies[0] if len(currencies) == 1 else (MIXED if currencies else ""),
        segments=tuple(segments),
        orphans=tuple(inv.id for inv, _ in orphan_pairs),
        unfunded_initiatives=unfunded_initiatives,
        unfunded_objectives=unfunded_objectives,
    )


def initiative_attainments(strategy: Strategy, states: Mapping[str, InvestmentState]) -> dict[str, float | None]:
    """Cost-weighted attainment of every initiative (None when none of its investments can be judged)."""
    return {
        ini: attainment(
            (inv, states.get(inv.id, InvestmentState()))
            for inv in strategy.investments.values()
            if inv.initiative == ini
        )
        for ini in strategy.initiatives
    }


def objective_attainments(strategy: Strategy, states: Mapping[str, InvestmentState]) -> dict[str, float | None]:
    """Weight-weighted attainment of every objective over its initiatives (docs/metrics.md roll-up)."""
    by_initiative = initiative_attainments(strategy, states)
    return {
        obj.id: objective_attainment(
            InitiativeResult(by_initiative[i], strategy.initiatives[i].weight) for i in obj.initiatives
        )
        for obj in strategy.objectives
    }
