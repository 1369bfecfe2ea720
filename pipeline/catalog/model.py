"""The catalog file format: applications, objectives -> initiatives -> investments; typos are rejected."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from pipeline.domain.rules import ACTIVE_MINUTES, LOW_DAYS, MIN_COVERAGE, TOLERANCE

Domain = Literal["business_strategy", "it_strategy", "organisational_infrastructure", "it_infrastructure"]
Perspective = Literal["strategy_execution", "technology_transformation", "competitive_potential", "service_level"]
Curve = Literal["s_curve", "linear"]

# The docs/metrics.md defaults (pipeline.domain.rules), overridable catalog-wide and per application or investment.
DEFAULT_MIN_MINUTES = ACTIVE_MINUTES
DEFAULT_TOLERANCE = TOLERANCE
DEFAULT_LOW_DAYS = LOW_DAYS
DEFAULT_MIN_COVERAGE = MIN_COVERAGE

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def _identifier(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError("must be an identifier: letters, digits, '-', '_', '.', ':' (no spaces, at most 128)")
    return value


def _ratio(value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError("must be between 0 and 1")
    return value


def _email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError("must be an e-mail address like name@example.org")
    return value


def _currency(value: str) -> str:
    if not _CURRENCY_RE.match(value):
        raise ValueError("must be a three-letter ISO 4217 code in capitals, e.g. EUR")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone; use an IANA name like Europe/Amsterdam or UTC") from None
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
Ratio = Annotated[float, AfterValidator(_ratio)]
Text = Annotated[str, AfterValidator(_not_blank)]
Regex = Annotated[str, AfterValidator(_regex)]


class _Model(BaseModel):
    # Numbers are accepted where text is expected: `id: 365` or `name: 2024` is what people write in YAML.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True)


class Owner(_Model):
    """Who answers for an investment or initiative; alerts are routed to this address."""

    name: Text
    email: Annotated[str, AfterValidator(_email)]


class MatchRules(_Model):
    """How a raw identifier (exe name, bundle id, path) is recognised as this application."""

    names: list[Text] = Field(default_factory=list, description="Exact names, case-insensitive, '.exe' optional.")
    bundle_ids: list[Text] = Field(default_factory=list, description="Exact bundle ids, case-insensitive.")
    paths: list[Text] = Field(default_factory=list, description="Globs on full paths ('*' one folder, '**' any).")
    regexes: list[Regex] = Field(default_factory=list, description="Python regexes searched in the identifier.")

    @property
    def empty(self) -> bool:
        return not (self.names or self.bundle_ids or self.paths or self.regexes)


class Application(_Model):
    """A piece of software people use, and the rules that recognise it in telemetry."""

    id: Identifier
    name: Text
    vendor: Text | None = None
    capability: Identifier = Field(description="What it is for (chat, spreadsheet, crm...); overlap is per capability.")
    sanctioned: bool = True
    min_minutes: float = Field(DEFAULT_MIN_MINUTES, gt=0, description="Focus minutes that make an active day.")
    replaces: Identifier | None = Field(None, description="Id of a legacy application this one displaces.")
    interchangeable_with: list[Identifier] = Field(
        default_factory=list,
        description="Ids of applications that do the same job (either side may say so); only these are "
        "proposed for consolidation, never merely a shared capability.",
    )
    annual_cost_per_user: float | None = Field(
        None, ge=0, description="What one user of it costs a year; prices it when it is shadow IT."
    )
    currency: Annotated[str, AfterValidator(_currency)] | None = Field(
        None, validate_default=True, description="Currency of annual_cost_per_user (required with it)."
    )
    match: MatchRules = Field(default_factory=MatchRules)

    @field_validator("currency")
    @classmethod
    def _priced_in_a_currency(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("annual_cost_per_user") is not None:
            raise ValueError("required when annual_cost_per_user is set, e.g. EUR")
        return value


class Investment(_Model):
    """Money spent on applications, with the adoption plan it is judged against."""

    id: Identifier
    name: Text | None = None
    applications: Annotated[list[Identifier], Field(min_length=1)]
    seats: int | None = Field(None, gt=0)
    annual_cost: float = Field(ge=0)
    currency: Annotated[str, AfterValidator(_currency)]
    owner: Owner
    go_live: date
    target_ratio: Ratio
    target_date: date
    curve: Curve = "s_curve"
    target_departments: list[Text] | None = None
    renewal_date: date | None = None
    tolerance: Ratio = DEFAULT_TOLERANCE
    low_days: int = Field(DEFAULT_LOW_DAYS, ge=1)
    min_coverage: Ratio = DEFAULT_MIN_COVERAGE
    min_minutes: float | None = Field(None, gt=0, description="Overrides the applications' active-day threshold.")

    @field_validator("target_date")
    @classmethod
    def _after_go_live(cls, value: date, info: ValidationInfo) -> date:
        go_live = info.data.get("go_live")
        if go_live is not None and value <= go_live:
            raise ValueError(f"must be after go_live ({go_live.isoformat()})")
        return value

    @property
    def label(self) -> str:
        """The display name (the id when no name is given)."""
        return self.name or self.id


class Initiative(_Model):
    """A strategic initiative, placed in the Henderson & Venkatraman model, funded by investments."""

    id: Identifier
    name: Text
    domain: Domain
    perspective: Perspective
    weight: float = Field(1.0, gt=0)
    owner: Owner | None = None
    depends_on: list[Identifier] = Field(default_factory=list)
    investments: list[Investment] = Field(default_factory=list)


class Objective(_Model):
    """A business objective, pursued through initiatives."""

    id: Identifier
    name: Text
    description: str | None = None
    initiatives: list[Initiative] = Field(default_factory=list)


class CatalogSettings(_Model):
    """Catalog-wide defaults; None means 'use the process setting' (ALIGNMON_TIMEZONE, _K_ANONYMITY)."""

    timezone: Annotated[str, AfterValidator(_timezone)] | None = None
    k: int | None = Field(None, ge=1)
    min_minutes: float = Field(DEFAULT_MIN_MINUTES, gt=0)
    tolerance: Ratio = DEFAULT_TOLERANCE
    low_days: int = Field(DEFAULT_LOW_DAYS, ge=1)
    min_coverage: Ratio = DEFAULT_MIN_COVERAGE


class CatalogDocument(_Model):
    """One catalog file; a catalog is the merge of every file in its folder."""

    applications: list[Application] = Field(default_factory=list)
    objectives: list[Objective] = Field(default_factory=list)
    investments: list[Investment] = Field(default_factory=list, description="Spend tied to no initiative.")
    settings: CatalogSettings | None = None
