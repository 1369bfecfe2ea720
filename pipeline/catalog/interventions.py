"""Interventions as data: the actions taken to raise an investment's adoption, in `interventions.yaml`.

The file sits beside the catalog files (in the catalog folder, or beside a single catalog file) and is read and
checked with the catalog's own machinery (pipeline.catalog.yamlfile, pipeline.catalog.loader): every problem is
located as `file:line: field: message`. Its effect on adoption is estimated by pipeline.domain.impact.

Example::

    interventions:
      - id: crm-training-sales
        investment: crm-salesforce
        kind: training
        date: 2026-11-03
        target_departments: [Sales]
        owner: {name: Maria Jansen, email: maria.jansen@example.org}
        cost: 12000
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, field_validator

from pipeline.catalog.catalog import Catalog
from pipeline.catalog.errors import CatalogError, CatalogIssue
from pipeline.catalog.loader import INTERVENTIONS_FILES, hint, read_sources, validation_issues
from pipeline.catalog.model import Identifier, Owner, Text, _currency, _Model
from pipeline.catalog.yamlfile import YamlDocument, parse_yaml

Kind = Literal["training", "communication", "enablement", "licence_change", "other"]
KINDS: tuple[str, ...] = ("training", "communication", "enablement", "licence_change", "other")
_SECTIONS = "an interventions file holds interventions:"


class Intervention(_Model):
    """An action taken to raise (or change) an investment's adoption, on a day or over days, in some departments."""

    id: Identifier = Field(description="Unique intervention id; the effect estimate is reported under it.")
    investment: Identifier = Field(description="Id of the catalog investment whose adoption it should change.")
    kind: Kind = Field(description="What was done.")
    date: dt.date = Field(description="The day it happened, or its first day.")
    until: dt.date | None = Field(
        None,
        description="Its last day, for an action over several days (none: one day); the days between date and "
        "until are in neither window of the estimate.",
    )
    target_departments: list[Text] | None = Field(
        None,
        min_length=1,
        description="Directory departments it reached (the treated group), each one of the investment's target "
        "departments; none: the investment's whole target population, which leaves nobody to compare with.",
    )
    owner: Owner = Field(description="Who answers for it.")
    cost: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="What it cost, in currency: gives the cost per additional active user.",
    )
    currency: Annotated[str, AfterValidator(_currency)] | None = Field(
        None, description="Currency of cost (default: the investment's currency)."
    )
    note: str | None = Field(None, description="Free text: what was done, for whom, by whom.")

    @field_validator("until")
    @classmethod
    def _not_before_date(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        first = info.data.get("date")
        if value is not None and first is not None and value < first:
            raise ValueError(f"must not be before date ({first.isoformat()})")
        return value

    @property
    def last_day(self) -> dt.date:
        """The last day of the action (its only day when it has no `until`)."""
        return self.until or self.date


class InterventionsDocument(_Model):
    """The interventions file, interventions.yaml beside the catalog files."""

    interventions: list[Intervention] = Field(default_factory=list, description="The interventions, in any order.")


@dataclass(frozen=True)
class Interventions:
    """The checked interventions of a catalog (none without a file), with their warnings."""

    items: tuple[Intervention, ...] = ()
    file: Path | None = None
    warnings: tuple[CatalogIssue, ...] = ()


def interventions_file(catalog_path: Path) -> Path | None:
    """The interventions file of a catalog folder (or beside a single catalog file), or None when there is none."""
    folder = catalog_path if catalog_path.is_dir() else catalog_path.parent
    try:
        found = sorted(c for c in folder.iterdir() if c.name.lower() in INTERVENTIONS_FILES and c.is_file())
    except OSError:
        return None
    return found[0] if found else None


def load_interventions(catalog_path: Path, catalog: Catalog, file: Path | None = None) -> Interventions:
    """Load and check the interventions beside a catalog (or in `file`): none when there is no file.

    Raises CatalogError listing every error as `file:line: field: message`; the catalog's directory, when it has one,
    is what departments are checked against.
    """
    if file is None:
        file = interventions_file(catalog_path)
        if file is None:
            return Interventions()
        found = [c for c in file.parent.iterdir() if c.name.lower() in INTERVENTIONS_FILES]
        if len(found) > 1:
            names = " and ".join(sorted(c.name for c in found))
            raise CatalogError([CatalogIssue(str(file.parent), 0, "(folder)", f"both {names}: keep one")])
    ((path, text),) = read_sources([file])
    return parse_interventions(path, text, catalog)


def parse_interventions(path: Path, text: str, catalog: Catalog) -> Interventions:
    """Check the interventions file `text` (named `path` in errors) against a catalog and its directory."""
    doc, issues = parse_yaml(path, text)
    if doc is None or issues:
        raise CatalogError(issues)
    if doc.data is None:
        raise CatalogError([CatalogIssue(str(path), 0, "(file)", f"the file is empty; {_SECTIONS}")])
    if not isinstance(doc.data, dict):
        raise CatalogError([doc.issue((), f"an interventions file is a mapping; {_SECTIONS}")])
    try:
        model = InterventionsDocument.model_validate(doc.data)
    except ValidationError as exc:
        found = validation_issues(doc, exc, InterventionsDocument)
        raise CatalogError(sorted(found, key=lambda issue: issue.line)) from None
    found = _cross_check(doc, model.interventions, catalog)
    errors = [issue for issue in found if issue.severity == "error"]
    if errors:
        raise CatalogError(errors)
    return Interventions(tuple(model.interventions), path, tuple(found))


def _cross_check(doc: YamlDocument, items: Sequence[Intervention], catalog: Catalog) -> list[CatalogIssue]:
    issues: list[CatalogIssue] = []
    first_line: dict[str, int] = {}
    known = set(catalog.directory.departments) if catalog.directory is not None else None
    for i, item in enumerate(items):
        loc: tuple[str | int, ...] = ("interventions", i)
        line = doc.line_of(loc)
        if item.id in first_line:
            message = f"duplicate intervention id {item.id!r} (first at line {first_line[item.id]})"
            issues.append(doc.issue((*loc, "id"), message))
        first_line.setdefault(item.id, line)
        placed = catalog.investments.get(item.investment)
        if placed is None:
            message = f"unknown investment {item.investment!r}{hint(item.investment, catalog.investments)}"
            issues.append(doc.issue((*loc, "investment"), message))
            continue
        targets = placed.investment.target_departments
        seen: set[str] = set()
        for j, department in enumerate(item.target_departments or []):
            where = (*loc, "target_departments", j)
            if department in seen:
                issues.append(doc.issue(where, f"department {department!r} is listed twice"))
            seen.add(department)
            if targets and department not in targets:
                issues.append(
                    doc.issue(
                        where,
                        f"department {department!r} is not a target department of {item.investment!r} "
                        f"({', '.join(targets)}){hint(department, targets)}",
                    )
                )
            elif known is not None and department not in known:
                issues.append(
                    doc.issue(where, f"department {department!r} is not in the directory{hint(department, known)}")
                )
        if item.currency is not None and item.cost is None:
            issues.append(doc.issue((*loc, "currency"), "a currency without a cost says nothing", "warning"))
    return issues
