"""Henderson & Venkatraman portfolio and attainment roll-ups on a hand-counted strategy."""

from __future__ import annotations

from datetime import date

import pytest

from alignment.facts import InitiativeInfo, InvestmentInfo, InvestmentState, ObjectiveInfo, Strategy
from alignment.portfolio import initiative_attainments, objective_attainments, portfolio

GO, TARGET = date(2026, 1, 1), date(2027, 1, 1)


def inv(id: str, cost: float, initiative: str | None, objective: str | None = None) -> InvestmentInfo:
    return InvestmentInfo(id, id, cost, GO, 0.8, TARGET, initiative=initiative, objective=objective)


STRATEGY = Strategy(
    objectives=(ObjectiveInfo("O1", "One", ("A", "B")), ObjectiveInfo("O2", "Two", ("C",)), ObjectiveInfo("O3", "3")),
    initiatives={
        "A": InitiativeInfo("A", "A", "O1", "business_strategy", "strategy_execution", weight=2),
        "B": InitiativeInfo("B", "B", "O1", "it_strategy", "technology_transformation"),
        "C": InitiativeInfo("C", "C", "O2", "it_infrastructure", "service_level"),
    },
    investments={
        "a1": inv("a1", 1000, "A", "O1"),
        "a2": inv("a2", 3000, "A", "O1"),
        "b1": inv("b1", 2000, "B", "O1"),
        "z": inv("z", 500, None),
    },
)
STATES = {
    "a1": InvestmentState("on_track", 0.4, 0.5, 1.0, at_risk=False),  # attainment 0.8
    "a2": InvestmentState("low", 0.1, 0.4, 1.0),  # attainment 0.25
    "b1": InvestmentState("unknown", 0.0, 0.5, 0.1, at_risk=True),  # not judged: no attainment, no risk
    "z": InvestmentState("on_track", 0.6, 0.5, 1.0, at_risk=True),  # attainment capped at 1
}


def test_domains_and_perspectives() -> None:
    p = portfolio(STRATEGY, STATES)
    seg = {(s.axis, s.key): s for s in p.segments}
    business = seg["domain", "business_strategy"]
    assert (business.initiatives, business.investments, business.spend) == (1, 2, 4000)
    assert business.attainment == pytest.approx((1000 * 0.8 + 3000 * 0.25) / 4000)
    assert business.low_or_at_risk == 1
    it = seg["domain", "it_strategy"]
    assert (it.spend, it.attainment, it.low_or_at_risk) == (2000, None, 0)
    assert seg["domain", "it_infrastructure"].initiatives == 1
    assert seg["domain", "it_infrastructure"].spend == 0
    assert seg["domain", "organisational_infrastructure"].initiatives == 0
    assert seg["perspective", "strategy_execution"] == seg["domain", "business_strategy"].__class__(
        "perspective", "strategy_execution", 1, 2, 4000, business.attainment, 1
    )
    assert [s.key for s in p.by("perspective")] == [
        "strategy_execution",
        "technology_transformation",
        "competitive_potential",
        "service_level",
    ]


def test_orphans_total_and_unfunded() -> None:
    p = portfolio(STRATEGY, STATES)
    assert p.orphans == ("z",)
    assert (p.orphan.spend, p.orphan.attainment, p.orphan.low_or_at_risk) == (500, 1.0, 1)
    assert p.total.spend == 6500
    assert p.total.attainment == pytest.approx((800 + 750 + 500) / 4500)
    assert p.total.low_or_at_risk == 2
    assert p.total.spend_share(6500) == 1.0
    assert p.unfunded_initiatives == ("C",)
    assert p.unfunded_objectives == ("O2", "O3")
    assert p.currency == "EUR"


def test_mixed_currencies_are_flagged() -> None:
    strategy = Strategy(
        investments={"x": inv("x", 1, None), "y": InvestmentInfo("y", "y", 1, GO, 0.5, TARGET, currency="USD")}
    )
    assert portfolio(strategy, {}).currency == "mixed"


def test_objective_attainment_weights_initiatives() -> None:
    by_initiative = initiative_attainments(STRATEGY, STATES)
    assert by_initiative == {"A": pytest.approx(0.3875), "B": None, "C": None}
    objectives = objective_attainments(STRATEGY, STATES)
    assert objectives == {"O1": pytest.approx(0.3875), "O2": None, "O3": None}
    # B judged at 1.0 too: O1 = (2 * 0.3875 + 1 * 1.0) / 3.
    states = {**STATES, "b1": InvestmentState("on_track", 0.5, 0.5, 1.0)}
    assert objective_attainments(STRATEGY, states)["O1"] == pytest.approx((2 * 0.3875 + 1.0) / 3)
