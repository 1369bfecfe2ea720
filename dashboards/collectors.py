"""Collectors: are the endpoints reporting, which sources went quiet, and does the gateway get their events to Kafka?

Device figures are the pipeline's k-safe counts (pipeline/figures/fleet.py): no panel names a device or a person.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk

from dashboards import links, uids
from dashboards.board import board
from dashboards.layout import Row
from dashboards.panels import NEUTRAL, Steps, stat_panel, timeseries_panel
from dashboards.query import Query
from metrics.rulegen import SILENT_RATIO
from metrics.thresholds import Thresholds

UID = uids.COLLECTORS
TITLE = "alignmon / Collectors"

REACHABLE = {"0": ("unreachable", "red"), "1": ("reachable", "green")}
# Events waiting in the spool are safe but missing from every figure until they reach Kafka.
SPOOL: Steps = ((None, "green"), (1, "orange"))
K_SAFE = (
    " Counts are k-safe: a source whose devices belong to fewer than k people counts as other, and a count is not "
    "exported when it covers fewer than k people or when adding and subtracting it with the others would single out "
    "fewer than k (so an empty panel means none, fewer than k, or left out for that)."
)


def _fleet(window: str) -> str:
    """The fleet's devices of a window: each device once, however many collectors it runs (never a sum over the
    sources' counts, which counts such a device once per source)."""
    return f'max(alignmon_collector_fleet_devices_reporting{{window="{window}"}})'


def build(t: Thresholds, runbooks: str) -> sdk.Dashboard:
    """The collectors' health dashboard."""
    silent = t.alerts.collectors_silent
    silent_steps: Steps = ((None, "green"), (silent.max_silent_ratio, "red"))
    devices = Row(
        "Devices",
        (
            (
                4,
                stat_panel(
                    "Devices reporting today",
                    "Devices with at least one stored event on the as-of day (today in the organisation's time zone), "
                    "from any source, each device once." + K_SAFE,
                    [Query(_fleet("1d"), "today")],
                    unit="short",
                    decimals=0,
                ),
            ),
            (
                4,
                stat_panel(
                    "Devices reporting in 28 days",
                    "Devices with at least one stored event in the 28-day window ending today, from any source, each "
                    "device once: the fleet the collectors cover." + K_SAFE,
                    [Query(_fleet("28d"), "28 days")],
                    unit="short",
                    decimals=0,
                ),
            ),
            (
                4,
                stat_panel(
                    "Silent devices",
                    "Devices that reported in the 28-day window but sent nothing for more than ALIGNMON_SILENT_DAYS "
                    "days (default 7) from any source, each device once. Which ones is personal data: the privacy "
                    "role's view silent_devices." + K_SAFE,
                    [Query("max(alignmon_collector_fleet_devices_silent)", "silent")],
                    unit="short",
                    steps=((None, "green"), (1, "orange")),
                    decimals=0,
                    links=[links.runbook(runbooks, "CollectorsSilent")],
                ),
            ),
            (
                12,
                timeseries_panel(
                    "Silent share by source",
                    "Silent devices / devices that reported in 28 days, per source; CollectorsSilent fires above the "
                    "dashed line." + K_SAFE,
                    [Query(SILENT_RATIO, "{{source}}")],
                    unit="percentunit",
                    steps=silent_steps,
                    threshold_lines=True,
                    minimum=0,
                    maximum=1,
                    links=[links.runbook(runbooks, "CollectorsSilent")],
                ),
            ),
        ),
        height=6,
    )
    sources = Row(
        "Sources",
        (
            (
                12,
                timeseries_panel(
                    "Devices reporting by source",
                    "Devices with a stored event on the day, per source (the agent, the importers, the simulator, "
                    "the site's own collectors): a source whose line drops on a working day stopped on its devices."
                    + K_SAFE,
                    [Query('sum by (source) (alignmon_collector_devices_reporting{window="1d"})', "{{source}}")],
                    unit="short",
                    minimum=0,
                ),
            ),
            (
                12,
                timeseries_panel(
                    "Events stored by source and kind",
                    "Usage events the pipeline stored per second, by source and kind (focus, open, launch). Sources "
                    "other than alignmon's collectors and ALIGNMON_EXTRA_SOURCES are counted as other.",
                    [
                        Query(
                            "sum by (source, kind) (rate(alignmon_events_ingested_total[$__rate_interval]))",
                            "{{source}} / {{kind}}",
                        )
                    ],
                    unit="short",
                    minimum=0,
                ),
            ),
        ),
        height=8,
    )
    gateway = Row(
        "Gateway",
        (
            (
                4,
                stat_panel(
                    "Kafka reachable",
                    "Per gateway: whether Kafka acknowledged its last produce (while it sends nothing, whether a "
                    "bootstrap server answers). Unreachable for 5 minutes is GatewayKafkaUnreachable.",
                    [Query("min by (instance) (alignmon_gateway_kafka_up)", "{{instance}}")],
                    unit="short",
                    mappings=REACHABLE,
                    text="value_and_name",
                    links=[links.runbook(runbooks, "GatewayKafkaUnreachable")],
                ),
            ),
            (
                4,
                stat_panel(
                    "Spool depth",
                    "Per gateway: events in its disk spool waiting for Kafka; safe, but missing from every figure "
                    "until replayed. Growing for 15 minutes is GatewaySpoolGrowing.",
                    [Query("sum by (instance) (alignmon_gateway_spool_events)", "{{instance}}")],
                    unit="short",
                    steps=SPOOL,
                    decimals=0,
                    text="value_and_name",
                    links=[links.runbook(runbooks, "GatewaySpoolGrowing")],
                ),
            ),
            (
                8,
                timeseries_panel(
                    "Gateway requests by status",
                    "HTTP requests the gateways answered per second, by status code: 202 accepted, 400 a batch the "
                    "contract refuses, 401/403 a device token missing, wrong or revoked, 413 too large, 429 rate "
                    "limited, 503 Kafka refusing or the spool failing.",
                    [Query("sum by (code) (rate(alignmon_gateway_http_requests_total[$__rate_interval]))", "{{code}}")],
                    unit="reqps",
                    steps=NEUTRAL,
                    minimum=0,
                ),
            ),
            (
                8,
                timeseries_panel(
                    "Gateway events",
                    "Events per second the gateways accepted (into Kafka or the spool), spooled while Kafka was away, "
                    "replayed from the spool, and rejected by reason (a field the contract refuses, or a device "
                    "sending as another).",
                    [
                        Query("sum(rate(alignmon_gateway_events_accepted_total[$__rate_interval]))", "accepted"),
                        Query("sum(rate(alignmon_gateway_events_spooled_total[$__rate_interval]))", "spooled"),
                        Query("sum(rate(alignmon_gateway_events_replayed_total[$__rate_interval]))", "replayed"),
                        Query(
                            "sum by (reason) (rate(alignmon_gateway_events_rejected_total[$__rate_interval]))",
                            "rejected: {{reason}}",
                        ),
                    ],
                    unit="short",
                    minimum=0,
                    links=[links.runbook(runbooks, "GatewaySpoolGrowing")],
                ),
            ),
        ),
        height=8,
    )
    return board(
        UID,
        TITLE,
        "Are the endpoints reporting, which sources went quiet, and does the gateway get their events to Kafka? "
        "See docs/dashboards.md.",
        rows=[devices, sources, gateway],
        runbook_base_url=runbooks,
        time_from="now-30d",
        refresh="1m",
    )
