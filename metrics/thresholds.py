"""Alert thresholds: the typed form of metrics/thresholds.yml, which the rule generator reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from base.errors import AlignmonError
from pipeline.domain.rules import SHADOW_GROWTH_DAYS

THRESHOLDS_PATH = Path(__file__).with_name("thresholds.yml")

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
Duration = Annotated[str, StringConstraints(pattern=r"^[0-9]+[smhdw]$")]
Severity = Literal["critical", "warning", "info"]
# The investment status state set (docs/metrics.md; pipeline.domain.status.Status).
StatusName = Literal["not_started", "unknown", "low", "on_track"]


def seconds(duration: str) -> int:
    """Seconds in a one-unit Prometheus duration such as `15m` or `4d`."""
    match = re.fullmatch(r"([0-9]+)([smhdw])", duration)
    if match is None:
        raise ValueError(f"not a duration like 15m or 4d: {duration!r}")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AlertThreshold(_Strict):
    """What every alert has: a severity and how long its condition must hold."""

    severity: Severity
    for_: Duration = Field(alias="for")


class ForecastThreshold(AlertThreshold):
    skip_statuses: tuple[StatusName, ...]


class WasteThreshold(AlertThreshold):
    min_wasted_spend: float = Field(ge=0)
    renewal_within_days: float = Field(gt=0)


class DecliningThreshold(AlertThreshold):
    max_trend_ratio_per_day: float = Field(lt=0)
    statuses: tuple[StatusName, ...] = Field(min_length=1)


class ShadowThreshold(AlertThreshold):
    min_active_users: int = Field(ge=1)
    # The pipeline computes the growth from its own daily history over these windows only
    # (alignmon_shadow_it_growth_users, docs/metrics.md "Shadow IT growth").
    growth_window: Duration
    min_growth_users: float = Field(gt=0)

    @field_validator("growth_window")
    @classmethod
    def _exported_window(cls, value: str) -> str:
        if seconds(value) not in {days * _UNIT_SECONDS["d"] for days in SHADOW_GROWTH_DAYS}:
            shown = ", ".join(f"{days}d" for days in SHADOW_GROWTH_DAYS)
            raise ValueError(f"the pipeline exports the growth over {shown} only (alignmon_shadow_it_growth_users)")
        return value

    @property
    def growth_days(self) -> int:
        """The growth window in days, as the `window` label of alignmon_shadow_it_growth_users names it."""
        return seconds(self.growth_window) // _UNIT_SECONDS["d"]


class StalledThreshold(AlertThreshold):
    max_commit_age_with_lag: Duration
    max_commit_age: Duration


class LagThreshold(AlertThreshold):
    max_lag_records: int = Field(ge=0)


class RejectedThreshold(AlertThreshold):
    max_rejected_ratio: float = Field(gt=0, lt=1)
    min_rejected_per_second: float = Field(ge=0)


class SpoolGrowingThreshold(AlertThreshold):
    growth_window: Duration


class SilentThreshold(AlertThreshold):
    max_silent_ratio: float = Field(gt=0, lt=1)


class Alerts(_Strict):
    """One entry per shipped alert, keyed by the alert's name."""

    adoption_low: AlertThreshold = Field(alias="AdoptionLow")
    forecast: ForecastThreshold = Field(alias="AdoptionForecastMissesTarget")
    waste: WasteThreshold = Field(alias="LicenceWasteBeforeRenewal")
    declining: DecliningThreshold = Field(alias="AdoptionDeclining")
    shadow_it: ShadowThreshold = Field(alias="ShadowITSpreading")
    stalled: StalledThreshold = Field(alias="PipelineStalled")
    lag: LagThreshold = Field(alias="ConsumerLagHigh")
    rejected: RejectedThreshold = Field(alias="RejectedEventRateHigh")
    exporter_down: AlertThreshold = Field(alias="ExporterDown")
    catalog_invalid: AlertThreshold = Field(alias="CatalogInvalid")
    lake_behind: AlertThreshold = Field(alias="LakeBehind")
    pipeline_writers: AlertThreshold = Field(alias="PipelineWriters")
    gateway_refusing: AlertThreshold = Field(alias="GatewayRefusingEvents")
    spool_commit_failing: AlertThreshold = Field(alias="GatewaySpoolCommitFailing")
    kafka_unreachable: AlertThreshold = Field(alias="GatewayKafkaUnreachable")
    spool_growing: SpoolGrowingThreshold = Field(alias="GatewaySpoolGrowing")
    collectors_silent: SilentThreshold = Field(alias="CollectorsSilent")


class Thresholds(_Strict):
    pipeline_job: str = Field(min_length=1)
    alerts: Alerts


def load(path: Path = THRESHOLDS_PATH) -> Thresholds:
    """Read and validate a thresholds file; errors name the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AlignmonError(f"{path}: cannot read thresholds: {exc}") from exc
    try:
        return Thresholds.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise AlignmonError(f"{path}: invalid thresholds: {problems}") from exc
