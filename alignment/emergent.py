"""Emergent strategy (Baets & MacDonald): unsanctioned tools people adopt bottom-up, fast, in numbers."""

from __future__ import annotations

from dataclasses import dataclass

from alignment.facts import Facts
from pipeline.domain.adoption import slope

WEEKS = 6  # 7-day blocks ending at the as-of day that the growth is measured over
MIN_GROWTH = 0.05  # least-squares growth per week, relative to the mean weekly users


@dataclass(frozen=True)
class Candidate:
    """An application to consider adopting: used by >= k people and growing week on week."""

    app: str
    name: str
    in_catalog: bool
    capability: str | None
    active_users: int  # 28-day
    weekly: tuple[int | None, ...]  # active users per 7-day block, oldest first; None where under k
    slope: float  # users per week (least squares)
    growth: float  # slope / mean weekly users


def weekly_growth(weekly: tuple[int, ...]) -> tuple[float, float] | None:
    """(least-squares slope per week, slope / mean) of weekly active users; None without a usable series."""
    s = slope([(float(i), float(v)) for i, v in enumerate(weekly)])
    mean = sum(weekly) / len(weekly) if weekly else 0.0
    if s is None or mean <= 0:
        return None
    return s, s / mean


def emergent(facts: Facts, min_growth: float = MIN_GROWTH) -> list[Candidate]:
    """Uncatalogued or unsanctioned apps with >= k active users (28-day) growing >= min_growth a week."""
    found = []
    for app, users in facts.usage.active_users.items():
        info = facts.strategy.applications.get(app)
        if (info is not None and info.sanctioned) or users < facts.k:
            continue
        weekly = facts.usage.weekly_active.get(app, ())
        growth = weekly_growth(weekly)
        if growth is None or growth[1] < min_growth or weekly[-1] <= weekly[0]:
            continue
        found.append(
            Candidate(
                app=app,
                name=facts.app_name(app),
                in_catalog=info is not None,
                capability=info.capability if info else None,
                active_users=users,
                weekly=tuple(v if v >= facts.k else None for v in weekly),
                slope=growth[0],
                growth=growth[1],
            )
        )
    return sorted(found, key=lambda c: (-c.active_users * c.growth, c.app))
