"""Portfolio: is the strategy's money being used? Attainment, statuses, waste, what needs attention, every
investment in one sortable table, and the renewal calendar."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk

from dashboards import investment_table as it
from dashboards import links, overrides, renewals, uids, variables
from dashboards.board import board
from dashboards.layout import Row
from dashboards.panels import (
    NEUTRAL,
    Steps,
    bars_panel,
    colour_by_name,
    fields,
    merge_and_organise,
    stat_panel,
    table_panel,
    value_text,
)
from dashboards.query import Query
from metrics.thresholds import Thresholds
from pipeline.domain.rules import TOLERANCE

UID = uids.PORTFOLIO
TITLE = "alignmon / Portfolio"

# Attainment is min(1, adoption / planned) weighted by cost: at 1 - tolerance and above, the
# portfolio is within the tolerance an investment gets before it turns `low`.
ATTAINMENT: Steps = ((None, "red"), (0.7, "orange"), (1 - TOLERANCE, "green"))
# Gap = planned - adoption (positive = behind plan), in points of the target population.
GAP: Steps = ((None, "green"), (0.05, "orange"), (0.10, "red"))
STATUS_COLOURS = {"low": "red", "on_track": "green", "unknown": "purple", "not_started": "blue"}

SCOPE = 'objective=~"$objective", initiative=~"$initiative"'
# Investments needing attention: status low, or the forecast reaches the target too late.
ATTENTION = (
    f'(alignmon_investment_status{{status="low", {SCOPE}}} == 1'
    f" or on (investment) alignmon_investment_at_risk{{{SCOPE}}} == 1)"
)


def _rows(rule: str) -> str:
    """A with_owner recording rule reduced to the table's row labels."""
    return it.rows(f"{rule}{{{SCOPE}}}")


def _attention(rule: str, scale: int = 1) -> str:
    """One value column of the attention table, for the flagged investments only (ratios x 100 = percent)."""
    scaled = f"{_rows(rule)} * {scale}" if scale != 1 else _rows(rule)
    return f"{scaled} and on (investment) {ATTENTION}"


def build(t: Thresholds, runbooks: str) -> sdk.Dashboard:
    """The portfolio dashboard."""
    waste_steps: Steps = ((None, "green"), (t.alerts.waste.min_wasted_spend, "red"))
    attainment = Row(
        "Strategy",
        (
            (
                12,
                bars_panel(
                    "Objective attainment",
                    "Cost-weighted attainment of each business objective: how far its initiatives' investments "
                    "are adopted relative to their plans today (1 = every investment at or above plan).",
                    [Query('alignmon_objective_attainment_ratio{objective=~"$objective"}', "{{objective}}")],
                    unit="percentunit",
                    steps=ATTAINMENT,
                    minimum=0,
                    maximum=1,
                ),
            ),
            (
                12,
                bars_panel(
                    "Initiative attainment",
                    "Cost-weighted min(1, adoption / planned) over the initiative's investments that are on_track "
                    "or low; investments not started or without enough telemetry do not count.",
                    [
                        Query(
                            f"alignmon_initiative_attainment_ratio{{{SCOPE}}}",
                            "{{initiative}} ({{objective}})",
                        )
                    ],
                    unit="percentunit",
                    steps=ATTAINMENT,
                    minimum=0,
                    maximum=1,
                ),
            ),
        ),
        height=8,
    )
    money = Row(
        "Investments",
        (
            (
                8,
                colour_by_name(
                    stat_panel(
                        "Investments by status",
                        "How many investments are on_track, low (below plan beyond the tolerance for the last "
                        "low_days days), unknown (too little telemetry coverage) or not_started.",
                        [Query(f"sum by (status) (alignmon_investment_status{{{SCOPE}}})", "{{status}}")],
                        unit="short",
                        text="value_and_name",
                        decimals=0,
                    ),
                    STATUS_COLOURS,
                ),
            ),
            (
                8,
                (
                    stat_panel(
                        "Wasted spend per currency",
                        "Annualised spend on unused seats of the chosen investments, per currency: "
                        "max(seats - active users, 0) x annual cost / seats, summed; investments without telemetry "
                        "from their target population are left out (no data is not zero use).",
                        [
                            Query(
                                f"sum by (currency) ({it.column('alignmon_investment_wasted_spend', SCOPE)})",
                                "{{currency}}",
                            )
                        ],
                        unit="short",
                        steps=waste_steps,
                        text="value_and_name",
                        decimals=0,
                        links=[links.runbook(runbooks, "LicenceWasteBeforeRenewal")],
                    )
                ),
            ),
            (
                8,
                (
                    stat_panel(
                        "Annual cost per currency",
                        "What the whole portfolio costs a year, per currency (to weigh the wasted spend against).",
                        [Query("currency:alignmon_investment_annual_cost:sum", "{{currency}}")],
                        unit="short",
                        steps=NEUTRAL,
                        text="value_and_name",
                        decimals=0,
                    )
                ),
            ),
        ),
        height=6,
    )
    attention = Row(
        "Needs attention",
        (
            (
                24,
                fields(
                    table_panel(
                        "Low and at-risk investments",
                        "Investments whose status is low or whose adoption forecast reaches the target after the "
                        "target date, with their owner, the status reason, adoption and plan (% of the target "
                        "population), gap to plan (points) and annualised wasted spend. Click a row to drill into "
                        "the investment.",
                        [
                            Query(f"{it.status(SCOPE)} and on (investment) {ATTENTION}", table=True),
                            Query(
                                f"(label_replace({_rows('investment:alignmon_investment_at_risk:with_owner')} == 1, "
                                f'"forecast", "at risk", "", "")'
                                f" or label_replace({_rows('investment:alignmon_investment_at_risk:with_owner')} == 0, "
                                f'"forecast", "on time", "", ""))'
                                f" and on (investment) {ATTENTION}",
                                table=True,
                            ),
                            Query(
                                _attention("investment:alignmon_investment_adoption_ratio:with_owner", 100), table=True
                            ),
                            Query(
                                _attention("investment:alignmon_investment_planned_ratio:with_owner", 100), table=True
                            ),
                            Query(_attention("investment:alignmon_investment_gap_ratio:with_owner", 100), table=True),
                            Query(_attention("investment:alignmon_investment_wasted_spend:with_owner"), table=True),
                        ],
                        unit="short",
                        decimals=1,
                        transformations=merge_and_organise(
                            rename={
                                "investment": "Investment",
                                "name": "Name",
                                "owner": "Owner",
                                "status": "Status",
                                "reason": "Reason",
                                "forecast": "Forecast",
                                "Value #C": "Adoption %",
                                "Value #D": "Planned %",
                                "Value #E": "Gap (points)",
                                "Value #F": "Wasted spend / year",
                                "currency": "Currency",
                            },
                            hide=["Time", "Value #A", "Value #B"],
                        ),
                        links=[
                            links.runbook(runbooks, "AdoptionLow"),
                            links.runbook(runbooks, "AdoptionForecastMissesTarget"),
                        ],
                        data_links=[it.drill_down()],
                    ),
                    {
                        "Gap (points)": overrides.coloured(it.percent(GAP)),
                        "Wasted spend / year": overrides.coloured(waste_steps),
                    },
                ),
            ),
        ),
        height=10,
    )
    return board(
        UID,
        TITLE,
        "Objective and initiative attainment, investment statuses, wasted spend, the investments that need "
        f"attention, every investment in a sortable table, and the renewals of the next {renewals.HORIZON_DAYS} days. "
        "See docs/dashboards.md.",
        rows=[attainment, money, attention, _all_investments(t, runbooks), renewals.row(t, runbooks, SCOPE)],
        variables=[variables.objective(), variables.initiative()],
        runbook_base_url=runbooks,
    )


