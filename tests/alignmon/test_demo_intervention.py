"""The demo's intervention: dated so that the pipeline estimates it on whatever day the demo runs, and its line.

tests/test_demo.py runs the demo and finds the effect in the report; here, without the stack, every weekday and
the line the demo prints.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from alignmon.demo import BACKFILL_DAYS, demo_intervention, history_start, worked_line
from pipeline.domain.impact import Options, Windows
from tests.test_demo import WORKED

WEEK = [date(2026, 12, 7) + timedelta(days=n) for n in range(7)]  # Monday to Sunday


@pytest.mark.parametrize("today", WEEK, ids=lambda d: f"{d:%a}")
def test_the_history_starts_on_a_working_day_at_least_backfill_days_back(today: date) -> None:
    first = history_start(today)
    assert first.weekday() < 5
    assert today - timedelta(days=BACKFILL_DAYS + 2) <= first <= today - timedelta(days=BACKFILL_DAYS)


@pytest.mark.parametrize("today", WEEK, ids=lambda d: f"{d:%a}")
def test_the_training_is_estimable_today_from_the_history_alone(today: date) -> None:
    item = demo_intervention(today)
    assert (item.investment, item.departments, item.points, item.kind) == ("inv-erp-s4", ("Sales",), 30, "training")
    assert item.day.weekday() < 5
    options = Options()
    windows = Windows.around(item.day, item.day, options.window_days)
    # The window before is the history's first days (the first one a working day: known, not empty)...
    assert windows.pre[0] == history_start(today)
    # ...and the window after has ended, late telemetry's days included (docs/metrics.md, window_not_over).
    assert windows.post[1] + timedelta(days=options.settle_days + 1) <= today


def test_the_line_says_the_verdict_the_figures_and_the_truth() -> None:
    item = demo_intervention(date(2026, 12, 9))
    row = {"verdict": "effect", "reason": None, "effect": 0.3, "effect_low": 0.086, "effect_high": 0.5, "level": 0.99}
    line = worked_line(item, row)
    assert line == (
        "what worked: inv-erp-s4-training-sales (training of 2026-11-03, simulated: +30 pp of Sales): effect +30.0 pp "
        "(99% interval +8.6 to +50.0 pp)"
    )
    match = WORKED.search(line)
    assert match is not None and match.groups() == ("inv-erp-s4-training-sales", "+30", "effect")
    unknown = {**row, "verdict": "not_estimable", "reason": "unknown_days", "effect": None}
    assert worked_line(item, unknown).endswith("): not_estimable (unknown_days)")
    assert worked_line(item, None).endswith("): not estimated yet")
