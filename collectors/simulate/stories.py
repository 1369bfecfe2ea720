"""The named scenarios the simulated fleet plays out, and the outcome each one implies.

Every story drives one application: a user of the story's population is an *adopter* on a day when
their fixed threshold (spread evenly over the population) is below the story's adoption curve on that
day; adopters use the application on most working days, non-adopters at most try it for a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, NamedTuple

from collectors.simulate.curves import logistic_growth, shifted
from collectors.simulate.portfolio import INVESTMENTS_BY_ID

Status = Literal["on_track", "low"]
AdoptionCurve = Callable[[date, date], float]  # (day, as_of) -> share of the population adopting


class StorySpec(NamedTuple):
    """How one story behaves: who may adopt, along which curve, and how adopters use the app."""

    key: str
    title: str
    description: str
    app: str
    investment: str | None
    departments: tuple[str, ...]  # the population; empty: everybody
    adoption: AdoptionCurve
    daily_use: float  # chance an adopter uses the app on a working day they are present
    minutes: tuple[int, int]  # focus minutes per day of use (uniform)
    trial: float = 0.0  # chance a non-adopter opens it for under 5 minutes on a working day
    replaces: str | None = None  # non-adopters use this app instead (a legacy being displaced)
    fixed_users: int | None = None  # a fixed number of adopters regardless of scale
    expected_status: Status | None = None
    shadow_it: bool | None = None


@dataclass(frozen=True)
class Story:
    """A story's expected outcome on the as-of day, for tests and demos to assert against."""

    key: str
    title: str
    description: str
    application_id: str
    investment_id: str | None
    departments: tuple[str, ...]
    population: int
    expected_status: Status | None
    active_users: tuple[int, int]  # band for distinct active users (28-day window ending as-of)
    adoption_ratio: tuple[float, float] | None  # active_users / population, for investments
    planned_ratio: float | None  # the plan on the as-of day
    seats: int | None
    licence_utilisation: tuple[float, float] | None
    shadow_it: bool | None
    replaces: str | None


def _plan_ahead(investment: str, lead_days: int) -> AdoptionCurve:
    """Adoption that follows the investment's plan `lead_days` ahead of it, from go-live on."""
    inv = INVESTMENTS_BY_ID[investment]

    def curve(day: date, as_of: date) -> float:
        if day < as_of + timedelta(days=inv.go_live):
            return 0.0
        return inv.planned(shifted(day, lead_days), as_of)

    return curve


def _plan_capped(investment: str, plateau: float) -> AdoptionCurve:
    """Adoption that follows the plan until it stalls at `plateau`."""
    inv = INVESTMENTS_BY_ID[investment]

    def curve(day: date, as_of: date) -> float:
        return min(inv.planned(day, as_of), plateau)

    return curve


def _constant(investment: str, ratio: float) -> AdoptionCurve:
    """A steady share of the population from the investment's go-live on."""
    inv = INVESTMENTS_BY_ID[investment]

    def curve(day: date, as_of: date) -> float:
        return ratio if day >= as_of + timedelta(days=inv.go_live) else 0.0

    return curve


def _grassroots(day: date, as_of: date) -> float:
    # Near zero two months before as-of, half of its ceiling 20 days before, still growing at as-of.
    return logistic_growth(day, as_of - timedelta(days=20), ceiling=0.25, rate_per_day=0.12)


def _never(day: date, as_of: date) -> float:
    return 0.0


STALLED_PLATEAU = 0.30