def _all_investments(t: Thresholds, runbooks: str) -> Row:
    """Every investment in the objective and initiative filters, one row each, sortable by any column."""
    waste_steps: Steps = ((None, "green"), (t.alerts.waste.min_wasted_spend, "red"))
    soon_steps: Steps = ((None, "red"), (t.alerts.waste.renewal_within_days, "green"))
    columns = [
        it.status(SCOPE),
        it.column("alignmon_investment_adoption_ratio", SCOPE, percent=True),
        it.column("alignmon_investment_planned_ratio", SCOPE, percent=True),
        it.column("alignmon_investment_gap_ratio", SCOPE, percent=True),
        it.column("alignmon_investment_coverage_ratio", SCOPE, percent=True),
        it.column("alignmon_investment_licence_utilisation_ratio", SCOPE, percent=True),
        it.column("alignmon_investment_cost_per_active_user", SCOPE),
        it.column("alignmon_investment_wasted_spend", SCOPE),
        it.rows(f"alignmon_investment_renewal_info{{{SCOPE}}} {it.INFO_JOIN}", "renewal_date"),
        renewals.days_until(SCOPE),
    ]
    table = fields(
        table_panel(
            "All investments",
            "Every investment in the chosen objectives and initiatives, one row each: status and its reason, "
            "adoption and plan (% of the target population), gap (points), telemetry coverage, licence "
            "utilisation, annual cost per active user, annualised wasted spend (in the row's currency) and the "
            "renewal. Click a header to sort, a row to drill into the investment. An empty cell is a figure that "
            "does not exist (no data, or not defined), never 0.",
            [Query(expr, table=True) for expr in columns],
            unit="short",
            transformations=merge_and_organise(
                rename={
                    "investment": "Investment",
                    "name": "Name",
                    "owner": "Owner",
                    "status": "Status",
                    "reason": "Reason",
                    "Value #B": "Adoption %",
                    "Value #C": "Planned %",
                    "Value #D": "Gap (points)",
                    "Value #E": "Coverage %",
                    "Value #F": "Utilisation %",
                    "Value #G": "Cost per active user",
                    "Value #H": "Wasted spend / year",
                    "currency": "Currency",
                    "renewal_date": "Renewal",
                    "Value #J": "Renewal in (days)",
                },
                hide=["Time", "Value #A", "Value #I"],
            ),
            links=[
                links.runbook(runbooks, "AdoptionLow"),
                links.runbook(runbooks, "LicenceWasteBeforeRenewal"),
            ],
            data_links=[it.drill_down()],
        ),
        {
            "Status": [overrides.text_colour()],
            "Gap (points)": overrides.coloured(it.percent(GAP)),
            "Coverage %": overrides.coloured(it.percent(it.COVERAGE)),
            "Utilisation %": overrides.coloured(it.percent(it.UTILISATION)),
            "Wasted spend / year": overrides.coloured(waste_steps),
            "Renewal in (days)": overrides.coloured(soon_steps),
        },
    )
    table = table.mappings(value_text({s: (s, c) for s, c in STATUS_COLOURS.items()}))
    return Row("Every investment", ((24, table.sort_by([it.sort("Gap (points)", descending=True)])),), height=12)
