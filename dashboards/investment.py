"""Investment detail: one investment's adoption against its plan, status and reason, trend and stickiness, its use,
cost, departments and forecast."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk

from dashboards import datasource, links, renewals, uids, variables
from dashboards import investment_table as it
from dashboards.board import board
from dashboards.layout import Row
from dashboards.panels import (
    NEUTRAL,
    Steps,
    bars_panel,
    colour_by_name,
    stat_panel,
    timeseries_panel,
)
from dashboards.portfolio import GAP, STATUS_COLOURS
from dashboards.query import Query
from metrics.thresholds import Thresholds
from pipeline.domain.rules import TOLERANCE
from pipeline.domain.status import Reason

UID = uids.INVESTMENT
TITLE = "alignmon / Investment detail"

INV = 'investment=~"$investment"'
ON_TRACK_REASON = "none (on track)"
# A reason in the colour of its status: below_plan is low (what AdoptionLow pages for), before_go_live not_started,
# every other reason unknown (telemetry or data are missing first).
_REASON_STATUS = {Reason.BELOW_PLAN: "low", Reason.BEFORE_GO_LIVE: "not_started"}
REASON_COLOURS = {
    **{str(r): STATUS_COLOURS[_REASON_STATUS.get(r, "unknown")] for r in Reason},
    ON_TRACK_REASON: STATUS_COLOURS["on_track"],
}


# One marker per intervention of the investment, at its first day: Grafana reads each series' value as the marker's
# time in milliseconds (useValueForTime). The verdict is the one at the end of the range (`@ end()`), so a verdict
# that changed within the range gives one marker, not one per verdict.
INTERVENTIONS = (
    f"alignmon_intervention_start_timestamp_seconds{{{INV}}} * 1000 "
    "* on (intervention) group_left (verdict) (alignmon_intervention_verdict @ end())"
)


def interventions() -> sdk.AnnotationQuery:
    """The interventions (trainings, communications, ...) of the investment as markers on its time series."""
    return (
        sdk.AnnotationQuery()
        .name("Interventions")
        .datasource(datasource.ref())
        .enable(True)
        .icon_color("orange")
        .expr(INTERVENTIONS)
        .use_value_for_time(True)
        .title_format("{{intervention}} ({{kind}}): {{verdict}}")
        .text_format(
            "{{kind}} for {{investment}}; verdict: {{verdict}} (no_detectable_effect: inconclusive, not 'no effect'; "
            "figures: alignmon impact)"
        )
        .tag_keys("kind,verdict")
    )


def _with_currency(metric: str) -> str:
    """A per-investment money figure with the investment's currency as a label (legend "{{currency}}")."""
    return f"{metric}{{{INV}}} * on (investment) group_left (currency) alignmon_investment_info"


