"""Displacement (k-safe shares per department and week) and emergent strategy (growing unsanctioned tools)."""

from __future__ import annotations

from datetime import date

import pytest

from alignment.displacement import displacement
from alignment.emergent import emergent, weekly_growth
from alignment.facts import AppInfo, Facts, Strategy, SwitchWeek, Usage
from alignment.summary import summarise

AS_OF = date(2026, 6, 30)
WEEK = date(2026, 6, 22)


def test_displacement_shares_and_k_anonymity() -> None:
    facts = Facts(
        AS_OF,
        Strategy(),
        switches=(
            SwitchWeek("teams", "skype", "Sales", WEEK, 300, 100, 6),
            SwitchWeek("teams", "skype", "Legal", WEEK, 50, 50, 4),  # department of 4 < k
            SwitchWeek("teams", "skype", "HR", WEEK, 50, 50, 3),  # department of 8, but only 3 users
            SwitchWeek("teams", "skype", "Ops", WEEK, 0, 0, 5),  # no use at all: no share
            SwitchWeek("teams", "skype", "(all)", WEEK, 400, 200, 13),
        ),
        department_sizes={"Sales": 10, "Legal": 4, "HR": 8, "Ops": 5},
        k=5,
    )
    shares = displacement(facts)
    assert [(s.department, s.share, s.new_minutes, s.old_minutes) for s in shares] == [
        ("(all)", pytest.approx(400 / 600), pytest.approx(400 / 60), pytest.approx(200 / 60)),
        ("Sales", 0.75, 5.0, pytest.approx(100 / 60)),
    ]


def test_weekly_growth_by_hand() -> None:
    # x = 0..5, mean 2.5; Σ(x - 2.5)·y = 35 and Σ(x - 2.5)² = 17.5: slope 2 users a week; mean 56/6.
    slope, growth = weekly_growth((5, 6, 8, 10, 12, 15)) or (0.0, 0.0)
    assert slope == pytest.approx(2.0)
    assert growth == pytest.approx(2.0 / (56 / 6))
    assert weekly_growth((0, 0, 0)) is None


def test_emergent_candidates() -> None:
    people = [f"u{i}" for i in range(20)]
    apps = {
        "notion": AppInfo("notion", "Notion", "notes", sanctioned=False),
        "teams": AppInfo("teams", "Teams", "chat"),
    }
    usage = Usage(
        active_users={
            "notion": frozenset(people[:15]),
            "teams": frozenset(people),  # sanctioned: never a candidate
            "uncatalogued:miro": frozenset(people[:6]),
            "uncatalogued:fading": frozenset(people[:9]),
            "uncatalogued:tiny": frozenset(people[:4]),  # growing, but under k
            "uncatalogued:slow": frozenset(people[:10]),
        },
        weekly_active={
            "notion": (5, 6, 8, 10, 12, 15),
            "teams": (1, 5, 10, 15, 20, 20),
            "uncatalogued:miro": (1, 2, 3, 4, 5, 6),
            "uncatalogued:fading": (9, 8, 7, 6, 5, 4),
            "uncatalogued:tiny": (1, 2, 3, 4, 4, 4),
            "uncatalogued:slow": (10, 10, 10, 10, 10, 11),  # slope 0.14/week on a mean of 10.2: under 5 %
        },
    )
    strategy = Strategy(applications=apps)
    found = emergent(Facts(AS_OF, strategy, usage=summarise(usage, strategy, {}, 5), k=5))
    assert [c.app for c in found] == ["notion", "uncatalogued:miro"]
    notion, miro = found
    assert (notion.name, notion.in_catalog, notion.capability, notion.active_users) == ("Notion", True, "notes", 15)
    assert notion.weekly == (5, 6, 8, 10, 12, 15)
    # Weekly counts under k are masked; miro: slope 1 on a mean of 3.5.
    assert miro.weekly == (None, None, None, None, 5, 6)
    assert (miro.name, miro.in_catalog) == ("miro", False)
    assert miro.growth == pytest.approx(1 / 3.5)
