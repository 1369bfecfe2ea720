"""Applications: use by capability, shadow IT, overlapping tools and a legacy application's displacement."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk

from dashboards import links, uids, variables
from dashboards.board import board
from dashboards.layout import Row
from dashboards.panels import (
    Steps,
    bars_panel,
    merge_and_organise,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from dashboards.query import Query
from metrics.thresholds import Thresholds

UID = uids.APPLICATIONS
TITLE = "alignmon / Applications"

CAP = 'capability=~"$capability"'
# The demo fleet's legacy story (Teams displacing Skype for Business); pick any pair in the drop-downs.
DEFAULT_LEGACY = "skype_business"
DEFAULT_REPLACEMENT = "teams"
LEGACY = 'application=~"$legacy"'
REPLACEMENT = 'application=~"$replacement"'


def _users(selector: str) -> str:
    """Active users (28 days) of the applications matching `selector`, 0 when none is exported (under k)."""
    return f"(sum(alignmon_application_active_users{{{selector}}}) or vector(0))"


def build(t: Thresholds, runbooks: str) -> sdk.Dashboard:
    """The applications dashboard."""
    shadow = t.alerts.shadow_it
    shadow_steps: Steps = ((None, "orange"), (shadow.min_active_users, "red"))
    growth_steps: Steps = ((None, "green"), (shadow.min_growth_users, "red"))
    use = Row(
        "Use by capability",
        (
            (
                12,
                bars_panel(
                    "Active users by capability",
                    "People active in 28 days on the catalogued applications of each capability (a person using "
                    "two applications of one capability counts twice); applications under k users are not "
                    "exported.",
                    [Query(f"sum by (capability) (alignmon_application_active_users{{{CAP}}})", "{{capability}}")],
                    unit="short",
                    minimum=0,
                ),
            ),
            (
                12,
                timeseries_panel(
                    "Active users by application",
                    "Active users in 28 days of each catalogued application with at least k users.",
                    [Query(f"alignmon_application_active_users{{{CAP}}}", "{{application}}")],
                    unit="short",
                    minimum=0,
                ),
            ),
        ),
        height=9,
    )
    shadow_it = Row(
        "Shadow IT",
        (
            (
                12,
                bars_panel(
                    "Shadow IT: active users",
                    "Applications not in the catalog, or in it but not sanctioned, used actively by at least k "
                    "people in 28 days. Red from the ShadowITSpreading threshold.",
                    [Query("alignmon_shadow_it_active_users", "{{application}}")],
                    unit="short",
                    steps=shadow_steps,
                    minimum=0,
                    links=[links.runbook(runbooks, "ShadowITSpreading")],
                ),
            ),
            (
                12,
                timeseries_panel(
                    f"Shadow IT growth over {shadow.growth_days} days",
                    f"Change in each shadow application's active users over the last {shadow.growth_days} days, "
                    "counted by the pipeline from its own daily history (none while that history is too short); "
                    "above the dashed line (and with enough users) ShadowITSpreading fires.",
                    [Query(f'alignmon_shadow_it_growth_users{{window="{shadow.growth_days}d"}}', "{{application}}")],
                    unit="short",
                    steps=growth_steps,
                    threshold_lines=True,
                    links=[links.runbook(runbooks, "ShadowITSpreading")],
                ),
            ),
        ),
        height=8,
    )
    overlap = Row(
        "Overlap and replacement",
        (
            (
                8,
                table_panel(
                    "Overlapping applications",
                    "Capabilities served by two or more catalogued applications that each have at least k active "
                    "users: candidates to consolidate (per-department overlap is in DuckDB's views).",
                    [
                        Query(
                            f"max by (capability, application) (alignmon_application_active_users{{{CAP}}})"
                            " and on (capability) (count by (capability) (alignmon_application_active_users) >= 2)",
                            table=True,
                        )
                    ],
                    unit="short",
                    decimals=0,
                    transformations=merge_and_organise(
                        rename={"capability": "Capability", "application": "Application", "Value": "Active users"},
                        hide=["Time"],
                    ),
                ),
            ),
            (
                12,
                timeseries_panel(
                    "Legacy application vs its replacement",
                    "Active users in 28 days of a legacy application ($legacy) and the application replacing it "
                    "($replacement) on one time axis: the lines should cross as the replacement takes over.",
                    [
                        Query(f"alignmon_application_active_users{{{LEGACY}}}", "{{application}} (legacy)"),
                        Query(f"alignmon_application_active_users{{{REPLACEMENT}}}", "{{application}} (replacement)"),
                    ],
                    unit="short",
                    minimum=0,
                ),
            ),
            (
                4,
                stat_panel(
                    "Replacement share",
                    "The replacement's share of the two applications' active users; towards 100% as the legacy "
                    "application is retired.",
                    [
                        Query(
                            f"{_users(REPLACEMENT)} / ({_users(LEGACY)} + {_users(REPLACEMENT)})",
                            "share",
                        )
                    ],
                    unit="percentunit",
                    steps=((None, "orange"), (0.9, "green")),
                ),
            ),
        ),
        height=8,
    )
    return board(
        UID,
        TITLE,
        "Application use by capability, shadow IT, overlapping applications and a legacy application being "
        "displaced. See docs/dashboards.md.",
        rows=[use, shadow_it, overlap],
        variables=[
            variables.capability(),
            variables.application("legacy", "Legacy application", DEFAULT_LEGACY),
            variables.application("replacement", "Replacement", DEFAULT_REPLACEMENT),
        ],
        runbook_base_url=runbooks,
    )
