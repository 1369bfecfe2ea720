"""The effect estimate (pipeline/domain/impact.py) on hand-counted groups: windows, figures, interval, verdicts."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from pipeline.domain.impact import Activity, Group, Options, Reason, Subject, Trends, Verdict, Windows, estimate

DAY = date(2026, 10, 21)
AS_OF = date(2026, 11, 30)
NONE, BEFORE, AFTER, ALWAYS = (
    Activity(False, False, False),
    Activity(False, False, True),
    Activity(False, True, True),
    Activity(True, True, True),
)


def known(size: int, first: date = date(2026, 1, 1), last: date = AS_OF) -> dict[date, int]:
    """Everybody reporting every day from first to last."""
    return {first + timedelta(days=n): size for n in range((last - first).days + 1)}


def group(departments: dict[str, dict[Activity, int]], reporting: dict[date, int] | None = None) -> Group:
    size = sum(sum(c.values()) for c in departments.values())
    return Group(departments, known(size) if reporting is None else reporting)


SUBJECT = Subject("t1", "crm", "training", DAY, DAY, ("Sales",), cost=3000.0, currency="EUR")


def test_the_windows_are_the_days_before_and_after_and_the_days_before_those() -> None:
    w = Windows.around(DAY, DAY)
    assert w.pre == (date(2026, 9, 23), date(2026, 10, 20))  # 28 days, the day itself in neither window
    assert w.post == (date(2026, 10, 22), date(2026, 11, 18))
    assert w.base == (date(2026, 8, 26), date(2026, 9, 22))
    ranged = Windows.around(DAY, DAY + timedelta(days=9), days=14)
    assert ranged.pre == (date(2026, 10, 7), date(2026, 10, 20))
    assert ranged.post == (date(2026, 10, 31), date(2026, 11, 13))  # after the last day of the action
    assert ranged.base == (date(2026, 9, 23), date(2026, 10, 6))
    with pytest.raises(ValueError, match="before the first"):
        Windows.around(DAY, DAY - timedelta(days=1))


def test_hand_counted_difference_in_differences_and_its_figures() -> None:
    # Sales, 10 people: 2 active before, 6 after (+40 points). Support, 20 people: 4 before, 6 after (+10 points).
    treated = group({"Sales": {ALWAYS: 2, BEFORE: 4, NONE: 4}})
    comparison = group({"Support": {ALWAYS: 4, BEFORE: 2, NONE: 14}})
    e = estimate(SUBJECT, AS_OF, treated, comparison, comparison_departments=["Support"])
    assert (e.treated_pre, e.treated_post, e.comparison_pre, e.comparison_post) == (0.2, 0.6, 0.2, 0.3)
    assert e.effect == pytest.approx(0.3)
    assert (e.treated_people, e.comparison_people) == (10, 20)
    assert e.additional_active_users == pytest.approx(3.0)
    assert e.pre_trend == pytest.approx(0.0)  # active in the base window exactly when in the pre window
    assert e.comparison_departments == ("Support",)
    row = e.row()
    assert row["pre_from"] == "2026-09-23" and row["post_to"] == "2026-11-18" and row["verdict"] == e.verdict


def test_the_interval_is_a_bootstrap_over_people_within_departments() -> None:
    # 200 treated people of whom half start being active, 200 comparison people who never change: the effect is 0.5
    # with a standard error of sqrt(0.25 / 200) = 0.035, so a 99% interval of about +-2.58 * 0.035 = +-0.09.
    treated = group({"Sales": {BEFORE: 100, NONE: 100}})
    comparison = group({"Support": {NONE: 150, ALWAYS: 50}})
    e = estimate(SUBJECT, AS_OF, treated, comparison, options=Options(level=0.99))
    assert e.effect_low is not None and e.effect_high is not None
    half = (e.effect_high - e.effect_low) / 2
    assert half == pytest.approx(2.576 * math.sqrt(0.25 / 200), rel=0.15)
    assert e.effect_low < 0.5 < e.effect_high
    assert e.verdict is Verdict.EFFECT
    # Within departments: one department where everybody starts and one where nobody does leaves only the
    # pseudo-people's uncertainty, a far narrower interval than the same people in one department.
    split = estimate(SUBJECT, AS_OF, group({"Sales": {BEFORE: 100}, "Marketing": {NONE: 100}}), comparison)
    assert split.effect == 0.5 and split.effect_low is not None and split.effect_high is not None
    assert split.effect_high - split.effect_low < (e.effect_high - e.effect_low) / 2


def test_same_seed_same_interval_and_the_seed_is_an_option() -> None:
    treated = group({"Sales": {BEFORE: 7, NONE: 13}})
    comparison = group({"Support": {BEFORE: 5, NONE: 15}})
    first = estimate(SUBJECT, AS_OF, treated, comparison)
    assert estimate(SUBJECT, AS_OF, treated, comparison) == first
    other = estimate(SUBJECT, AS_OF, treated, comparison, options=Options(seed=7))
    assert (other.effect_low, other.effect_high) != (first.effect_low, first.effect_high)
    assert other.effect == first.effect


def test_no_change_anywhere_is_an_effect_of_exactly_0_and_no_detectable_effect() -> None:
    # Ratios like 1/3 and 2/6 must not leave a 1e-17 "effect".
    treated = group({"Sales": {ALWAYS: 1, NONE: 2}})
    comparison = group({"Support": {ALWAYS: 2, NONE: 4}})
    e = estimate(SUBJECT, AS_OF, treated, comparison, options=Options(k=1))
    assert e.effect == 0.0 and e.effect_low is not None and e.effect_high is not None
    assert e.effect_low < 0 < e.effect_high  # nobody changed in 9 people: not certain that nobody ever would
    assert e.verdict is Verdict.NO_DETECTABLE_EFFECT and e.trends is Trends.NO_DIVERGENCE_DETECTED
    assert e.cost_per_additional_active_user is None


def test_a_group_in_which_nobody_changed_is_not_taken_for_certain() -> None:
    # 5 of 10 trained people start, none of 10 others: Fisher's exact test gives p = 0.033, not enough at 0.99.
    # Without pseudo-people every resample of the comparison changes by exactly 0 and the interval excluded 0.
    treated = group({"Sales": {BEFORE: 5, NONE: 5}})
    comparison = group({"Support": {NONE: 10}})
    for seed in range(5):
        e = estimate(SUBJECT, AS_OF, treated, comparison, options=Options(seed=seed))
        assert e.effect == 0.5 and e.effect_low is not None and e.effect_low <= 0
        assert e.verdict is Verdict.NO_DETECTABLE_EFFECT and e.detail.startswith("inconclusive")
    # All 10 start, none of 10 others: found, yet its interval is not the single point +100 points.
    everybody = estimate(SUBJECT, AS_OF, group({"Sales": {BEFORE: 10}}), comparison)
    assert everybody.verdict is Verdict.EFFECT and everybody.effect == 1.0
    assert everybody.effect_low is not None and everybody.effect_low < 0.9


def test_a_fall_is_an_effect_too_and_has_no_cost_per_additional_user() -> None:
    # A licence change that took the tool from 30 of 40 people: they were active before, not after.
    stopped = Activity(True, True, False)
    treated = group({"Sales": {stopped: 30, ALWAYS: 10}})
    comparison = group({"Support": {ALWAYS: 30, NONE: 10}})
    e = estimate(SUBJECT, AS_OF, treated, comparison)
    assert e.effect == pytest.approx(-0.75) and e.verdict is Verdict.EFFECT and "a fall" in e.detail
    assert e.effect_high is not None and e.effect_high < 0
    assert e.cost_per_additional_active_user is None


def test_cost_per_additional_active_user() -> None:
    treated = group({"Sales": {BEFORE: 60, NONE: 40}})
    comparison = group({"Support": {NONE: 100}})
    e = estimate(SUBJECT, AS_OF, treated, comparison)
    assert e.verdict is Verdict.EFFECT
    assert e.cost_per_additional_active_user == pytest.approx(3000 / 60)
    # The range follows from the interval: the largest effect is the lowest cost per user.
    assert e.effect_low is not None and e.effect_high is not None
    assert e.cost_per_additional_active_user_low == pytest.approx(3000 / (e.effect_high * 100))
    assert e.cost_per_additional_active_user_high == pytest.approx(3000 / (e.effect_low * 100))
    assert (
        e.cost_per_additional_active_user_low
        < e.cost_per_additional_active_user
        < e.cost_per_additional_active_user_high
    )
    uncosted = estimate(Subject("t2", "crm", "training", DAY, DAY, ("Sales",)), AS_OF, treated, comparison)
    assert uncosted.cost is None and uncosted.cost_per_additional_active_user is None


def test_a_diverging_pre_period_trend_is_reported() -> None:
    # Sales already rose from the base window to the pre window, Support did not: the trends are not parallel.
    rising = Activity(False, True, True)
    treated = group({"Sales": {rising: 50, NONE: 50}})
    comparison = group({"Support": {NONE: 100}})
    e = estimate(SUBJECT, AS_OF, treated, comparison)
    assert e.trends is Trends.DIVERGING and e.pre_trend == pytest.approx(0.5)
    assert e.effect == 0 and e.verdict is Verdict.NO_DETECTABLE_EFFECT


TEN = {NONE: 10}


@pytest.mark.parametrize(
    ("treated", "comparison", "population", "reason", "words"),
    [
        ({}, {"Support": TEN}, None, Reason.SMALL_GROUP, "treated departments hold nobody"),
        ({"Sales": TEN}, {}, None, Reason.NO_COMPARISON_GROUP, "no untreated department"),
        ({"Sales": TEN}, {}, {"Sales": 10, "HR": 7}, Reason.NO_COMPARISON_GROUP, "that no other intervention reached"),
        ({"Sales": {NONE: 4}}, {"Support": TEN}, None, Reason.SMALL_GROUP, "treated departments hold fewer than"),
        ({"Sales": TEN}, {"Support": {NONE: 4}}, None, Reason.SMALL_GROUP, "comparison departments hold fewer"),
        # HR, reached by another intervention and left out, is 3 people: total - both groups would be HR's figure.
        ({"Sales": TEN}, {"Support": TEN}, {"Sales": 10, "Support": 10, "HR": 3}, Reason.SMALL_GROUP, "left out"),
        # Sales is published on its own, Legal (4) is not: Sales + Legal - Sales would be Legal's figure.
        (
            {"Sales": TEN, "Legal": {NONE: 4}},
            {"Support": TEN, "HR": TEN},
            {"Sales": 10, "Legal": 4, "Support": 10, "HR": 10},
            Reason.SMALL_GROUP,
            "the treated departments that are not shown on their own",
        ),
        (
            {"Sales": TEN},
            {"Support": TEN, "Legal": {NONE: 4}},
            {"Sales": 10, "Legal": 4, "Support": 10},
            Reason.SMALL_GROUP,
            "the comparison departments that are not shown on their own",
        ),
    ],
)
def test_groups_that_cannot_be_compared_are_not_estimable(
    treated: dict[str, dict[Activity, int]],
    comparison: dict[str, dict[Activity, int]],
    population: dict[str, int] | None,
    reason: Reason,
    words: str,
) -> None:
    e = estimate(
        SUBJECT,
        AS_OF,
        group(treated),
        group(comparison),
        comparison_departments=list(comparison),
        population=population,
    )
    assert (e.verdict, e.reason) == (Verdict.NOT_ESTIMABLE, reason)
    assert words in e.detail
    # No figure about a group that cannot be shown, not even its size.
    assert (e.treated_people, e.comparison_people, e.effect, e.treated_pre) == (None, None, None, None)


def test_a_small_department_is_fine_where_the_published_breakdown_hides_k_people_with_it() -> None:
    # The published breakdown leaves HR (10) out beside Legal (4), secondary suppression: HR + Legal is 14 people, and
    # the comparison group holds both.
    comparison = group({"Support": TEN, "HR": TEN, "Legal": {NONE: 4}})
    population = {"Sales": 10, "Support": 10, "HR": 10, "Legal": 4}
    e = estimate(SUBJECT, AS_OF, group({"Sales": TEN}), comparison, population=population)
    assert e.verdict is Verdict.NO_DETECTABLE_EFFECT
    # With Finance (6, reached by another intervention, left out) it leaves Finance out beside Legal instead: the
    # comparison group minus Support and HR, both published, would be Legal's figure.
    e = estimate(SUBJECT, AS_OF, group({"Sales": TEN}), comparison, population={**population, "Finance": 6})
    assert (e.verdict, e.reason) == (Verdict.NOT_ESTIMABLE, Reason.SMALL_GROUP)
    assert "comparison departments that are not shown on their own" in e.detail


def test_no_directory_and_an_unfinished_window_are_not_estimable() -> None:
    treated, comparison = group({"Sales": {NONE: 10}}), group({"Support": {NONE: 10}})
    e = estimate(SUBJECT, AS_OF, treated, comparison, has_directory=False)
    assert e.reason is Reason.NO_DIRECTORY and e.treated_people is None
    # The window after ends on 11-18; late telemetry has 7 days to arrive: estimated from 11-26 on.
    for as_of in (date(2026, 11, 18), date(2026, 11, 25)):
        e = estimate(SUBJECT, as_of, treated, comparison)
        assert (e.verdict, e.reason) == (Verdict.NOT_ESTIMABLE, Reason.WINDOW_NOT_OVER)
        assert "2026-11-18" in e.detail and "from 2026-11-26" in e.detail
        assert e.treated_people == 10  # sizes of groups of k or more may show
    assert estimate(SUBJECT, date(2026, 11, 26), treated, comparison).verdict is not Verdict.NOT_ESTIMABLE
    now = Options(settle_days=0)
    assert estimate(SUBJECT, date(2026, 11, 19), treated, comparison, options=now).verdict is not Verdict.NOT_ESTIMABLE


def test_days_without_known_coverage_make_it_not_estimable_never_zero() -> None:
    windows = Windows.around(DAY, DAY)
    full = known(20)
    # One day of the window before where only 8 of 20 people have telemetry in the 28 days ending it.
    gap = dict(full)
    gap[windows.pre[0] + timedelta(days=3)] = 8
    treated = group({"Sales": {BEFORE: 10, NONE: 10}}, gap)
    comparison = group({"Support": {NONE: 20}}, full)
    e = estimate(SUBJECT, AS_OF, treated, comparison)
    assert (e.verdict, e.reason) == (Verdict.NOT_ESTIMABLE, Reason.UNKNOWN_DAYS)
    assert "1 day of the windows" in e.detail and "treated group" in e.detail and "2026-09-26" in e.detail
    assert e.effect is None
    # At the investment's own min_coverage of 0.4 that day is known.
    assert estimate(SUBJECT, AS_OF, treated, comparison, min_coverage=0.4).verdict is Verdict.EFFECT
    # Telemetry from the first day of the window before on: estimable, but no parallel-trends check.
    late = known(20, first=windows.pre[0])
    e = estimate(SUBJECT, AS_OF, group(treated.departments, late), group(comparison.departments, late))
    assert e.verdict is Verdict.EFFECT and e.trends is Trends.NOT_CHECKED and e.pre_trend is None


def test_options_refuse_nonsense() -> None:
    for bad in ({"level": 1.0}, {"level": 0}, {"window_days": 0}, {"resamples": 0}, {"settle_days": -1}):
        with pytest.raises(ValueError):
            Options(**bad)  # type: ignore[arg-type]


def test_the_trend_check_counts_only_people_with_telemetry_in_the_base_window() -> None:
    # 20 of Sales' 50 started using it before the window before, in the base window they had no telemetry: unknown,
    # so not counted as non-users there (that would read as a rise of 40 points before the intervention).
    unseen = Activity(None, True, True)
    treated = group({"Sales": {unseen: 20, NONE: 30}})
    comparison = group({"Support": {NONE: 50}})
    e = estimate(SUBJECT, AS_OF, treated, comparison)
    assert e.trends is Trends.NO_DIVERGENCE_DETECTED and e.pre_trend == 0.0
    assert e.treated_people == 50 and e.treated_pre == 0.4  # the effect counts them all
    # Fewer than k people of a group with base telemetry: their figure is not shown, the trend is not checked.
    few = estimate(SUBJECT, AS_OF, group({"Sales": {unseen: 46, NONE: 4}}), comparison)
    assert few.trends is Trends.NOT_CHECKED and few.pre_trend is None and few.verdict is not Verdict.NOT_ESTIMABLE


def test_fewer_than_k_people_left_out_for_lack_of_telemetry_is_not_estimable() -> None:
    # Sales has 60 people in the directory. Its adoption over all 60 is published day by day: with 2 left out, the
    # figures over the 58 others would give the 2's activity by subtraction.
    comparison = group({"Support": {NONE: 40}})
    counted = {"Sales": {BEFORE: 20, NONE: 38}}
    e = estimate(SUBJECT, AS_OF, Group(counted, known(60), directory=60), comparison)
    assert (e.verdict, e.reason) == (Verdict.NOT_ESTIMABLE, Reason.SMALL_GROUP)
    assert "2 of the treated group's people have no telemetry" in e.detail and e.treated_people is None
    # None left out, or k or more: estimable.
    for directory in (58, 63):
        e = estimate(SUBJECT, AS_OF, Group(counted, known(directory), directory=directory), comparison)
        assert e.verdict is Verdict.EFFECT and e.treated_people == 58
