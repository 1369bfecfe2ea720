from datetime import date, timedelta

import pytest

from pipeline.domain.plan import Plan
from pipeline.domain.status import Reason, Status, Verdict, is_low_day, verdict

GO = date(2025, 1, 1)
# Target 0.5 due on day 10; after that the planned ratio is flat 0.5, so the low threshold is 0.45.
PLAN = Plan(GO, 0.5, GO + timedelta(days=10), curve="linear")
D = GO + timedelta(days=30)
LOW = 0.30
OK = 0.48


def series(*values: float | None) -> dict[date, float | None]:
    """values oldest first, the last one on D."""
    n = len(values)
    return {D - timedelta(days=n - 1 - i): v for i, v in enumerate(values)}


def test_seven_low_days_are_low() -> None:
    assert verdict(D, PLAN, 0.9, series(*[LOW] * 7)).status == Status.LOW


def test_six_low_days_then_one_ok_is_on_track() -> None:
    assert verdict(D, PLAN, 0.9, series(*[LOW] * 6, OK)).status == Status.ON_TRACK


def test_an_ok_day_inside_the_window_breaks_the_streak_but_before_it_does_not() -> None:
    assert verdict(D, PLAN, 0.9, series(OK, *[LOW] * 6)).status == Status.ON_TRACK  # OK on D-6
    assert verdict(D, PLAN, 0.9, series(OK, *[LOW] * 7)).status == Status.LOW  # OK on D-7


def test_below_plan_without_the_known_history_is_unknown_never_low() -> None:
    assert verdict(D, PLAN, 0.9, series(*[LOW] * 6)).status == Status.UNKNOWN  # D-6 absent
    assert verdict(D, PLAN, 0.9, series(LOW, LOW, LOW, None, LOW, LOW, LOW)).status == Status.UNKNOWN
    assert verdict(D, PLAN, 0.9, series(LOW, LOW, LOW)).status == Status.UNKNOWN  # enrolled three days ago


def test_a_known_day_above_the_threshold_keeps_it_on_track_whatever_is_unknown() -> None:
    assert verdict(D, PLAN, 0.9, series(OK, None, LOW, LOW, LOW, LOW, LOW)).status == Status.ON_TRACK
    assert verdict(D, PLAN, 0.9, series(None, None, None, None, None, None, OK)).status == Status.ON_TRACK


def test_tolerance_boundary_is_strict() -> None:
    # planned 0.5 * (1 - 0.10) = 0.45: exactly 0.45 is not low.
    assert not is_low_day(0.45, 0.5)
    assert is_low_day(0.4499, 0.5)
    assert verdict(D, PLAN, 0.9, series(*[0.45] * 7)).status == Status.ON_TRACK
    assert not is_low_day(None, 0.5)
    assert not is_low_day(0.1, None)


def test_low_coverage_is_unknown_never_low() -> None:
    assert verdict(D, PLAN, 0.49, series(*[LOW] * 7)).status == Status.UNKNOWN
    assert verdict(D, PLAN, 0.50, series(*[LOW] * 7)).status == Status.LOW


def test_no_directory_is_unknown() -> None:
    assert verdict(D, PLAN, None, series(*[LOW] * 7)).status == Status.UNKNOWN


def test_before_go_live_is_not_started() -> None:
    assert verdict(GO - timedelta(days=1), PLAN, None, {}).status == Status.NOT_STARTED
    assert verdict(GO - timedelta(days=1), PLAN, 1.0, {}).status == Status.NOT_STARTED


def test_first_days_after_go_live_cannot_be_low() -> None:
    # On go-live day the plan is 0: nothing is below it, so the streak cannot complete in the first week.
    d = GO + timedelta(days=6)
    values = {GO + timedelta(days=i): 0.0 for i in range(7)}
    assert verdict(d, PLAN, 0.9, values).status == Status.ON_TRACK


def test_thresholds_are_configurable_per_call() -> None:
    three_low = series(OK, OK, OK, OK, LOW, LOW, LOW)
    assert verdict(D, PLAN, 0.9, three_low).status == Status.ON_TRACK
    assert verdict(D, PLAN, 0.9, three_low, low_days=3).status == Status.LOW
    # With a 50 % tolerance the threshold is 0.25 and 0.30 is no longer low.
    assert verdict(D, PLAN, 0.9, series(*[LOW] * 7), tolerance=0.5).status == Status.ON_TRACK
    assert verdict(D, PLAN, 0.3, series(*[LOW] * 7), min_coverage=0.25).status == Status.LOW
    with pytest.raises(ValueError):
        verdict(D, PLAN, 0.9, {}, low_days=0)


def test_status_values_are_the_documented_strings() -> None:
    assert [s.value for s in Status] == ["not_started", "unknown", "low", "on_track"]


def test_every_status_but_on_track_carries_its_reason() -> None:
    before = GO - timedelta(days=1)
    assert verdict(before, PLAN, 0.9, {}) == Verdict(Status.NOT_STARTED, Reason.BEFORE_GO_LIVE)
    assert verdict(D, PLAN, None, series(*[LOW] * 7)) == Verdict(Status.UNKNOWN, Reason.NO_DIRECTORY)
    assert verdict(D, PLAN, 0.49, series(*[LOW] * 7)) == Verdict(Status.UNKNOWN, Reason.LOW_COVERAGE)
    assert verdict(D, PLAN, 0.9, series(LOW, LOW, LOW)) == Verdict(Status.UNKNOWN, Reason.INSUFFICIENT_HISTORY)
    assert verdict(D, PLAN, 0.9, series(*[LOW] * 7)) == Verdict(Status.LOW, Reason.BELOW_PLAN)
    assert verdict(D, PLAN, 0.9, series(*[OK] * 7)) == Verdict(Status.ON_TRACK, None)
    assert verdict(D, PLAN, 0.9, series(*[LOW] * 6, OK)) == Verdict(Status.ON_TRACK, None)
    assert [r.value for r in Reason] == [
        "before_go_live",
        "no_directory",
        "low_coverage",
        "insufficient_history",
        "below_plan",
        "small_population",
    ]
