"""Each story's shape, counted straight from the generated events with docs/metrics.md's definitions."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from typing import Any

from collectors.simulate import Organisation

AS_OF = date(2026, 3, 4)  # the conftest's as-of day (conftest modules are not importable)
Usage = Any  # conftest.Usage: focus seconds per (app, user, day) and telemetry seen per day

TOLERANCE = 0.10


def planned(inv: dict[str, Any], day: date) -> float:
    """The planned ratio, written out again from docs/metrics.md (not imported from the simulator)."""
    if day < inv["go_live"]:
        return 0.0
    x = min(1.0, max(0.0, (day - inv["go_live"]).days / (inv["target_date"] - inv["go_live"]).days))
    if inv["curve"] == "linear":
        return float(inv["target_ratio"] * x)

    def logistic(v: float) -> float:
        return 1 / (1 + math.exp(-10 * (v - 0.5)))

    return float(inv["target_ratio"] * (logistic(x) - logistic(0)) / (logistic(1) - logistic(0)))


def population(inv: dict[str, Any], departments: dict[str, str]) -> set[str]:
    targets = inv["target_departments"]
    return {u for u, d in departments.items() if not targets or d in targets}


def adoption(usage: Usage, app: str, members: set[str], day: date, min_minutes: float = 5.0) -> float:
    return len(usage.active_users(app, day, min_minutes) & members) / len(members)


def last_days(n: int) -> list[date]:
    return [AS_OF - timedelta(days=k) for k in range(n)]


def test_crm_rollout_tracks_its_plan(
    usage: Usage, investments: dict[str, dict[str, Any]], departments: dict[str, str]
) -> None:
    inv = investments["inv-crm-rollout"]
    members = population(inv, departments)
    assert len(members) == 100  # Sales 60 + Support 40
    for day in last_days(7):  # never `low` in the hysteresis window
        assert adoption(usage, "salesforce", members, day) >= planned(inv, day) * (1 - TOLERANCE)
    for weeks in range(8):  # close to the s-curve for two months
        day = AS_OF - timedelta(weeks=weeks)
        assert abs(adoption(usage, "salesforce", members, day) - planned(inv, day)) < 0.1, day
    assert adoption(usage, "salesforce", members, AS_OF - timedelta(weeks=8)) < adoption(
        usage, "salesforce", members, AS_OF
    )


def test_erp_rollout_has_stalled_below_plan_with_good_coverage(
    usage: Usage, investments: dict[str, dict[str, Any]], departments: dict[str, str]
) -> None:
    inv = investments["inv-erp-s4"]
    members = population(inv, departments)
    assert len(members) == 75  # Finance 15 + Sales 60
    for day in last_days(14):  # `low` on each of the last 7 days, and then some
        assert adoption(usage, "sap_s4", members, day) < planned(inv, day) * (1 - TOLERANCE), day
        assert len(usage.covered(day) & members) / len(members) > 0.5
    # A plateau: a month made no difference.
    now = adoption(usage, "sap_s4", members, AS_OF)
    assert abs(now - adoption(usage, "sap_s4", members, AS_OF - timedelta(days=28))) <= 0.03
    assert 0.2 <= now <= 0.35
    # Some people only glance at it: any use at all counts more people than 5-minute active days.
    assert len(usage.any_use("sap_s4", AS_OF) & members) > len(usage.active_users("sap_s4", AS_OF) & members)


def test_teams_displaces_skype(usage: Usage, catalog_doc: dict[str, Any]) -> None:
    assert {a["id"]: a.get("replaces") for a in catalog_doc["applications"]}["teams"] == "skype_business"
    shares = []
    for week in range(8, 0, -1):
        last = AS_OF - timedelta(weeks=week - 1)
        first = last - timedelta(days=6)
        teams, skype = usage.seconds("teams", first, last), usage.seconds("skype_business", first, last)
        shares.append(teams / (teams + skype))
    assert all(a < b for a, b in itertools.pairwise(shares)), shares
    assert shares[0] < 0.5
    assert shares[-1] > 0.75
    assert len(usage.active_users("skype_business", AS_OF)) < len(
        usage.active_users("skype_business", AS_OF - timedelta(days=56))
    )


def test_teams_is_on_plan(usage: Usage, investments: dict[str, dict[str, Any]], departments: dict[str, str]) -> None:
    inv = investments["inv-teams"]
    members = population(inv, departments)
    assert len(members) == 207  # no target departments: everybody
    for day in last_days(7):
        assert adoption(usage, "teams", members, day) >= planned(inv, day) * (1 - TOLERANCE)


def test_unsanctioned_notion_spreads_past_k(usage: Usage, catalog_doc: dict[str, Any]) -> None:
    assert {a["id"]: a["sanctioned"] for a in catalog_doc["applications"]}["notion"] is False
    users = [len(usage.active_users("notion", AS_OF - timedelta(weeks=w))) for w in (8, 6, 4, 2, 0)]
    assert all(a < b for a, b in itertools.pairwise(users)), users
    assert users[0] < 5  # a handful two months ago
    assert users[-1] >= 6 * 5  # well over k = 5 now


def test_tableau_is_over_licensed_and_up_for_renewal(
    usage: Usage, investments: dict[str, dict[str, Any]], catalog_doc: dict[str, Any]
) -> None:
    inv = investments["inv-tableau"]
    min_minutes = {a["id"]: a.get("min_minutes", 5) for a in catalog_doc["applications"]}["tableau"]
    assert min_minutes == 10
    active = len(usage.active_users("tableau", AS_OF, min_minutes))
    utilisation = active / inv["seats"]
    wasted = max(inv["seats"] - active, 0) * inv["annual_cost"] / inv["seats"]
    assert 0.1 < utilisation < 0.3
    assert wasted > 0.7 * inv["annual_cost"]
    assert timedelta(0) < inv["renewal_date"] - AS_OF <= timedelta(days=90)
    # ... while adoption itself meets its modest plan: over-licensed, not under-adopted.
    assert active / 75 >= planned(inv, AS_OF) * (1 - TOLERANCE)


def test_uncatalogued_obsidian_stays_below_k(usage: Usage) -> None:
    users = usage.active_users("obsidian", AS_OF)
    assert 1 <= len(users) < 5


def test_declared_outcomes_match_the_counted_ones(org: Organisation, usage: Usage) -> None:
    assert org.as_of == AS_OF
    assert [s.key for s in org.stories] == [
        "rollout_on_track",
        "stalled_rollout",
        "legacy_replacement",
        "shadow_it_spreading",
        "over_licensed",
        "orphan_investment",
        "uncatalogued_below_k",
    ]
    statuses = {s.key: s.expected_status for s in org.stories}
    assert statuses["stalled_rollout"] == "low" and statuses["rollout_on_track"] == "on_track"
    for story in org.stories:
        min_minutes = 10 if story.application_id == "tableau" else 5
        active = usage.active_users(story.application_id, AS_OF, min_minutes)
        low, high = story.active_users
        assert low <= len(active) <= high, story.key
        if story.adoption_ratio is not None:
            assert story.adoption_ratio[0] <= len(active) / story.population <= story.adoption_ratio[1]
        if story.licence_utilisation is not None and story.seats:
            assert story.licence_utilisation[0] <= len(active) / story.seats <= story.licence_utilisation[1]
        if story.shadow_it is not None:
            assert story.shadow_it == (len(active) >= 5)
