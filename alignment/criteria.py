"""Luftman's six alignment maturity criteria, their attributes and the five levels."""

from __future__ import annotations

from typing import NamedTuple


class Criterion(NamedTuple):
    """A maturity criterion and its attributes (ids used in survey files)."""

    id: str
    name: str
    attributes: tuple[str, ...]


CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "communications",
        "Communications",
        (
            "understanding_of_business_by_it",
            "understanding_of_it_by_business",
            "organisational_learning",
            "protocol_rigidity",
            "knowledge_sharing",
            "liaison_effectiveness",
        ),
    ),
    Criterion(
        "value_measurement",
        "Competency / value measurement",
        (
            "it_metrics",
            "business_metrics",
            "balanced_metrics",
            "service_levels",
            "benchmarking",
            "investment_reviews",
            "continuous_improvement",
        ),
    ),
    Criterion(
        "governance",
        "Governance",
        (
            "strategic_planning",
            "reporting_structure",
            "budgetary_control",
            "investment_management",
            "steering_committee",
            "prioritisation",
        ),
    ),
    Criterion(
        "partnership",
        "Partnership",
        (
            "business_perception_of_it",
            "role_in_strategic_planning",
            "shared_goals_risks_rewards",
            "programme_management",
            "trust",
            "sponsor_level",
        ),
    ),
    Criterion(
        "scope_architecture",
        "Scope & architecture",
        ("scope_of_it", "standards_articulation", "architectural_integration", "flexibility"),
    ),
    Criterion(
        "skills",
        "Skills",
        (
            "innovation",
            "locus_of_power",
            "change_readiness",
            "career_crossover",
            "learning",
            "trust",
            "retention",
        ),
    ),
)

CRITERIA_BY_ID: dict[str, Criterion] = {c.id: c for c in CRITERIA}

LEVELS: dict[int, str] = {
    1: "initial / ad hoc",
    2: "committed",
    3: "established, focused",
    4: "improved / managed",
    5: "optimized",
}


def level_name(score: float) -> str:
    """The name of the level a score rounds down to (3.7 is 'established, focused')."""
    return LEVELS[max(1, min(5, int(score)))]
