"""The oracle's usage rules (tests/oracle/adoption.py) on hand-computed cases: focus time, active days, DAU/WAU/MAU.

Production counts these in SQL; tests/pipeline/test_figures_oracle.py compares the two on random fleets.
"""

from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from tests.oracle.adoption import (
    ActiveCounts,
    ActiveDay,
    DailyFocus,
    active_counts,
    active_days,
    active_users,
    dau_series,
    focus_by_day,
    is_active_day,
    reporting_users,
)

AMS = ZoneInfo("Europe/Amsterdam")
D = date(2025, 6, 30)


class FakeSpan(NamedTuple):
    kind: str
    user: str
    app: str
    start: datetime
    duration_s: float


def ago(n: int) -> date:
    return D - timedelta(days=n)


def test_threshold_is_inclusive_at_300_seconds() -> None:
    assert not is_active_day(299.0)
    assert is_active_day(300.0)
    assert is_active_day(60.0, min_minutes=1)


def test_active_days_at_299_and_300_seconds() -> None:
    rows = [DailyFocus("u1", "word", D, 299.0), DailyFocus("u2", "word", D, 300.0)]
    assert active_days(rows) == {ActiveDay("u2", "word", D)}


def test_focus_on_one_key_from_several_devices_is_summed() -> None:
    rows = [DailyFocus("u1", "word", D, 150.0), DailyFocus("u1", "word", D, 150.0)]
    assert active_days(rows) == {ActiveDay("u1", "word", D)}


def test_per_app_override_of_min_minutes() -> None:
    rows = [DailyFocus("u1", "teams", D, 120.0), DailyFocus("u1", "word", D, 120.0)]
    assert active_days(rows, app_min_minutes={"teams": 2}) == {ActiveDay("u1", "teams", D)}
    # The override can also be stricter than the default.
    assert active_days([DailyFocus("u1", "cad", D, 400.0)], app_min_minutes={"cad": 10}) == frozenset()


def test_two_short_apps_do_not_make_an_active_day_for_either() -> None:
    # 3 min on each of an investment's two apps: neither app reaches 5 min, so no investment usage.
    rows = [DailyFocus("u1", "word", D, 180.0), DailyFocus("u1", "excel", D, 180.0)]
    assert active_users(active_days(rows), D, D, apps={"word", "excel"}) == frozenset()


def test_only_focus_kind_counts_and_midnight_split_applies() -> None:
    spans = [
        FakeSpan("focus", "u1", "word", datetime(2025, 6, 29, 23, 58, tzinfo=AMS), 420.0),
        FakeSpan("open", "u1", "word", datetime(2025, 6, 30, 9, 0, tzinfo=AMS), 3600.0),
        FakeSpan("launch", "u1", "word", datetime(2025, 6, 30, 9, 0, tzinfo=AMS), 0.0),
        FakeSpan("focus", "u1", "word", datetime(2025, 6, 30, 10, 0, tzinfo=AMS), 60.0),
    ]
    assert focus_by_day(spans, AMS) == [
        DailyFocus("u1", "word", date(2025, 6, 29), 120.0),
        DailyFocus("u1", "word", date(2025, 6, 30), 360.0),
    ]


def test_open_time_alone_never_makes_a_user_active() -> None:
    spans = [FakeSpan("open", "u1", "word", datetime(2025, 6, 30, 9, 0, tzinfo=AMS), 8 * 3600.0)]
    assert active_days(focus_by_day(spans, AMS)) == frozenset()


def test_wau_and_mau_window_edges() -> None:
    days = [
        ActiveDay("today", "word", ago(0)),
        ActiveDay("d6", "word", ago(6)),  # last day inside the 7-day window
        ActiveDay("d7", "word", ago(7)),  # first day outside it
        ActiveDay("d27", "word", ago(27)),  # last day inside the 28-day window
        ActiveDay("d28", "word", ago(28)),  # first day outside it
    ]
    assert active_counts(days, D) == ActiveCounts(dau=1, wau=2, mau=4)
    assert active_users(days, ago(27), D) == {"today", "d6", "d7", "d27"}


def test_investment_counts_a_user_once_across_its_apps() -> None:
    days = [
        ActiveDay("u1", "word", D),
        ActiveDay("u1", "excel", D),
        ActiveDay("u1", "excel", ago(3)),
        ActiveDay("u2", "excel", ago(3)),
        ActiveDay("u3", "slack", D),
    ]
    assert active_counts(days, D, apps={"word", "excel"}) == ActiveCounts(dau=1, wau=2, mau=2)
    assert active_counts(days, D) == ActiveCounts(dau=2, wau=3, mau=3)


def test_dau_series_has_one_value_per_day_with_zeros() -> None:
    days = [ActiveDay("u1", "word", D), ActiveDay("u2", "word", D), ActiveDay("u1", "word", ago(2))]
    assert dau_series(days, D, n_days=4) == [0, 1, 0, 2]
    assert len(dau_series(days, D)) == 28


def test_reporting_users_any_telemetry_in_window() -> None:
    seen = [("u1", ago(27)), ("u2", ago(28)), ("u3", D)]
    assert reporting_users(seen, ago(27), D) == {"u1", "u3"}


def test_the_event_contract_feeds_focus_by_day() -> None:
    from collectors.event import UsageEvent

    def event(kind: str, minutes: float) -> UsageEvent:
        return UsageEvent.model_validate(
            {
                "event_id": f"e-{kind}",
                "kind": kind,
                "device_id": "dev1",
                "user": "p1",
                "app": "word",
                "start": "2025-06-30T08:00:00+00:00",
                "duration_s": minutes * 60,
                "source": "agent",
            }
        )

    rows = focus_by_day([event("focus", 5), event("open", 30), event("launch", 0)], AMS)
    assert rows == [DailyFocus("p1", "word", date(2025, 6, 30), 300.0)]
    assert active_days(rows) == {ActiveDay("p1", "word", date(2025, 6, 30))}
