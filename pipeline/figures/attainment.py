"""Initiative and objective attainment (METRICS.md roll-ups), written with the current figures."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from pipeline.catalog import Catalog
from pipeline.domain.attainment import InitiativeResult, InvestmentResult, initiative_attainment, objective_attainment
from pipeline.domain.status import Status
from pipeline.figures.current import InvestmentFigures
from pipeline.figures.tables import replace_rows
from pipeline.transaction import transaction


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


def write_current(
    con: duckdb.DuckDBPyConnection, figures: list[InvestmentFigures], catalog: Catalog, as_of: date, k: int
) -> None:
    """Replace adoption_current and the attainment tables in one transaction."""
    initiatives, objectives = attainment_rows(figures, catalog)
    with transaction(con):
        replace_rows(con, "adoption_current", [vars(f) for f in figures])
        replace_rows(con, "initiative_attainment", initiatives)
        replace_rows(con, "objective_attainment", objectives)
        con.execute("UPDATE refresh_state SET as_of = ?, k = ?", [as_of, k])
