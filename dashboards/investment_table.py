"""Tables with one row per investment: the row key every query keeps, the columns, the drill-down link.

Grafana's merge transformation joins a table's instant queries into rows on the labels they share, so every
query here is reduced to the same row labels; a query with no series for an investment leaves its cell empty
(an absent figure is never shown as 0, docs/metrics.md).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common
from grafana_foundation_sdk.builders import dashboard as sdk

from dashboards import links, uids
from dashboards.panels import Steps
from pipeline.domain.rules import MIN_COVERAGE

# The row key: every query keeps exactly these labels (plus its own label columns, such as status).
ROW_LABELS = "investment, name, owner, currency"
INFO_JOIN = "* on (investment) group_left (name, owner, currency) alignmon_investment_info"
# Below min_coverage the status is `unknown`, never `low` (docs/metrics.md): missing data is not non-use.
COVERAGE: Steps = ((None, "red"), (MIN_COVERAGE, "green"))
# Display bands for licence utilisation: seats bought but unused are the wasted spend.
UTILISATION: Steps = ((None, "red"), (0.5, "orange"), (0.8, "green"))


def percent(steps: Steps) -> Steps:
    """Ratio threshold steps for a column shown in percent."""
    return [(v if v is None else round(v * 100, 6), c) for v, c in steps]


def rows(expr: str, *labels: str) -> str:
    """Any per-investment expression reduced to the row labels (and `labels`, label columns of its own)."""
    return f"max by ({', '.join([ROW_LABELS, *labels])}) ({expr})"


def column(metric: str, scope: str, *, percent: bool = False) -> str:
    """One value column: a per-investment metric with the row labels joined in from alignmon_investment_info;
    `percent` shows a ratio as percent (one decimal). A figure the pipeline leaves out (no data, a population under
    k) is an empty cell."""
    expr = rows(f"{metric}{{{scope}}} {INFO_JOIN}")
    return f"round(({expr}) * 100, 0.1)" if percent else expr


def status(scope: str) -> str:
    """The current status of every investment (value 1), with its reason as a label where it has one."""
    current = f"(investment:alignmon_investment_status:with_owner{{{scope}}} == 1)"
    return rows(
        f"{current} * on (investment) group_left (reason) alignmon_investment_status_reason"
        f" or {current} unless on (investment) alignmon_investment_status_reason",
        "status",
        "reason",
    )


def drill_down() -> sdk.DashboardLink:
    """A click on a row opens that investment in Investment detail, keeping the time range."""
    return links.to_dashboard(
        "Investment detail",
        uids.INVESTMENT,
        'var-investment=${__data.fields["Investment"]}&${__url_time_range}',
    )


def sort(column: str, *, descending: bool = False) -> common.TableSortByFieldState:
    """The table's initial order, by a column's display name (a click on any header sorts by that column)."""
    return common.TableSortByFieldState().display_name(column).desc(descending)
