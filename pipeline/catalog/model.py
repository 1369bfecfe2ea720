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
    """Who answers for an investment or initiative; an investment's adoption alerts go to this address."""

    name: Text = Field(description="Person or role that answers for it, as reports and the roadmap name them.")
    email: Annotated[str, AfterValidator(_email)] = Field(
        description="Their e-mail address: the adoption alerts of an investment go there (owner_email label)."
    )


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

    id: Identifier = Field(
        description="Unique application id; investments, replaces and interchangeable_with refer to it."
    )
    name: Text = Field(description="Display name in the views, dashboards, alerts and reports.")
    vendor: Text | None = Field(None, description="Who makes it; informational, kept with the application.")
    capability: Identifier = Field(description="What it is for (chat, spreadsheet, crm...); overlap is per capability.")
    sanctioned: bool = Field(
        True, description="false: not endorsed; with k or more active users (28 days) it is shadow IT."
    )
    min_minutes: float = Field(
        DEFAULT_MIN_MINUTES, gt=0, description="Focus minutes a day that make an active day (default: settings)."
    )
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
    match: MatchRules = Field(
        default_factory=MatchRules,
        description="Rules that recognise its raw identifiers in events; none: it is never recognised (warning).",
    )

    @field_validator("currency")
    @classmethod
    def _priced_in_a_currency(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("annual_cost_per_user") is not None:
            raise ValueError("required when annual_cost_per_user is set, e.g. EUR")
        return value


class Investment(_Model):
    """Money spent on applications, with the adoption plan it is judged against."""

    id: Identifier = Field(description="Unique investment id, across initiatives and the top-level investments.")
    name: Text | None = Field(None, description="Display name (default: the id).")
    applications: Annotated[list[Identifier], Field(min_length=1)] = Field(
        description="Ids of the applications it pays for; a user active on any of them is active for it, once."
    )
    seats: int | None = Field(None, gt=0, description="Licences bought; licence utilisation and wasted spend need it.")
    annual_cost: float = Field(
        ge=0, description="What it costs a year, in currency; weights attainment, prices idle seats."
    )
    currency: Annotated[str, AfterValidator(_currency)] = Field(description="ISO 4217 code of annual_cost, e.g. EUR.")
    owner: Owner = Field(description="Who answers for it; its adoption alerts go to this owner.")
    go_live: date = Field(description="The day it went or goes live: the plan starts here; before it: not_started.")
    target_ratio: Ratio = Field(description="Adoption ratio (0 to 1) the plan reaches on target_date.")
    target_date: date = Field(description="The day the plan reaches target_ratio; after go_live.")
    curve: Curve = Field("s_curve", description="Shape of the planned ratio from go_live to target_date.")
    target_departments: list[Text] | None = Field(
        None, description="Directory departments whose people are its target population (none: everyone)."
    )
    renewal_date: date | None = Field(
        None,
        description="Next contract renewal (a review date for governance); within 90 days the roadmap "
        "proposes reclaiming idle seats at renewal.",
    )
    tolerance: Ratio = Field(
        DEFAULT_TOLERANCE,
        description="Below planned * (1 - tolerance) is below plan; the forecast's target is reached at "
        "target_ratio * (1 - tolerance) (default: settings).",
    )
    low_days: int = Field(
        DEFAULT_LOW_DAYS,
        ge=1,
        description="Known days in a row below plan before the status is low (default: settings).",
    )
    min_coverage: Ratio = Field(
        DEFAULT_MIN_COVERAGE,
        description="Share of the target population with any telemetry (28 days) below which adoption is unknown "
        "(default: settings).",
    )
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

    id: Identifier = Field(description="Unique initiative id; depends_on refers to it.")
    name: Text = Field(description="Display name.")
    domain: Domain = Field(description="Its Henderson & Venkatraman domain (its investments' too).")
    perspective: Perspective = Field(description="Its Henderson & Venkatraman alignment perspective.")
    weight: float = Field(
        1.0, gt=0, description="Weight in its objective's attainment and strategic weight of its roadmap items."
    )
    owner: Owner | None = Field(None, description="Who answers for it; named on its roadmap items when unfunded.")
    depends_on: list[Identifier] = Field(
        default_factory=list,
        description="Ids of initiatives that come first: the roadmap never puts this one's items before theirs.",
    )
    investments: list[Investment] = Field(
        default_factory=list, description="The investments that fund it; none: unfunded strategy."
    )


class Objective(_Model):
    """A business objective, pursued through initiatives."""

    id: Identifier = Field(description="Unique objective id.")
    name: Text = Field(description="Display name.")
    description: str | None = Field(
        None, description="Free text; the privacy pack lists it as a purpose of the telemetry."
    )
    initiatives: list[Initiative] = Field(default_factory=list, description="The initiatives that pursue it.")


class CatalogSettings(_Model):
    """Catalog-wide defaults for the applications and investments that do not set their own."""

    timezone: Annotated[str, AfterValidator(_timezone)] | None = Field(
        None,
        description="The organisation's IANA time zone as the catalog's authors mean it; checked, not applied: "
        "the pipeline counts days in ALIGNMON_TIMEZONE.",
    )
    k: int | None = Field(
        None,
        ge=1,
        description="Minimum group size the catalog's authors expect; checked, not applied: the pipeline "
        "applies ALIGNMON_K_ANONYMITY, and the privacy pack flags a difference.",
    )
    min_minutes: float = Field(
        DEFAULT_MIN_MINUTES, gt=0, description="min_minutes of every application that does not set its own."
    )
    tolerance: Ratio = Field(DEFAULT_TOLERANCE, description="tolerance of every investment that does not set its own.")
    low_days: int = Field(DEFAULT_LOW_DAYS, ge=1, description="low_days of every investment that does not set its own.")
    min_coverage: Ratio = Field(
        DEFAULT_MIN_COVERAGE, description="min_coverage of every investment that does not set its own."
    )


class CatalogDocument(_Model):
    """One catalog file; a catalog is the merge of every file in its folder."""

    applications: list[Application] = Field(default_factory=list, description="The applications it defines.")
    objectives: list[Objective] = Field(
        default_factory=list, description="Business objectives, with their initiatives and investments."
    )
    investments: list[Investment] = Field(
        default_factory=list, description="Spend tied to no initiative (orphan spend: a governance finding)."
    )
    settings: CatalogSettings | None = Field(
        None, description="Catalog-wide defaults; two files may set a setting only to the same value."
    )
