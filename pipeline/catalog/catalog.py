"""The loaded catalog: every file merged, cross-checked, with lookups the pipeline needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from base.directory import Directory
from pipeline.catalog.errors import CatalogIssue
from pipeline.catalog.identity import AppMatcher
from pipeline.catalog.model import Application, CatalogSettings, Initiative, Investment, Objective


@dataclass(frozen=True)
class PlacedInvestment:
    """An investment with the initiative and objective it serves (both None for orphan spend)."""

    investment: Investment
    initiative: Initiative | None
    objective: Objective | None

    @property
    def initiative_id(self) -> str | None:
        return self.initiative.id if self.initiative is not None else None

    @property
    def objective_id(self) -> str | None:
        return self.objective.id if self.objective is not None else None


@dataclass(frozen=True, eq=False)
class Catalog:
    """A valid catalog. Defaults from `settings:` are already applied to applications and investments."""

    applications: Mapping[str, Application]
    objectives: Sequence[Objective]
    orphan_investments: Sequence[Investment]
    settings: CatalogSettings = field(default_factory=CatalogSettings)
    directory: Directory | None = None
    files: tuple[Path, ...] = ()
    warnings: tuple[CatalogIssue, ...] = ()

    @cached_property
    def matcher(self) -> AppMatcher:
        """The compiled identity rules of every application (built once per catalog)."""
        return AppMatcher(self.applications.values())

    @cached_property
    def initiatives(self) -> dict[str, Initiative]:
        """Every initiative by id, in catalog order."""
        return {ini.id: ini for obj in self.objectives for ini in obj.initiatives}

    @cached_property
    def initiative_objective(self) -> dict[str, Objective]:
        """The objective each initiative (by id) belongs to."""
        return {ini.id: obj for obj in self.objectives for ini in obj.initiatives}

    @cached_property
    def investments(self) -> dict[str, PlacedInvestment]:
        """Every investment by id, in catalog order, orphans (no initiative) last."""
        placed = [
            PlacedInvestment(inv, ini, obj)
            for obj in self.objectives
            for ini in obj.initiatives
            for inv in ini.investments
        ]
        placed += [PlacedInvestment(inv, None, None) for inv in self.orphan_investments]
        return {p.investment.id: p for p in placed}

    @cached_property
    def investments_by_application(self) -> dict[str, tuple[str, ...]]:
        """Application id -> ids of the investments that fund it (empty tuple for none)."""
        result: dict[str, list[str]] = {app_id: [] for app_id in self.applications}
        for inv_id, placed in self.investments.items():
            for app_id in placed.investment.applications:
                result[app_id].append(inv_id)
        return {app_id: tuple(ids) for app_id, ids in result.items()}

    def match(self, raw: str) -> str | None:
        """The application id of a raw identifier (exe name, bundle id or path), or None."""
        return self.matcher.match(raw)

    def min_minutes(self, app_id: str, investment_id: str | None = None) -> float:
        """Focus minutes that make an active day: investment override, else the application's threshold."""
        if investment_id is not None:
            override = self.investments[investment_id].investment.min_minutes
            if override is not None:
                return override
        return self.applications[app_id].min_minutes

    def population(self, investment_id: str) -> frozenset[str] | None:
        """Pseudonyms in an investment's target population; None when there is no directory."""
        if self.directory is None:
            return None
        return self.directory.population(self.investments[investment_id].investment.target_departments)