STORIES: tuple[StorySpec, ...] = (
    StorySpec(
        "rollout_on_track",
        "CRM rollout on track",
        "Salesforce for Sales and Support; adoption runs five days ahead of its planned s-curve.",
        app="salesforce",
        investment="inv-crm-rollout",
        departments=("Sales", "Support"),
        adoption=_plan_ahead("inv-crm-rollout", 5),
        daily_use=0.85,
        minutes=(20, 120),
        trial=0.02,
        expected_status="on_track",
    ),
    StorySpec(
        "stalled_rollout",
        "ERP rollout stalled",
        f"SAP S/4HANA for Finance and Sales follows plan until {STALLED_PLATEAU:.0%} of the population "
        "and then plateaus far below its 80% target: status low for months, coverage near 1.",
        app="sap_s4",
        investment="inv-erp-s4",
        departments=("Finance", "Sales"),
        adoption=_plan_capped("inv-erp-s4", STALLED_PLATEAU),
        daily_use=0.6,
        minutes=(15, 60),
        trial=0.03,
        expected_status="low",
    ),
    StorySpec(
        "legacy_replacement",
        "Teams displaces Skype for Business",
        "Users switch from Skype for Business to Teams along a plan-beating s-curve; switched users keep "
        "some Skype use that fades as the switch completes, so Teams' share of combined use rises.",
        app="teams",
        investment="inv-teams",
        departments=(),
        adoption=_plan_ahead("inv-teams", 7),
        daily_use=1.0,
        minutes=(30, 90),
        replaces="skype_business",
        expected_status="on_track",
    ),
    StorySpec(
        "shadow_it_spreading",
        "Unsanctioned Notion spreads",
        "Notion (catalogued, sanctioned: false) spreads bottom-up through Engineering, Sales and Support "
        "along a logistic curve, from a handful of users two months ago to far more than k.",
        app="notion",
        investment=None,
        departments=("Engineering", "Sales", "Support"),
        adoption=_grassroots,
        daily_use=0.75,
        minutes=(10, 50),
        shadow_it=True,
    ),
    StorySpec(
        "over_licensed",
        "Tableau over-licensed",
        "Tableau has seats for twice its target population but only 40% of it uses it: adoption meets its "
        "modest plan, licence utilisation is about 20% and the renewal is 45 days away.",
        app="tableau",
        investment="inv-tableau",
        departments=("Sales", "Finance"),
        adoption=_constant("inv-tableau", 0.40),
        daily_use=0.55,
        minutes=(12, 45),
        expected_status="on_track",
    ),
    StorySpec(
        "orphan_investment",
        "Zoom, funded but tied to no initiative",
        "Zoom licences for Sales are used as planned but serve no initiative (top-level in the catalog).",
        app="zoom",
        investment="inv-zoom",
        departments=("Sales",),
        adoption=_constant("inv-zoom", 0.55),
        daily_use=0.4,
        minutes=(10, 40),
        expected_status="on_track",
    ),
    StorySpec(
        "uncatalogued_below_k",
        "Obsidian, uncatalogued but too small to report",
        "Three engineers use Obsidian, which is not in the catalog; fewer than k users, so it must not be "
        "reported as shadow IT.",
        app="obsidian",
        investment=None,
        departments=("Engineering",),
        adoption=_never,
        daily_use=0.6,
        minutes=(10, 30),
        fixed_users=3,
        shadow_it=False,
    ),
)


def adopters(spec: StorySpec, day: date, as_of: date, population: int) -> int:
    """How many of the population adopt on `day` (thresholds are (rank + 0.5) / population)."""
    if population == 0:
        return 0
    if spec.fixed_users is not None:
        return min(spec.fixed_users, population)
    ratio = spec.adoption(day, as_of)
    return sum(1 for rank in range(population) if (rank + 0.5) / population < ratio)


def ratio_on(spec: StorySpec, day: date, as_of: date, population: int) -> float:
    """The share of the population that adopts on `day`, as the day generator compares thresholds to."""
    if spec.fixed_users is not None:
        return min(spec.fixed_users, population) / population if population else 0.0
    return spec.adoption(day, as_of)


def outcome(spec: StorySpec, as_of: date, population: int, planned: float | None, seats: int | None) -> Story:
    """The outcome a story implies on the as-of day, from its curve alone (not from generated events).

    Every curve here is non-decreasing, so the 28-day active users are at most today's adopters and at
    least those who adopted a week ago (adopters use the app on most working days), less one for luck.
    """
    high = adopters(spec, as_of, as_of, population)
    low = max(0, min(high, adopters(spec, as_of - timedelta(days=7), as_of, population)) - 1)
    ratio = (low / population, high / population) if spec.investment and population else None
    utilisation = (low / seats, high / seats) if seats else None
    return Story(
        key=spec.key,
        title=spec.title,
        description=spec.description,
        application_id=spec.app,
        investment_id=spec.investment,
        departments=spec.departments,
        population=population,
        expected_status=spec.expected_status,
        active_users=(low, high),
        adoption_ratio=ratio,
        planned_ratio=planned,
        seats=seats,
        licence_utilisation=utilisation,
        shadow_it=spec.shadow_it,
        replaces=spec.replaces,
    )
