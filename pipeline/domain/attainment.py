"""Roll-ups of attainment: investments -> initiative (cost-weighted) -> objective (weight-weighted)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.domain.status import Status

DEFAULT_WEIGHT = 1.0
_COUNTED = frozenset({Status.ON_TRACK, Status.LOW})


@dataclass(frozen=True)
class InvestmentResult:
    """One investment's status, ratios and annual cost as of one day."""

    status: Status
    annual_cost: float
    adoption: float | None
    planned: float | None


@dataclass(frozen=True)
class InitiativeResult:
    """One initiative's attainment (None when nothing qualified) and its weight in its objective."""

    attainment: float | None
    weight: float = DEFAULT_WEIGHT


def investment_attainment(adoption: float, planned: float) -> float:
    """min(1, adoption / planned): being ahead of plan does not make up for another investment behind."""
    if planned <= 0:
        raise ValueError(f"planned must be > 0, got {planned}")
    return min(1.0, adoption / planned)


def qualifies(investment: InvestmentResult) -> bool:
    """Counted in a roll-up: status on_track or low, planned > 0 and adoption known."""
    return (
        investment.status in _COUNTED
        and investment.planned is not None
        and investment.planned > 0
        and investment.adoption is not None
    )


def initiative_attainment(investments: Iterable[InvestmentResult]) -> float | None:
    """Σ cost·min(1, adoption/planned) / Σ cost over qualifying investments; None when none (or no cost)."""
    numerator = 0.0
    denominator = 0.0
    for inv in investments:
        if inv.annual_cost < 0:
            raise ValueError(f"annual_cost must be >= 0, got {inv.annual_cost}")
        if not qualifies(inv):
            continue
        assert inv.adoption is not None and inv.planned is not None  # guaranteed by qualifies()
        numerator += inv.annual_cost * investment_attainment(inv.adoption, inv.planned)
        denominator += inv.annual_cost
    return numerator / denominator if denominator > 0 else None


def objective_attainment(initiatives: Iterable[InitiativeResult]) -> float | None:
    """Σ weight·attainment / Σ weight over initiatives with an attainment; None when none (or no weight)."""
    numerator = 0.0
    denominator = 0.0
    for ini in initiatives:
        if ini.weight < 0:
            raise ValueError(f"weight must be >= 0, got {ini.weight}")
        if ini.attainment is None:
            continue
        numerator += ini.weight * ini.attainment
        denominator += ini.weight
    return numerator / denominator if denominator > 0 else None
