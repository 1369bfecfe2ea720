import pytest

from pipeline.domain.attainment import (
    InitiativeResult,
    InvestmentResult,
    initiative_attainment,
    investment_attainment,
    objective_attainment,
)
from pipeline.domain.status import Status


def test_investment_attainment_is_capped_at_one() -> None:
    assert investment_attainment(0.3, 0.6) == pytest.approx(0.5)
    assert investment_attainment(0.9, 0.6) == 1.0
    with pytest.raises(ValueError):
        investment_attainment(0.3, 0.0)


def test_initiative_attainment_with_mixed_statuses() -> None:
    investments = [
        InvestmentResult(Status.ON_TRACK, 100.0, adoption=0.8, planned=0.5),  # capped at 1
        InvestmentResult(Status.LOW, 300.0, adoption=0.2, planned=0.5),  # 0.4
        InvestmentResult(Status.UNKNOWN, 1_000.0, adoption=None, planned=0.5),  # excluded
        InvestmentResult(Status.NOT_STARTED, 1_000.0, adoption=None, planned=None),  # excluded
        InvestmentResult(Status.ON_TRACK, 500.0, adoption=0.0, planned=0.0),  # planned 0: excluded
    ]
    # (100*1 + 300*0.4) / (100 + 300) = 220 / 400 = 0.55
    assert initiative_attainment(investments) == pytest.approx(0.55)


def test_initiative_attainment_none_when_nothing_qualifies() -> None:
    assert initiative_attainment([]) is None
    assert initiative_attainment([InvestmentResult(Status.UNKNOWN, 10.0, 0.1, 0.5)]) is None
    assert initiative_attainment([InvestmentResult(Status.LOW, 0.0, 0.1, 0.5)]) is None


def test_objective_attainment_is_weighted_by_initiative_weight() -> None:
    initiatives = [
        InitiativeResult(0.55, weight=3.0),
        InitiativeResult(1.0),  # default weight 1
        InitiativeResult(None, weight=10.0),  # no attainment: excluded
    ]
    # (3*0.55 + 1*1.0) / 4 = 2.65 / 4 = 0.6625
    assert objective_attainment(initiatives) == pytest.approx(0.6625)
    assert objective_attainment([InitiativeResult(None)]) is None


def test_negative_cost_or_weight_is_rejected() -> None:
    with pytest.raises(ValueError):
        initiative_attainment([InvestmentResult(Status.LOW, -1.0, 0.1, 0.5)])
    with pytest.raises(ValueError):
        objective_attainment([InitiativeResult(0.5, weight=-1.0)])
