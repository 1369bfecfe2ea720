"""Cost and trend figures (pipeline.domain.adoption) and the oracle's ratios (tests/oracle/adoption.py)."""

from datetime import date, timedelta

import pytest

from pipeline.domain.adoption import (
    cost_per_active_user,
    gap,
    licence_utilisation,
    slope,
    stickiness,
    trend,
    wasted_spend,
)
from tests.oracle.adoption import (
    AdoptionFigures,
    AdoptionInput,
    adoption_ratio,
    coverage,
    figures,
    target_population,
)

D = date(2025, 6, 30)
DIRECTORY = {"a": "sales", "b": "sales", "c": "hr", "d": "it"}


def test_target_population_from_departments_or_whole_directory() -> None:
    assert target_population(DIRECTORY, {"sales", "hr"}) == frozenset({"a", "b", "c"})
    assert target_population(DIRECTORY) == frozenset(DIRECTORY)
    assert target_population(DIRECTORY, []) == frozenset(DIRECTORY)
    assert target_population(None, {"sales"}) is None


def test_adoption_ratio_counts_only_active_users_inside_the_population() -> None:
    # 2 of the 4 targeted users are active; "x" is active but not targeted.
    assert adoption_ratio({"a", "c", "x"}, {"a", "b", "c", "d"}) == 0.5
    assert adoption_ratio({"a"}, None) is None
    assert adoption_ratio({"a"}, set()) is None


def test_coverage() -> None:
    assert coverage({"a", "b", "c"}, {"a", "b", "c", "d"}) == 0.75
    assert coverage({"a"}, None) is None


def test_licence_utilisation() -> None:
    assert licence_utilisation(30, 40) == 0.75
    assert licence_utilisation(50, 40) == 1.25
    assert licence_utilisation(5, None) is None
    assert licence_utilisation(5, 0) is None


def test_wasted_spend() -> None:
    # 100 seats at 12,000/yr, 60 active -> 40 idle seats * 120 = 4,800.
    assert wasted_spend(100, 60, 12_000.0) == pytest.approx(4_800.0)
    # More active users than seats: nothing is wasted, never negative.
    assert wasted_spend(100, 130, 12_000.0) == 0.0
    assert wasted_spend(100, 0, 12_000.0) == pytest.approx(12_000.0)
    assert wasted_spend(None, 10, 12_000.0) is None
    assert wasted_spend(100, 10, None) is None


def test_cost_per_active_user_is_null_not_infinite_when_nobody_is_active() -> None:
    assert cost_per_active_user(12_000.0, 0) is None
    assert cost_per_active_user(12_000.0, 48) == pytest.approx(250.0)
    assert cost_per_active_user(None, 48) is None


def test_stickiness_is_mean_dau_over_mau() -> None:
    # 14 days with 2 users, 14 days with 4: mean DAU 3, MAU 6 -> 0.5.
    assert stickiness([2] * 14 + [4] * 14, 6) == pytest.approx(0.5)
    assert stickiness([0] * 28, 0) is None


def test_trend_on_a_linear_series() -> None:
    series: dict[date, float | None] = {D - timedelta(days=27 - i): 0.10 + 0.01 * i for i in range(28)}
    assert trend(series, D) == pytest.approx(0.01)


def test_trend_ignores_days_outside_window_and_unknown_days() -> None:
    series: dict[date, float | None] = {D - timedelta(days=27 - i): 0.50 - 0.02 * i for i in range(28)}
    series[D - timedelta(days=28)] = 5.0  # outside the 28-day window
    series[D - timedelta(days=3)] = None  # unknown that day
    assert trend(series, D) == pytest.approx(-0.02)


def test_trend_needs_two_points() -> None:
    assert trend({D: 0.3}, D) is None
    assert slope([(1.0, 2.0), (1.0, 3.0)]) is None


def test_gap_positive_when_behind_plan() -> None:
    assert gap(0.6, 0.45) == pytest.approx(0.15)
    assert gap(0.3, 0.45) == pytest.approx(-0.15)
    assert gap(None, 0.45) is None


def test_figures_of_one_investment() -> None:
    data = AdoptionInput(
        population=frozenset({"a", "b", "c", "d"}),
        active_users=frozenset({"a", "x"}),
        reporting_users=frozenset({"a", "b", "c"}),
        seats=10,
        annual_cost=1_000.0,
    )
    assert figures(data) == AdoptionFigures(
        adoption_ratio=0.25,
        coverage=0.75,
        active_users=2,
        licence_utilisation=0.2,
        wasted_spend=800.0,
        cost_per_active_user=500.0,
    )


def test_figures_without_directory_keep_licence_figures() -> None:
    data = AdoptionInput(population=None, active_users=frozenset(), reporting_users=frozenset(), seats=4)
    result = figures(data)
    assert result.adoption_ratio is None
    assert result.coverage is None
    assert result.licence_utilisation == 0.0
    assert result.cost_per_active_user is None


def test_a_day_without_telemetry_has_no_adoption_ratio() -> None:
    # Coverage 0: no data, so the ratio is null, never 0 (docs/metrics.md, Data completeness).
    data = AdoptionInput(
        population=frozenset({"a", "b"}), active_users=frozenset({"x"}), reporting_users=frozenset({"x"})
    )
    result = figures(data)
    assert (result.coverage, result.adoption_ratio) == (0.0, None)
