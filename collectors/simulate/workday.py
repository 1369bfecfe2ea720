"""One user's working day as usage spans: a pure function of the user, the day's story ratios and an RNG."""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from collectors.simulate.population import User
from collectors.simulate.stories import StorySpec

# (device index, kind, app id, start in seconds after local midnight, duration in seconds)
Span = tuple[int, str, str, int, int]

DAY_START_S = 9 * 3600
DAY_END_S = 17 * 3600 + 30 * 60
EARLIEST_S = 8 * 3600 + 30 * 60  # no ordinary span starts before this (local time)
LATEST_S = 18 * 3600  # ... or ends after this
LATE_START_S = 22 * 3600  # late workers' evening spans start at or after this
JITTER_S = 10 * 60
ABSENCE = 0.05  # leave, sickness, a day of meetings away from the desk
DEVICE_SWITCH = 0.3  # chance a two-device user moves to the other machine after lunch
LATE_EVENING = 0.35  # chance a late worker works late on a given working day
STORY_SPAN_S = (6 * 60, 35 * 60)
COMMS_SPAN_S = (3 * 60, 30 * 60)


class DayContext(NamedTuple):
    """What is the same for every user on one day."""

    stories: tuple[StorySpec, ...]
    ratios: tuple[float, ...]  # each story's adoption ratio on the day
    background_open: tuple[str, ...]  # apps auto-started on every non-Linux device (kind "open")
    # (story index, department) -> the ratio that department's thresholds are compared with instead (interventions)
    lifted: Mapping[tuple[int, str], float] = MappingProxyType({})


def _between(rng: random.Random, lo: int, hi: int) -> int:
    """A uniform integer in [lo, hi]; twice as fast as Random.randint, which matters per span."""
    return lo + int(rng.random() * (hi - lo + 1))


def _chunks(rng: random.Random, pieces: list[tuple[str, int]], app: str, total: int, span: tuple[int, int]) -> None:
    rand = rng.random
    lo = span[0]
    width = span[1] - lo + 1
    while total > 0:
        piece = min(total, lo + int(rand() * width))
        pieces.append((app, piece))
        total -= piece


def user_day(user: User, ctx: DayContext, rng: random.Random) -> list[Span]:
    """The spans of one user on one working day, in start order per device (evening spans last)."""
    if rng.random() < ABSENCE:
        return []
    start = max(EARLIEST_S, DAY_START_S + user.start_shift_s + _between(rng, -JITTER_S, JITTER_S))
    end = min(LATEST_S, DAY_END_S + user.start_shift_s // 2 + _between(rng, -JITTER_S, JITTER_S))
    lunch_at = 12 * 3600 + _between(rng, 0, 3600)
    lunch = _between(rng, 30 * 60, 50 * 60)
    budget = end - start - lunch
    focus = int(budget * rng.uniform(0.72, 0.86))

    pieces: list[tuple[str, int]] = []
    for s, threshold in user.stories:
        story = ctx.stories[s]
        adopted = threshold < ctx.lifted.get((s, user.department), ctx.ratios[s])
        if story.replaces is not None:
            minutes = _between(rng, *story.minutes) * 60
            if adopted:
                # Switched users still drop into the legacy tool, less as the switch completes.
                if rng.random() < 0.5 * (1.0 - ctx.ratios[s]):
                    legacy = _between(rng, 5, 20) * 60
                    _chunks(rng, pieces, story.replaces, legacy, COMMS_SPAN_S)
                    minutes -= legacy
                _chunks(rng, pieces, story.app, minutes, COMMS_SPAN_S)
            else:
                _chunks(rng, pieces, story.replaces, minutes, COMMS_SPAN_S)
        elif adopted:
            if rng.random() < story.daily_use:
                _chunks(rng, pieces, story.app, _between(rng, *story.minutes) * 60, STORY_SPAN_S)
        elif story.trial and rng.random() < story.trial:
            pieces.append((story.app, _between(rng, 60, 240)))  # a look, well under the 5-minute threshold

    story_total = sum(d for _, d in pieces)
    if story_total > budget:  # a day of nothing but story apps: squeeze them into the day
        pieces = [(app, d * budget // story_total) for app, d in pieces if d * budget >= story_total]
        story_total = sum(d for _, d in pieces)
    free = max(0, focus - story_total)
    weights = [b.weight * rng.uniform(0.7, 1.3) for b in user.background]
    total_weight = sum(weights)
    for b, w in zip(user.background, weights, strict=True):
        _chunks(rng, pieces, b.app, int(free * w / total_weight), (b.min_span_s, b.max_span_s))
    rng.shuffle(pieces)

    idle = max(0, budget - sum(d for _, d in pieces))
    gap_weights = [rng.random() for _ in pieces]
    gap_total = sum(gap_weights) or 1.0
    switch = len(user.devices) > 1 and rng.random() < DEVICE_SWITCH

    focus_spans: list[list[tuple[int, str, int]]] = [[] for _ in user.devices]
    t = start
    device = 0
    lunched = False
    for (app, duration), gap in zip(pieces, gap_weights, strict=True):
        t += int(idle * gap / gap_total)
        if not lunched and t >= lunch_at:
            t += lunch
            lunched = True
            if switch:
                device = 1
        focus_spans[device].append((t, app, duration))
        t += duration

    spans: list[Span] = []
    for d, device_spans in enumerate(focus_spans):
        if not device_spans:
            continue
        first_start = device_spans[0][0]
        last_end = device_spans[-1][0] + device_spans[-1][2]
        spans.append((d, "launch", user.mail_app, first_start, 0))
        spans.append((d, "open", user.mail_app, first_start, last_end - first_start))
        if user.devices[d].platform != "linux":
            spans.extend((d, "open", app, first_start, last_end - first_start) for app in ctx.background_open)
        spans.extend((d, "focus", app, s, dur) for s, app, dur in device_spans)

    if user.late_worker and rng.random() < LATE_EVENING:
        # The evening's last span starts 23:35-23:55 and lasts at least 30 minutes: it crosses midnight.
        first = _between(rng, LATE_START_S, 23 * 3600)
        spans.append((0, "focus", user.evening_apps[0], first, _between(rng, 15 * 60, 30 * 60)))
        last = _between(rng, 23 * 3600 + 35 * 60, 23 * 3600 + 55 * 60)
        spans.append((0, "focus", user.evening_apps[1], last, _between(rng, 30 * 60, 70 * 60)))
    return spans
