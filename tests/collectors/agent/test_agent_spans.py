"""Span merging on hand-made sample sequences: switches, idle cuts, suspend gaps, maximum length."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collectors.agent.spans import FocusSpan, Sample, SpanBuilder, SpanRules, merge, span_event
from collectors.event import UsageEvent, deterministic_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def s(seconds: float, app: str | None, idle: float = 0.0, title: str | None = None) -> Sample:
    return Sample(at(seconds), app, idle, title)


def span(app: str, start: float, end: float, title: str | None = None) -> FocusSpan:
    return FocusSpan(app, at(start), at(end), title)


def every(start: float, stop: float, app: str | None, step: float = 5.0) -> list[Sample]:
    """Samples of one app every `step` seconds in [start, stop), no idle."""
    out = []
    t = start
    while t < stop:
        out.append(s(t, app))
        t += step
    return out


RULES = SpanRules(interval_s=5, idle_threshold_s=180, max_span_s=900)


def test_app_switches_place_the_boundary_at_the_first_sample_of_the_new_app() -> None:
    samples = [*every(0, 15, "code"), *every(15, 25, "firefox"), s(25, "code")]
    assert merge(samples, RULES, flush_at=at(30)) == [
        span("code", 0, 15),
        span("firefox", 15, 25),
        span("code", 25, 30),
    ]


def test_spans_are_returned_when_closed_not_before() -> None:
    builder = SpanBuilder(RULES)
    assert builder.feed(s(0, "code")) == []
    assert builder.feed(s(5, "code")) == []
    assert builder.open_app == "code"
    assert builder.feed(s(10, "slack")) == [span("code", 0, 10)]
    assert builder.open_app == "slack"


def test_idle_over_the_threshold_ends_the_span_when_idleness_began() -> None:
    # Last input at t=100; the idle counter then grows with the clock. At t=280 it reaches 180 s.
    active = every(0, 105, "code")
    idle = [s(t, "code", idle=t - 100) for t in range(105, 300, 5)]
    back = [s(300, "code", idle=1.0), s(305, "code", idle=0.5)]
    spans = merge([*active, *idle, *back], RULES, flush_at=at(308))
    assert spans == [span("code", 0, 100), span("code", 300, 308)]


def test_idle_just_under_the_threshold_is_still_focus() -> None:
    samples = [*every(0, 10, "code"), *(s(t, "code", idle=t - 10) for t in range(10, 190, 5))]
    assert samples[-1].idle_s == 175
    assert merge(samples, RULES, flush_at=at(190)) == [span("code", 0, 190)]


def test_idle_that_began_before_the_current_span_leaves_nothing() -> None:
    # The user stopped typing at t=0 in code; a window opened on its own at t=50 (no input).
    samples = [s(t, "code", idle=t) for t in range(0, 50, 5)]
    samples += [s(t, "popup", idle=t) for t in range(50, 185, 5)]
    assert merge(samples, RULES) == []


def test_a_gap_longer_than_two_intervals_ends_the_span_one_interval_after_its_last_sample() -> None:
    # Suspended after the sample at t=10; resumed at t=600.
    samples = [*every(0, 15, "code"), *every(600, 615, "code")]
    assert merge(samples, RULES, flush_at=at(615)) == [span("code", 0, 15), span("code", 600, 615)]


def test_a_gap_of_exactly_two_intervals_is_not_a_suspend() -> None:
    samples = [s(0, "code"), s(5, "code"), s(15, "code"), s(20, "code")]
    assert merge(samples, RULES, flush_at=at(20)) == [span("code", 0, 20)]


def test_a_clock_going_back_closes_the_span_at_its_last_sample() -> None:
    samples = [s(0, "code"), s(5, "code"), s(10, "code"), s(3, "code"), s(8, "code")]
    assert merge(samples, RULES, flush_at=at(8)) == [span("code", 0, 10), span("code", 3, 8)]


def test_no_foreground_window_ends_the_span() -> None:
    samples = [s(0, "code"), s(5, "code"), s(10, None), s(15, None), s(20, "code")]
    assert merge(samples, RULES, flush_at=at(25)) == [span("code", 0, 10), span("code", 20, 25)]


def test_long_spans_are_cut_at_the_maximum_length_as_they_go() -> None:
    rules = SpanRules(interval_s=5, idle_threshold_s=180, max_span_s=60)
    builder = SpanBuilder(rules)
    emitted: dict[int, list[FocusSpan]] = {}
    for sample in every(0, 155, "code"):
        got = builder.feed(sample)
        if got:
            emitted[int((sample.at - T0).total_seconds())] = got
    assert emitted == {60: [span("code", 0, 60)], 120: [span("code", 60, 120)]}
    assert builder.flush(at(153)) == [span("code", 120, 153)]


def test_a_cut_is_never_made_inside_idle_time() -> None:
    # max 60 s, idle threshold 30 s, last input at t=50: the span must end at 50, not be cut at 60.
    rules = SpanRules(interval_s=5, idle_threshold_s=30, max_span_s=60)
    builder = SpanBuilder(rules)
    out: list[FocusSpan] = []
    for t in range(0, 55, 5):
        out += builder.feed(s(t, "code"))
    for t in range(55, 85, 5):
        got = builder.feed(s(t, "code", idle=t - 50))
        assert got == [] or t == 80, f"emitted {got} at t={t}"
        out += got
    assert out == [span("code", 0, 50)]


def test_cuts_wait_for_activity_past_them() -> None:
    # Input lags each sample by 20 s, so a cut at 60 s waits for the sample at 80 s; input stops at 125 s.
    rules = SpanRules(interval_s=5, idle_threshold_s=30, max_span_s=60)
    builder = SpanBuilder(rules)
    emitted: dict[int, list[FocusSpan]] = {}
    samples = [s(0, "code"), *(s(t, "code", idle=20) for t in range(5, 150, 5)), s(150, "code", idle=25)]
    for sample in [*samples, s(155, "code", idle=30)]:
        got = builder.feed(sample)
        if got:
            emitted[int((sample.at - T0).total_seconds())] = got
    assert emitted == {80: [span("code", 0, 60)], 140: [span("code", 60, 120)], 155: [span("code", 120, 125)]}


def test_a_span_closed_without_cuts_is_still_split_into_maximum_lengths() -> None:
    rules = SpanRules(interval_s=5, idle_threshold_s=180, max_span_s=60)
    samples = [s(0, "code"), *(s(t, "code", idle=50) for t in range(5, 105, 5))]
    assert merge(samples, rules, flush_at=at(100)) == [span("code", 0, 60), span("code", 60, 100)]


def test_flush_credits_at_most_one_interval_after_the_last_sample() -> None:
    builder = SpanBuilder(RULES)
    builder.feed(s(0, "code"))
    builder.feed(s(5, "code"))
    assert builder.flush(at(60)) == [span("code", 0, 10)]
    assert builder.flush(at(70)) == []


def test_a_single_sample_flushed_at_once_gives_nothing() -> None:
    builder = SpanBuilder(RULES)
    builder.feed(s(0, "code"))
    assert builder.flush(at(0)) == []


def test_titles_are_ignored_and_dropped_unless_kept() -> None:
    samples = [s(0, "firefox", title="Mail"), s(5, "firefox", title="Bank"), s(10, "firefox", title="Bank")]
    assert merge(samples, RULES, flush_at=at(15)) == [span("firefox", 0, 15)]
    kept = SpanRules(interval_s=5, titles=True)
    assert merge(samples, kept, flush_at=at(15)) == [
        span("firefox", 0, 5, "Mail"),
        span("firefox", 5, 15, "Bank"),
    ]


def test_an_hour_of_focus_adds_up_to_an_hour() -> None:
    samples = [*every(0, 1200, "code"), *every(1200, 2400, "firefox"), *every(2400, 3600, "code")]
    spans = merge(samples, RULES, flush_at=at(3600))
    assert sum(x.seconds for x in spans) == 3600
    assert max(x.seconds for x in spans) == 900
    assert [x.app for x in spans] == ["code"] * 2 + ["firefox"] * 2 + ["code"] * 2


def test_rules_refuse_non_positive_lengths() -> None:
    with pytest.raises(ValueError, match="positive"):
        SpanRules(interval_s=0)


def test_span_event_is_a_valid_contract_event_with_a_stable_id() -> None:
    focus = span("code", 0, 12.5, title="secret.txt")
    event = span_event(focus, device_id="laptop-1", user="alice")
    assert isinstance(event, UsageEvent)
    assert (event.kind, event.source, event.device_id, event.user, event.app) == (
        "focus",
        "agent",
        "laptop-1",
        "alice",
        "code",
    )
    assert event.start == T0
    assert event.duration_s == 12.5
    assert event.title == "secret.txt"
    assert event.event_id == deterministic_id("agent", "laptop-1", "code", T0.isoformat())
    assert span_event(focus, device_id="laptop-1", user="alice").event_id == event.event_id
    assert span_event(span("code", 0, 5), device_id="laptop-1", user="alice").title is None


def test_a_switch_while_idle_is_held_back_then_clipped_to_when_idleness_began() -> None:
    # Last input at t=20 in code; a popup takes the focus at t=50; idle reaches 180 s at t=200.
    builder = SpanBuilder(RULES)
    out: list[FocusSpan] = []
    for t in range(0, 25, 5):
        out += builder.feed(s(t, "code"))
    for t in range(25, 50, 5):
        out += builder.feed(s(t, "code", idle=t - 20))
    assert builder.feed(s(50, "popup", idle=30)) == []  # code [0, 50) is not handed out yet
    for t in range(55, 200, 5):
        out += builder.feed(s(t, "popup", idle=t - 20))
    assert out == []
    assert builder.feed(s(200, "popup", idle=180)) == [span("code", 0, 20)]


def test_a_held_back_span_is_released_whole_when_the_user_comes_back() -> None:
    builder = SpanBuilder(RULES)
    for t in range(0, 25, 5):
        assert builder.feed(s(t, "code")) == []
    for t in range(25, 50, 5):
        assert builder.feed(s(t, "code", idle=t - 20)) == []
    assert builder.feed(s(50, "popup", idle=30)) == []
    assert builder.feed(s(55, "popup", idle=35)) == []
    assert builder.feed(s(60, "popup", idle=2)) == [span("code", 0, 50)]
    assert builder.flush(at(62)) == [span("popup", 50, 62)]
