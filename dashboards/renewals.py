"""The renewal calendar: licences renewing within HORIZON_DAYS, with their use and idle-seat spend today.

A row of the Portfolio dashboard: the seat count is decided before a renewal, so it lists what renews soon,
soonest first, with today's utilisation and the annualised spend on idle seats the renewal would carry on.
"""

from __future__ import annotations

from dashboards import investment_table as it
from dashboards import links, overrides
from dashboards.layout import Row
from dashboards.panels import Steps, fields, merge_and_organise, stat_panel, table_panel
from dashboards.query import Query
from metrics.thresholds import Thresholds

HORIZON_DAYS = 180
DAYS_UNTIL = "investment:alignmon_investment_renewal:days_until"


def due(scope: str) -> str:
    """Investments renewing from today (days_until > -1: later today counts) to HORIZON_DAYS days from now."""
    return f"({DAYS_UNTIL}{{{scope}}} > -1 <= {HORIZON_DAYS})"


def whole_days(expr: str) -> str:
    """Whole days until a date from fractional days (0 = today): ceil, and `+ 0` turns ceil's -0 into 0."""
    return f"ceil({expr}) + 0"


def days_until(scope: str) -> str:
    """Whole days until each investment's renewal, with the row labels."""
    return whole_days(it.rows(f"{DAYS_UNTIL}{{{scope}}} {it.INFO_JOIN}"))


def row(t: Thresholds, runbooks: str, scope: str) -> Row:
    """The calendar table and the idle-seat spend renewing within the horizon, per currency."""
    waste_steps: Steps = ((None, "green"), (t.alerts.waste.min_wasted_spend, "red"))
    soon_steps: Steps = ((None, "red"), (t.alerts.waste.renewal_within_days, "green"))
    window = due(scope)
    idle = it.column("alignmon_investment_wasted_spend", scope)

    def due_only(expr: str) -> Query:
        return Query(f"{expr} and on (investment) {window}", table=True)

    calendar = fields(
        table_panel(
            f"Renewals in the next {HORIZON_DAYS} days",
            f"Licences renewing within {HORIZON_DAYS} days, soonest first: renewal date, days left, status, seats, "
            "active users in 28 days, licence utilisation and the annualised spend on idle seats today "
            "(max(seats - active users, 0) x annual cost / seats), i.e. what renewing the same seat count carries "
            "on. Empty when not known: no telemetry from the target population is no data, never zero use. Click a "
            "row to drill into the investment.",
            [
                due_only(
                    it.rows(f"alignmon_investment_renewal_info{{{scope}}} {it.INFO_JOIN}", "renewal_date"),
                ),
                due_only(days_until(scope)),
                due_only(it.status(scope)),
                due_only(it.column("alignmon_investment_seats", scope)),
                due_only(it.column("alignmon_investment_active_users", f'window="28d", {scope}')),
                due_only(it.column("alignmon_investment_licence_utilisation_ratio", scope, percent=True)),
                due_only(idle),
                due_only(it.column("alignmon_investment_annual_cost", scope)),
            ],
            unit="short",
            transformations=merge_and_organise(
                rename={
                    "renewal_date": "Renewal",
                    "Value #B": "Renewal in (days)",
                    "investment": "Investment",
                    "name": "Name",
                    "owner": "Owner",
                    "status": "Status",
                    "reason": "Reason",
                    "Value #D": "Seats",
                    "Value #E": "Active users (28d)",
                    "Value #F": "Utilisation %",
                    "Value #G": "Idle-seat spend / year",
                    "Value #H": "Annual cost",
                    "currency": "Currency",
                },
                hide=["Time", "Value #A", "Value #C"],
            ),
            links=[links.runbook(runbooks, "LicenceWasteBeforeRenewal")],
            data_links=[it.drill_down()],
        ),
        {
            "Renewal in (days)": overrides.coloured(soon_steps),
            "Utilisation %": overrides.coloured(it.percent(it.UTILISATION)),
            "Idle-seat spend / year": overrides.coloured(waste_steps),
        },
    ).sort_by([it.sort("Renewal in (days)")])
    total = stat_panel(
        f"Idle-seat spend renewing in {HORIZON_DAYS} days",
        f"Annualised spend on idle seats of the licences renewing within {HORIZON_DAYS} days, per currency: what "
        "renewing them unchanged would spend on seats nobody used in 28 days. Investments without telemetry from "
        "their target population are left out (their idle seats cannot be seen).",
        [Query(f"sum by (currency) ({idle} and on (investment) {window})", "{{currency}}")],
        unit="short",
        steps=waste_steps,
        text="value_and_name",
        decimals=0,
        links=[links.runbook(runbooks, "LicenceWasteBeforeRenewal")],
    )
    return Row("Renewals", ((18, calendar), (6, total)), height=9)
