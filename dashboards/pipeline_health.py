"""Pipeline health: is the data behind every other dashboard flowing and fresh?"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk

from dashboards import links, uids
from dashboards.board import board
from dashboards.layout import Row
from dashboards.panels import NEUTRAL, Steps, stat_panel, timeseries_panel
from dashboards.query import Query
from metrics.thresholds import Thresholds, seconds

UID = uids.PIPELINE
TITLE = "alignmon / Pipeline health"

UP = {"0": ("down", "red"), "1": ("up", "green")}
# The snapshot is republished every snapshot_interval_s (30 s by default): minutes old means it is stuck.
SNAPSHOT_AGE: Steps = ((None, "green"), (600, "orange"), (3600, "red"))


def build(t: Thresholds, runbooks: str) -> sdk.Dashboard:
    """The pipeline health dashboard."""
    a = t.alerts
    runbook = runbooks
    commit_steps: Steps = (
        (None, "green"),
        (seconds(a.stalled.max_commit_age_with_lag), "orange"),
        (seconds(a.stalled.max_commit_age), "red"),
    )
    lag_steps: Steps = ((None, "green"), (a.lag.max_lag_records, "red"))
    status = Row(
        "Now",
        (
            (
                4,
                stat_panel(
                    "Exporter up",
                    "scrape: Prometheus reached the pipeline's /metrics; database: the exporter could read DuckDB.",
                    [
                        Query(f'up{{job="{t.pipeline_job}"}}', "scrape"),
                        Query("alignmon_up", "database"),
                    ],
                    unit="short",
                    mappings=UP,
                    text="value_and_name",
                    links=[links.runbook(runbook, "ExporterDown")],
                ),
            ),
            (
                4,
                stat_panel(
                    "Last commit age",
                    "Time since the pipeline last committed events to DuckDB (orange/red at the PipelineStalled "
                    "thresholds).",
                    [Query("job:alignmon_pipeline_last_commit:age_seconds", "{{job}}")],
                    unit="s",
                    steps=commit_steps,
                    links=[links.runbook(runbook, "PipelineStalled")],
                ),
            ),
            (
                4,
                stat_panel(
                    "Consumer lag",
                    "Records in Kafka not yet committed to DuckDB, all partitions.",
                    [Query("job:alignmon_consumer_lag_records:sum", "{{job}}")],
                    unit="short",
                    steps=lag_steps,
                    decimals=0,
                    links=[links.runbook(runbook, "ConsumerLagHigh")],
                ),
            ),
            (
                4,
                stat_panel(
                    "Snapshot age",
                    "Age of the analysts' read-only DuckDB snapshot.",
                    [Query("alignmon_snapshot_age_seconds", "snapshot")],
                    unit="s",
                    steps=SNAPSHOT_AGE,
                ),
            ),
            (
                4,
                stat_panel(
                    "Offsets lost to retention",
                    "Times the pipeline found its stored Kafka offset already deleted by retention: those records "
                    "were never stored.",
                    [Query("alignmon_pipeline_offsets_out_of_range_total", "lost")],
                    unit="short",
                    steps=((None, "green"), (1, "red")),
                    decimals=0,
                ),
            ),
            (
                4,
                stat_panel(
                    "Events stored",
                    "Usage events stored in DuckDB since the database was created.",
                    [Query("sum(alignmon_events_ingested_total)", "events")],
                    unit="short",
                    steps=NEUTRAL,
                ),
            ),
        ),
        height=5,
    )
    flow = Row(
        "Flow",
        (
            (
                12,
                timeseries_panel(
                    "Events ingested per second",
                    "Usage events stored per second, by source (collector, importer, simulator).",
                    [Query("sum by (source) (rate(alignmon_events_ingested_total[$__rate_interval]))", "{{source}}")],
                    unit="short",
                    minimum=0,
                ),
            ),
            (
                6,
                timeseries_panel(
                    "Rejected events per second",
                    "Events the pipeline dead-lettered per second (5-minute rate).",
                    [Query("job:alignmon_events_rejected:rate5m", "{{job}}")],
                    unit="short",
                    minimum=0,
                    links=[links.runbook(runbook, "RejectedEventRateHigh")],
                ),
            ),
            (
                6,
                timeseries_panel(
                    "Rejected share",
                    "Rejected / (rejected + stored) events over 5 minutes; RejectedEventRateHigh above the dashed "
                    "line.",
                    [Query("job:alignmon_events_rejected:ratio_rate5m", "{{job}}")],
                    unit="percentunit",
                    steps=((None, "green"), (a.rejected.max_rejected_ratio, "red")),
                    threshold_lines=True,
                    minimum=0,
                    links=[links.runbook(runbook, "RejectedEventRateHigh")],
                ),
            ),
        ),
        height=8,
    )
    timing = Row(
        "Lag and timing",
        (
            (
                8,
                timeseries_panel(
                    "Consumer lag by partition",
                    "Records waiting in Kafka per topic partition; ConsumerLagHigh above the dashed line (sum).",
                    [Query("sum by (topic, partition) (alignmon_consumer_lag_records)", "{{topic}} / {{partition}}")],
                    unit="short",
                    steps=lag_steps,
                    threshold_lines=True,
                    minimum=0,
                    links=[links.runbook(runbook, "ConsumerLagHigh")],
                ),
            ),
            (
                8,
                timeseries_panel(
                    "Batch duration",
                    "Mean time to validate and commit one batch of events (from the summary's sum and count).",
                    [
                        Query(
                            "rate(alignmon_pipeline_batch_duration_seconds_sum[$__rate_interval])"
                            " / rate(alignmon_pipeline_batch_duration_seconds_count[$__rate_interval])",
                            "mean per batch",
                        )
                    ],
                    unit="s",
                    minimum=0,
                ),
            ),
            (
                8,
                timeseries_panel(
                    "Refresh and scrape duration",
                    "How long the last adoption refresh took, and how long the exporter needs to read DuckDB "
                    "per scrape.",
                    [
                        Query("alignmon_pipeline_rollup_duration_seconds", "adoption refresh"),
                        Query("alignmon_exporter_scrape_duration_seconds", "exporter scrape"),
                    ],
                    unit="s",
                    minimum=0,
                ),
            ),
        ),
        height=8,
    )
    return board(
        UID,
        TITLE,
        "Is the pipeline up, ingesting, keeping up with Kafka and publishing fresh figures? See docs/dashboards.md.",
        rows=[status, flow, timing],
        runbook_base_url=runbook,
        time_from="now-6h",
        refresh="1m",
    )
