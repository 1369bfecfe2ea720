"""Initiative and objective attainment (docs/metrics.md roll-ups) of the current figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.catalog import Catalog
from pipeline.domain.attainment import InitiativeResult, InvestmentResult, initiative_attainment, objective_attainment
from pipeline.domain.status import Status

if TYPE_CHECKING:
    from pipeline.figures.current import InvestmentFigures


def attainment_rows(
    figures: list[InvestmentFigures], catalog: Catalog
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of initiative_attainment and objective_attainment for these figures."""
    by_initiative: dict[str, list[InvestmentResult]] = {}
    for f in figures:
        if f.initiative:
            by_initiative.setdefault(f.initiative, []).append(
                InvestmentResult(Status(f.status), f.annual_cost, f.adoption_ratio, f.planned_ratio)
            )
    initiatives = []
    objectives = []
    for obj in catalog.objectives:
        results = []
        for ini in obj.initiatives:
            att = initiative_attainment(by_initiative.get(ini.id, []))
            initiatives.append(
                {
                    "initiative": ini.id,
                    "objective": obj.id,
                    "name": ini.name,
                    "domain": ini.domain,
                    "perspective": ini.perspective,
                    "weight": ini.weight,
                    "attainment": att,
                }
            )
            results.append(InitiativeResult(att, ini.weight))
        objectives.append({"objective": obj.id, "name": obj.name, "attainment": objective_attainment(results)})
    return initiatives, objectives
