"""The simulated portfolio: objectives, initiatives and investments, with dates relative to the as-of day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

from collectors.simulate.curves import Curve, planned_ratio


class Owner(NamedTuple):
    """The person answerable for an initiative or an investment."""

    name: str
    email: str


class InvestmentSpec(NamedTuple):
    """One investment; day offsets are relative to the as-of day, seats to its target population."""

    id: str
    name: str
    applications: tuple[str, ...]
    seats_per_target_user: float
    annual_cost_per_seat: int
    owner: Owner
    go_live: int
    target_ratio: float
    target_date: int
    curve: Curve
    target_departments: tuple[str, ...]  # empty: the whole directory
    renewal: int
    currency: str = "EUR"

    def dates(self, as_of: date) -> tuple[date, date, date]:
        """(go_live, target_date, renewal_date) for a given as-of day."""
        return (
            as_of + timedelta(days=self.go_live),
            as_of + timedelta(days=self.target_date),
            as_of + timedelta(days=self.renewal),
        )

    def planned(self, day: date, as_of: date) -> float:
        """The planned adoption ratio on `day` (docs/metrics.md)."""
        go_live, target_date, _ = self.dates(as_of)
        return planned_ratio(day, go_live, target_date, self.target_ratio, self.curve)


class InitiativeSpec(NamedTuple):
    """A strategic initiative and the investments that serve it."""

    id: str
    name: str
    domain: str
    perspective: str
    weight: float
    owner: Owner
    investments: tuple[str, ...]


class ObjectiveSpec(NamedTuple):
    """A business objective and its initiatives."""

    id: str
    name: str
    initiatives: tuple[InitiativeSpec, ...]


MARIA = Owner("Maria Jansen", "maria.jansen@example.org")
PIETER = Owner("Pieter de Vries", "pieter.devries@example.org")
SANNE = Owner("Sanne Bakker", "sanne.bakker@example.org")
TOM = Owner("Tom Visser", "tom.visser@example.org")
EVA = Owner("Eva Smit", "eva.smit@example.org")
RUTGER = Owner("Rutger Mulder", "rutger.mulder@example.org")

INVESTMENTS: tuple[InvestmentSpec, ...] = (
    InvestmentSpec(
        "inv-crm-rollout", "Salesforce CRM rollout", ("salesforce",), 1.1, 1200, MARIA,
        go_live=-120, target_ratio=0.9, target_date=60, curve="s_curve",
        target_departments=("Sales", "Support"), renewal=240,
    ),
    InvestmentSpec(
        "inv-erp-s4", "SAP S/4HANA finance and expenses", ("sap_s4",), 1.0, 2000, PIETER,
        go_live=-150, target_ratio=0.8, target_date=-30, curve="s_curve",
        target_departments=("Finance", "Sales"), renewal=300,
    ),
    InvestmentSpec(
        "inv-teams", "Microsoft Teams for everyone", ("teams",), 1.0, 96, SANNE,
        go_live=-90, target_ratio=0.9, target_date=30, curve="s_curve",
        target_departments=(), renewal=180,
    ),
    InvestmentSpec(
        "inv-tableau", "Tableau analytics licences", ("tableau",), 2.0, 700, TOM,
        go_live=-400, target_ratio=0.35, target_date=-220, curve="linear",
        target_departments=("Sales", "Finance"), renewal=45,
    ),
    # Orphan: funded, used, but tied to no initiative (a governance finding).
    InvestmentSpec(
        "inv-zoom", "Zoom Workplace licences", ("zoom",), 0.7, 180, EVA,
        go_live=-500, target_ratio=0.5, target_date=-400, curve="linear",
        target_departments=("Sales",), renewal=150,
    ),
)  # fmt: skip

INVESTMENTS_BY_ID: dict[str, InvestmentSpec] = {inv.id: inv for inv in INVESTMENTS}

OBJECTIVES: tuple[ObjectiveSpec, ...] = (
    ObjectiveSpec(
        "obj-customer-growth",
        "Grow revenue from existing customers",
        (
            InitiativeSpec(
                "ini-customer-360", "One view of every customer", "business_strategy",
                "strategy_execution", 2.0, MARIA, ("inv-crm-rollout",),
            ),
            InitiativeSpec(
                "ini-sales-analytics", "Data-driven sales planning", "it_strategy",
                "competitive_potential", 1.0, TOM, ("inv-tableau",),
            ),
        ),
    ),
    ObjectiveSpec(
        "obj-efficient-operations",
        "Lower the cost of running the company",
        (
            InitiativeSpec(
                "ini-finance-modernisation", "Modern finance processes", "organisational_infrastructure",
                "strategy_execution", 2.0, PIETER, ("inv-erp-s4",),
            ),
            InitiativeSpec(
                "ini-modern-workplace", "One collaboration platform", "it_infrastructure",
                "service_level", 1.0, SANNE, ("inv-teams",),
            ),
            # Defined but not yet funded: a gap for the five-step method's step 3.
            InitiativeSpec(
                "ini-self-service-it", "Self-service IT for every employee", "it_strategy",
                "technology_transformation", 1.0, RUTGER, (),
            ),
        ),
    ),
)  # fmt: skip

ORPHAN_INVESTMENTS: tuple[str, ...] = ("inv-zoom",)
