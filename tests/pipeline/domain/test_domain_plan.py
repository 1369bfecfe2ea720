from datetime import date, timedelta

import pytest

from pipeline.domain.plan import Plan, curve_fraction

GO = date(2025, 1, 1)
TARGET = date(2025, 1, 1) + timedelta(days=100)

# Hand-computed: L(x) = 1/(1+e^(-10(x-0.5))); L(0) = 1/(1+e^5) = 0.0066929, L(1) = 0.9933071,
# L(0.25) = 1/(1+e^2.5) = 0.0758582 -> (0.0758582-0.0066929)/(0.9933071-0.0066929) = 0.0701037.
S_AT_QUARTER = 0.0701037


@pytest.mark.parametrize(
    ("x", "linear", "s_curve"),
    [(0.0, 0.0, 0.0), (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), (0.25, 0.25, S_AT_QUARTER)],
)
def test_curve_fraction(x: float, linear: float, s_curve: float) -> None:
    assert curve_fraction(x, "linear") == pytest.approx(linear, abs=1e-7)
    assert curve_fraction(x, "s_curve") == pytest.approx(s_curve, abs=1e-7)


def test_curve_clips_progress() -> None:
    assert curve_fraction(-0.5, "s_curve") == 0.0
    assert curve_fraction(1.7, "linear") == 1.0


def test_planned_ratio_s_curve_is_default() -> None:
    plan = Plan(GO, 0.8, TARGET)
    assert plan.curve == "s_curve"
    assert plan.planned_ratio(GO) == pytest.approx(0.0, abs=1e-12)
    assert plan.planned_ratio(GO + timedelta(days=25)) == pytest.approx(0.8 * S_AT_QUARTER, abs=1e-7)
    assert plan.planned_ratio(GO + timedelta(days=50)) == pytest.approx(0.4)
    assert plan.planned_ratio(TARGET) == pytest.approx(0.8)
    assert plan.planned_ratio(TARGET + timedelta(days=30)) == pytest.approx(0.8)


def test_planned_ratio_linear() -> None:
    plan = Plan(GO, 0.8, TARGET, curve="linear")
    assert plan.planned_ratio(GO + timedelta(days=25)) == pytest.approx(0.2)
    assert plan.planned_ratio(GO + timedelta(days=50)) == pytest.approx(0.4)
    assert plan.planned_ratio(TARGET) == pytest.approx(0.8)


def test_before_go_live_is_not_started() -> None:
    plan = Plan(GO, 0.8, TARGET)
    assert not plan.is_started(GO - timedelta(days=1))
    assert plan.planned_ratio(GO - timedelta(days=1)) is None
    assert plan.is_started(GO)


def test_target_on_go_live_day() -> None:
    plan = Plan(GO, 0.6, GO, curve="linear")
    assert plan.planned_ratio(GO) == pytest.approx(0.6)


def test_invalid_plans_are_rejected() -> None:
    with pytest.raises(ValueError, match="target_ratio"):
        Plan(GO, 1.2, TARGET)
    with pytest.raises(ValueError, match="before go_live"):
        Plan(GO, 0.5, GO - timedelta(days=1))
    with pytest.raises(ValueError, match="unknown curve"):
        Plan(GO, 0.5, TARGET, curve="cubic")  # type: ignore[arg-type]
