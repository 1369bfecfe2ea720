"""The catalog YAML matching the simulated fleet, in pipeline/catalog's format, built here as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from collectors.simulate.applications import APPS, AppSpec
from collectors.simulate.portfolio import (
    INVESTMENTS_BY_ID,
    OBJECTIVES,
    ORPHAN_INVESTMENTS,
    InvestmentSpec,
    Owner,
)


def target_population(inv: InvestmentSpec, sizes: Mapping[str, int]) -> int:
    """Head count of the investment's target departments (the whole directory when it names none)."""
    departments = inv.target_departments or tuple(sizes)
    return sum(sizes[d] for d in departments)


def seats(inv: InvestmentSpec, sizes: Mapping[str, int]) -> int:
    """Seats bought: a multiple of the target population, so over-licensing survives any scale."""
    return max(1, round(inv.seats_per_target_user * target_population(inv, sizes)))


def _owner(owner: Owner) -> dict[str, str]:
    return {"name": owner.name, "email": owner.email}


def _application(app: AppSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": app.id,
        "name": app.name,
        "vendor": app.vendor,
        "capability": app.capability,
        "sanctioned": app.sanctioned,
    }
    if app.min_minutes is not None:
        doc["min_minutes"] = app.min_minutes
    if app.replaces is not None:
        doc["replaces"] = app.replaces
    if app.interchangeable_with:
        doc["interchangeable_with"] = list(app.interchangeable_with)
    if app.annual_cost_per_user is not None:
        doc["annual_cost_per_user"] = app.annual_cost_per_user
        doc["currency"] = "EUR"
    doc["match"] = app.match_rules()
    return doc


def _investment(inv: InvestmentSpec, as_of: date, sizes: Mapping[str, int]) -> dict[str, Any]:
    go_live, target_date, renewal = inv.dates(as_of)
    n = seats(inv, sizes)
    return {
        "id": inv.id,
        "name": inv.name,
        "applications": list(inv.applications),
        "seats": n,
        "annual_cost": n * inv.annual_cost_per_seat,
        "currency": inv.currency,
        "owner": _owner(inv.owner),
        "go_live": go_live,
        "target_ratio": inv.target_ratio,
        "target_date": target_date,
        "curve": inv.curve,
        "target_departments": list(inv.target_departments),
        "renewal_date": renewal,
    }


def catalog_document(as_of: date, sizes: Mapping[str, int], timezone: str = "UTC") -> dict[str, Any]:
    """The whole catalog as plain data: applications, objectives, orphan investments and the time zone."""
    objectives = [
        {
            "id": objective.id,
            "name": objective.name,
            "initiatives": [
                {
                    "id": ini.id,
                    "name": ini.name,
                    "domain": ini.domain,
                    "perspective": ini.perspective,
                    "weight": ini.weight,
                    "owner": _owner(ini.owner),
                    "investments": [_investment(INVESTMENTS_BY_ID[i], as_of, sizes) for i in ini.investments],
                }
                for ini in objective.initiatives
            ],
        }
        for objective in OBJECTIVES
    ]
    return {
        "applications": [_application(app) for app in APPS if app.catalogued],
        "objectives": objectives,
        "investments": [_investment(INVESTMENTS_BY_ID[i], as_of, sizes) for i in ORPHAN_INVESTMENTS],
        # The events' days are calendar days in this zone; the pipeline must count them the same way.
        "settings": {"timezone": timezone},
    }


def write_catalog_yaml(path: Path, document: Mapping[str, Any], header: str) -> None:
    """Write the catalog as YAML (dates unquoted, so they load as dates), with a comment header."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    body = yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=120)
    path.write_text(comment + body, encoding="utf-8")
