"""The one definition of every metric alignmon exports: name, type, help and labels.

The exporter builds its families from this table, the rules and dashboards are checked against
it, and a test fails when docs/metrics.md misses one. Labels are low-cardinality by design:
never users, devices or titles.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from base.sources import OTHER_SOURCE, SOURCES
from pipeline.domain.impact import Verdict

Kind = Literal["gauge", "counter", "summary"]


class MetricDef(NamedTuple):
    name: str  # as exposed; counters end in _total
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()


INVESTMENT = ("investment", "initiative", "objective")

METRICS: tuple[MetricDef, ...] = (
    # investment adoption (docs/metrics.md)
    MetricDef(
        "alignmon_investment_info",
        "gauge",
        "Always 1; carries the names of the investment, its initiative and objective, its owner, owner_email and "
        "currency for joins.",
        (*INVESTMENT, "name", "initiative_name", "objective_name", "owner", "owner_email", "currency"),
    ),
    MetricDef(
        "alignmon_investment_adoption_ratio",
        "gauge",
        "Active users (28-day) in the target population / target population size.",
        INVESTMENT,
    ),
    MetricDef(
        "alignmon_investment_planned_ratio",
        "gauge",
        "Planned adoption ratio today from the investment's plan curve.",
        INVESTMENT,
    ),
    MetricDef(
        "alignmon_investment_gap_ratio",
        "gauge",
        "Planned ratio minus adoption ratio (positive = behind plan).",
        INVESTMENT,
    ),
    MetricDef(
        "alignmon_investment_active_users",
        "gauge",
        "Active users of the investment's applications in the window (1d = DAU, 7d = WAU, 28d = MAU).",
        (*INVESTMENT, "window"),
    ),
    MetricDef(
        "alignmon_investment_target_population",
        "gauge",
        "Users the directory places in the investment's target departments.",
        INVESTMENT,
    ),
    MetricDef(
        "alignmon_investment_coverage_ratio",
        "gauge",
        "Share of the target population with any telemetry in the 28-day window.",
        INVESTMENT,
    ),
    MetricDef(
        "alignmon_investment_licence_utilisation_ratio",
        "gauge",
        "Active users (28-day, anyone) / seats purchased.",
        INVESTMENT,
    ),
    MetricDef("alignmon_investment_seats", "gauge", "Seats purchased.", INVESTMENT),
    MetricDef(
        "alignmon_investment_annual_cost",
        "gauge",
        "Annual cost in the investment's currency (see alignmon_investment_info).",
        INVESTMENT,
    ),
    MetricDef(
        "alignmon_investment_wasted_spend",
        "gauge",
        "Annualised spend on unused seats: max(seats - active, 0) * annual cost / seats.",
        INVESTMENT,
    ),
    MetricDef(
        "alignmon_investment_cost_per_active_user",
        "gauge",
        "Annual cost / active users (28-day); absent when nobody is active.",
        INVESTMENT,
    ),
    MetricDef("alignmon_investment_stickiness_ratio", "gauge", "Mean DAU over the 28-day window / MAU.", INVESTMENT),
    MetricDef(
        "alignmon_investment_trend_ratio_per_day",
        "gauge",
        "Least-squares slope of the daily adoption ratio over the last 28 days.",
        INVESTMENT,
    ),
    MetricDef(
        "alignmon_investment_status",
        "gauge",
        "1 for the investment's current status (not_started, unknown, low, on_track), 0 for the others.",
        (*INVESTMENT, "status"),
    ),
    MetricDef(
        "alignmon_investment_status_reason",
        "gauge",
        "1, with the reason the status is not on_track (before_go_live, no_directory, low_coverage, "
        "insufficient_history, below_plan, small_population); absent when on_track.",
        (*INVESTMENT, "reason"),
    ),
    MetricDef(
        "alignmon_investment_at_risk",
        "gauge",
        "1 when the forecast reaches the target (within the tolerance) after target_date or never, 0 when on time.",
        INVESTMENT,
    ),
    MetricDef(
        "alignmon_investment_forecast_target_timestamp_seconds",
        "gauge",
        "When the fitted adoption curve reaches the target ratio (within the tolerance); absent when it never does.",
        INVESTMENT,
    ),
    MetricDef("alignmon_investment_target_timestamp_seconds", "gauge", "The investment's target date.", INVESTMENT),
    MetricDef(
        "alignmon_investment_renewal_timestamp_seconds", "gauge", "The licence renewal date, when known.", INVESTMENT
    ),
    MetricDef(
        "alignmon_investment_renewal_info",
        "gauge",
        "Always 1 for an investment whose licence renewal date is known; carries that date (YYYY-MM-DD, as in the "
        "catalog) as renewal_date, for tables that list renewals by date.",
        (*INVESTMENT, "renewal_date"),
    ),
    MetricDef(
        "alignmon_department_adoption_ratio",
        "gauge",
        "Adoption ratio per target department; departments under k people, or with too little telemetry "
        "(coverage below min_coverage), are not exported.",
        (*INVESTMENT, "department"),
    ),
    # interventions: catalog data and the estimate's k-safe verdict, for the investment drill-down's annotations
    MetricDef(
        "alignmon_intervention_start_timestamp_seconds",
        "gauge",
        "The first day of each intervention of the catalog's interventions.yaml (its date), as the Unix time of that "
        "day's midnight UTC like the other dates; from the pipeline's intervention_effects table.",
        ("investment", "intervention", "kind"),
    ),
    MetricDef(
        "alignmon_intervention_verdict",
        "gauge",
        "Always 1; carries the verdict of the intervention's estimated effect on its investment's adoption "
        f"({', '.join(Verdict)}; docs/metrics.md, Effect of an intervention).",
        ("investment", "intervention", "verdict"),
    ),
    # strategy roll-ups
    MetricDef(
        "alignmon_initiative_attainment_ratio",
        "gauge",
        "Cost-weighted attainment of the initiative's investments (docs/metrics.md roll-ups).",
        ("initiative", "objective"),
    ),
    MetricDef(
        "alignmon_objective_attainment_ratio",
        "gauge",
        "Weighted attainment of the objective's initiatives.",
        ("objective",),
    ),
    MetricDef(
        "alignmon_shadow_it_active_users",
        "gauge",
        "Active users (28-day) of an application not in the catalog or not sanctioned (>= k users only).",
        ("application",),
    ),
    MetricDef(
        "alignmon_shadow_it_growth_users",
        "gauge",
        "Change in the active users (28-day) of each application of alignmon_shadow_it_active_users over the window "
        "(7d, 28d): its active users as of the as-of day minus as of the window's length before, from the pipeline's "
        "daily history (docs/metrics.md, Shadow IT growth); absent when that earlier day is not known (its 28-day "
        "window not wholly held by the pipeline, or without any telemetry) or its count is between 1 and k - 1.",
        ("application", "window"),
    ),
    MetricDef(
        "alignmon_application_active_users",
        "gauge",
        "Active users (28-day) of each catalogued application (>= k users only).",
        ("application", "capability"),
    ),
    # collectors' health (docs/operations.md, Collectors' health): device counts only, never a device in a label
    MetricDef(
        "alignmon_collector_devices_reporting",
        "gauge",
        "Devices with at least one stored event of the source in the window ending at the as-of day (1d, 7d, 28d), "
        "by source (a device running two collectors counts under each: do not sum them, see "
        "alignmon_collector_fleet_devices_reporting); a source whose devices belong to fewer than k people counts as "
        "other, and a count is not exported when it covers fewer than k people, or when adding and subtracting it with "
        "the other exported counts would single out fewer than k people.",
        ("source", "window"),
    ),
    MetricDef(
        "alignmon_collector_devices_silent",
        "gauge",
        "Devices that reported the source in the 28-day window but sent nothing of it for more than "
        "ALIGNMON_SILENT_DAYS days, by source (k-safe as alignmon_collector_devices_reporting).",
        ("source",),
    ),
    MetricDef(
        "alignmon_collector_fleet_devices_reporting",
        "gauge",
        "Devices with at least one stored event in the window ending at the as-of day (1d, 7d, 28d), whatever the "
        "source: each device once (k-safe as alignmon_collector_devices_reporting).",
        ("window",),
    ),
    MetricDef(
        "alignmon_collector_fleet_devices_silent",
        "gauge",
        "Devices that reported in the 28-day window but sent nothing, from any source, for more than "
        "ALIGNMON_SILENT_DAYS days: each device once (k-safe as alignmon_collector_devices_reporting).",
    ),
    # pipeline health
    MetricDef("alignmon_up", "gauge", "1 if the exporter could read the pipeline's database, else 0."),
    MetricDef(
        "alignmon_events_ingested_total",
        "counter",
        f"Usage events stored, by source and kind; a source other than alignmon's collectors ({', '.join(SOURCES)}) "
        f"and ALIGNMON_EXTRA_SOURCES counts as {OTHER_SOURCE}.",
        ("source", "kind"),
    ),
    MetricDef("alignmon_events_rejected_total", "counter", "Events rejected by the pipeline (dead-lettered)."),
    MetricDef(
        "alignmon_retention_deleted_rows_total",
        "counter",
        "Per-person rows deleted by retention: raw events (table=events), daily rollups (table=usage_user_daily) and "
        "the devices' days (table=device_daily).",
        ("table",),
    ),
    MetricDef(
        "alignmon_retention_last_run_timestamp_seconds",
        "gauge",
        "When retention last ran (at least daily while the pipeline runs); absent before its first run.",
    ),
    MetricDef(
        "alignmon_pipeline_writer",
        "gauge",
        "1 while this pipeline process writes (it runs alone, or holds the writers' lease), 0 while it waits as a "
        "standby (docs/operations.md, Standby pipelines).",
    ),
    MetricDef(
        "alignmon_lake_unwritten_days",
        "gauge",
        "Closed days not yet written to the lake after the last cycle (docs/lake.md); absent without a lake.",
    ),
    MetricDef(
        "alignmon_consumer_lag_records",
        "gauge",
        "Records in Kafka not yet committed to DuckDB, per partition.",
        ("topic", "partition"),
    ),
    MetricDef("alignmon_pipeline_last_commit_timestamp_seconds", "gauge", "When the pipeline last committed."),
    MetricDef(
        "alignmon_pipeline_batch_duration_seconds",
        "summary",
        "Time from validating a batch to its commit (batches overlap: one is validated while the one before commits).",
    ),
    MetricDef("alignmon_pipeline_rollup_duration_seconds", "gauge", "Time the last adoption refresh took."),
    MetricDef(
        "alignmon_pipeline_offsets_out_of_range_total",
        "counter",
        "Stored offsets found outside the topic's retained range (records lost to retention).",
    ),
    MetricDef(
        "alignmon_catalog_valid",
        "gauge",
        "1 if the catalog files as last read are a valid catalog; 0 if not (the last good catalog stays in use) "
        "or none is loaded yet.",
    ),
    MetricDef("alignmon_catalog_load_errors_total", "counter", "Catalog reloads that failed."),
    MetricDef("alignmon_snapshot_age_seconds", "gauge", "Age of the analysts' read-only snapshot."),
    MetricDef("alignmon_exporter_scrape_duration_seconds", "gauge", "Time this scrape took to read DuckDB."),
)

BY_NAME = {m.name: m for m in METRICS}