def build(t: Thresholds, runbooks: str) -> sdk.Dashboard:
    """The investment detail dashboard."""
    waste_steps: Steps = ((None, "green"), (t.alerts.waste.min_wasted_spend, "red"))
    renewal_steps: Steps = ((None, "red"), (t.alerts.waste.renewal_within_days, "green"))
    declining = t.alerts.declining.max_trend_ratio_per_day
    adoption = Row(
        "Adoption against plan",
        (
            (
                12,
                timeseries_panel(
                    "Adoption vs plan",
                    "Adoption ratio (active users in 28 days in the target population / its size) against the "
                    "planned ratio of the investment's curve; below the dashed 'low below' line for low_days days "
                    "in a row the status turns low. Days without data are gaps, never 0.",
                    [
                        Query(f"alignmon_investment_adoption_ratio{{{INV}}}", "adoption"),
                        Query(f"alignmon_investment_planned_ratio{{{INV}}}", "planned"),
                        Query(f"alignmon_investment_planned_ratio{{{INV}}} * {1 - TOLERANCE:g}", "low below"),
                    ],
                    unit="percentunit",
                    minimum=0,
                    maximum=1,
                    links=[links.runbook(runbooks, "AdoptionLow")],
                ),
            ),
            (
                4,
                colour_by_name(
                    stat_panel(
                        "Status",
                        "The investment's status today: on_track, low (below plan beyond the tolerance on each of "
                        "the last low_days known days), unknown (adoption cannot be judged; the reason says why) or "
                        "not_started.",
                        [Query(f"alignmon_investment_status{{{INV}}} == 1", "{{status}}")],
                        unit="short",
                        text="name",
                        links=[links.to_dashboard("Portfolio", uids.PORTFOLIO, "${__url_time_range}")],
                    ),
                    STATUS_COLOURS,
                ),
            ),
            (
                4,
                colour_by_name(
                    stat_panel(
                        "Status reason",
                        "Why the status is not on_track: below_plan (low), low_coverage (coverage below "
                        "min_coverage), insufficient_history (below plan without low_days known days), no_directory, "
                        "small_population (target population under k people: adoption not shown) or before_go_live "
                        "(not started); 'none (on track)' when on track.",
                        [
                            Query(
                                f"alignmon_investment_status_reason{{{INV}}} or label_replace("
                                f'alignmon_investment_status{{status="on_track", {INV}}} == 1, '
                                f'"reason", "{ON_TRACK_REASON}", "", "")',
                                "{{reason}}",
                            )
                        ],
                        unit="short",
                        text="name",
                        links=[links.runbook(runbooks, "AdoptionLow")],
                    ),
                    REASON_COLOURS,
                ),
            ),
            (
                4,
                stat_panel(
                    "Gap to plan",
                    "Planned ratio minus adoption ratio: positive means behind plan, in shares of the target "
                    "population.",
                    [Query(f"alignmon_investment_gap_ratio{{{INV}}}", "gap")],
                    unit="percentunit",
                    steps=GAP,
                ),
            ),
        ),
        height=9,
    )
    momentum = Row(
        "Trend and stickiness",
        (
            (
                12,
                timeseries_panel(
                    "Adoption trend",
                    "Least-squares slope of the daily adoption ratio over the known days of the last 28 days, in "
                    "shares of the target population per day; below the dashed line (AdoptionDeclining's "
                    "threshold) for long enough, AdoptionDeclining fires. A gap: too few known days.",
                    [Query(f"alignmon_investment_trend_ratio_per_day{{{INV}}}", "trend per day")],
                    unit="percentunit",
                    steps=((None, "red"), (declining, "green")),
                    threshold_lines=True,
                    links=[links.runbook(runbooks, "AdoptionDeclining")],
                ),
            ),
            (
                12,
                timeseries_panel(
                    "Stickiness",
                    "Mean DAU over the 28-day window / MAU (people using any of its applications): how many "
                    "of the month's users use it on a given day. Falling stickiness with a steady MAU means "
                    "occasional use.",
                    [Query(f"alignmon_investment_stickiness_ratio{{{INV}}}", "DAU / MAU")],
                    unit="percentunit",
                    minimum=0,
                    maximum=1,
                    links=[links.runbook(runbooks, "AdoptionDeclining")],
                ),
            ),
        ),
        height=8,
    )
    use = Row(
        "Use and cost",
        (
            (
                8,
                timeseries_panel(
                    "Active users (1d / 7d / 28d)",
                    "People active on any of the investment's applications (at least min_minutes of focus time "
                    "on a day) on the as-of day (1d = DAU), in its 7-day window (WAU) and in its 28-day window (MAU); "
                    "a gap while the target population sends no telemetry.",
                    [Query(f"alignmon_investment_active_users{{{INV}}}", "{{window}}")],
                    unit="short",
                    minimum=0,
                ),
            ),
            (
                4,
                stat_panel(
                    "Coverage",
                    "Share of the target population with any telemetry in 28 days; below min_coverage adoption "
                    "is unknown, not low.",
                    [Query(f"alignmon_investment_coverage_ratio{{{INV}}}", "coverage")],
                    unit="percentunit",
                    steps=it.COVERAGE,
                ),
            ),
            (
                4,
                stat_panel(
                    "Licence utilisation",
                    "Active users in 28 days (anyone) / seats purchased; empty while the target population sends "
                    "no telemetry.",
                    [Query(f"alignmon_investment_licence_utilisation_ratio{{{INV}}}", "utilisation")],
                    unit="percentunit",
                    steps=it.UTILISATION,
                ),
            ),
            (
                4,
                (
                    stat_panel(
                        "Cost per active user",
                        "Annual cost / active users in 28 days, in the investment's currency; empty when nobody "
                        "is active.",
                        [Query(_with_currency("alignmon_investment_cost_per_active_user"), "{{currency}}")],
                        unit="short",
                        steps=NEUTRAL,
                        decimals=0,
                    )
                ),
            ),
            (
                4,
                (
                    stat_panel(
                        "Wasted spend / year",
                        "max(seats - active users, 0) x annual cost / seats, in the investment's currency.",
                        [Query(_with_currency("alignmon_investment_wasted_spend"), "{{currency}}")],
                        unit="short",
                        steps=waste_steps,
                        decimals=0,
                        links=[links.runbook(runbooks, "LicenceWasteBeforeRenewal")],
                    )
                ),
            ),
        ),
        height=7,
    )
    outlook = Row(
        "Departments and forecast",
        (
            (
                12,
                bars_panel(
                    "Adoption by department (k-safe)",
                    "Adoption ratio per target department; departments with fewer than k people are never "
                    "exported, so they do not appear here.",
                    [
                        Query(
                            f'alignmon_department_adoption_ratio{{{INV}, department=~"$department"}}',
                            "{{department}}",
                        )
                    ],
                    unit="percentunit",
                    minimum=0,
                    maximum=1,
                ),
            ),
            (
                6,
                stat_panel(
                    "Forecast target date",
                    "When the logistic curve fitted to the adoption since go-live reaches the target ratio "
                    "(forecast), next to the investment's target date; no forecast when the fit never reaches it.",
                    [
                        Query(f"alignmon_investment_forecast_target_timestamp_seconds{{{INV}}} * 1000", "forecast"),
                        Query(f"alignmon_investment_target_timestamp_seconds{{{INV}}} * 1000", "target"),
                    ],
                    unit="time:YYYY-MM-DD",
                    text="value_and_name",
                ),
            ),
            (
                3,
                stat_panel(
                    "Forecast",
                    "at risk when the forecast reaches the target after the target date, or never.",
                    [Query(f"alignmon_investment_at_risk{{{INV}}}", "forecast")],
                    unit="short",
                    mappings={"0": ("on time", "green"), "1": ("at risk", "red")},
                    links=[links.runbook(runbooks, "AdoptionForecastMissesTarget")],
                ),
            ),
            (
                3,
                stat_panel(
                    "Renewal in",
                    "Days until the licence renews (0 = today); act on wasted spend before then.",
                    [Query(renewals.whole_days(f"{renewals.DAYS_UNTIL}{{{INV}}}"), "renewal")],
                    unit="d",
                    steps=renewal_steps,
                    decimals=0,
                ),
            ),
        ),
        height=7,
    )
    return board(
        UID,
        TITLE,
        "One investment: adoption against its plan curve, status and its reason, trend and stickiness, active "
        "users, coverage, licence use and cost, k-safe department breakdown and forecast. See docs/dashboards.md.",
        rows=[adoption, momentum, use, outlook],
        variables=[variables.objective(), variables.initiative(), variables.investment(), variables.department()],
        annotations=[interventions()],
        runbook_base_url=runbooks,
    )
