"""The portfolio table, the renewal calendar and the drill-down's new panels, evaluated by Prometheus' own engine.

The panels' expressions, exactly as built, run in `promtool test rules` (with the shipped recording rules) on a
hand-made portfolio whose every figure is known, and each result is compared with the rows counted by hand:
every investment has a row; an absent figure stays absent (never 0); the licence figures of an investment whose
target population sends no telemetry are left out (docs/metrics.md, Data completeness); the calendar holds the
renewals of today up to 180 days from now, with whole days left; the objective filter narrows every column.
"""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.promql import panel_queries, substitute, variable_queries
from metrics.config import rule_files

PROMTOOL = "/usr/bin/promtool"
DAY = 86_400
# promtool's clock starts at 1970-01-01 00:00 UTC; the figures are read at noon of day 20.
NOW_S = 20 * DAY + DAY // 2
EVAL = "20d12h"
SCRAPE = {"job": "alignmon-pipeline", "instance": "pipeline:9708"}
Labels = dict[str, str]


def _day(n: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=n)).isoformat()


# investment -> (objective, initiative, name, owner, currency, status, reason, renewal day or None, figures)
PORTFOLIO: dict[str, tuple[str, str, str, str, str, str, str | None, int | None, dict[str, float]]] = {
    # Low, below plan; renews in 44.5 days (day 65 at midnight): 45 whole days.
    "inv-a": ("obj-ops", "ini-1", "ERP", "Pieter", "EUR", "low", "below_plan", 65, {
        "adoption_ratio": 0.3, "planned_ratio": 0.8, "gap_ratio": 0.5, "coverage_ratio": 1.0,
        "licence_utilisation_ratio": 0.3, "cost_per_active_user": 6818.0, "wasted_spend": 106000.0,
        "seats": 75.0, "annual_cost": 150000.0, "active_users_28d": 22.0,
    }),
    # On track, in another objective and currency; renews in 179.5 days: 180, the calendar's last day.
    "inv-b": ("obj-growth", "ini-2", "CRM", "Maria", "USD", "on_track", None, 200, {
        "adoption_ratio": 0.77, "planned_ratio": 0.76, "gap_ratio": -0.01, "coverage_ratio": 1.0,
        "licence_utilisation_ratio": 0.7, "cost_per_active_user": 1714.0, "wasted_spend": 39600.0,
        "seats": 110.0, "annual_cost": 132000.0, "active_users_28d": 77.0,
    }),
    # No telemetry from its target population (coverage 0): the exporter gives no adoption, active users or
    # figures made from them (test_without_telemetry_no_seat_is_counted_idle). Renews in 149.5 days: 150.
    "inv-c": ("obj-ops", "ini-1", "Zoom", "Eva", "EUR", "unknown", "low_coverage", 170, {
        "planned_ratio": 0.5, "coverage_ratio": 0.0, "seats": 42.0, "annual_cost": 7560.0,
    }),
    # A target population under k: no figure about its use at all; no renewal date.
    "inv-d": ("obj-ops", "ini-1", "Legal DMS", "Tom", "EUR", "unknown", "small_population", None, {
        "planned_ratio": 0.4, "seats": 10.0, "annual_cost": 5000.0,
    }),
    # Not started; renews today (at midnight, 12 hours ago): 0 days.
    "inv-e": ("obj-ops", "ini-1", "Tableau", "Tom", "EUR", "not_started", "before_go_live", 20, {
        "planned_ratio": 0.0, "coverage_ratio": 0.6, "licence_utilisation_ratio": 0.1, "cost_per_active_user": 2000.0,
        "wasted_spend": 9000.0, "seats": 50.0, "annual_cost": 10000.0, "active_users_28d": 5.0,
    }),
    # On track; renews in 180.5 days (181): after the calendar's horizon. Renewed yesterday would be day 19.
    "inv-f": ("obj-growth", "ini-2", "Teams", "Sanne", "USD", "on_track", None, 201, {
        "seats": 200.0, "annual_cost": 19872.0,
    }),
}  # fmt: skip
STATUSES = ("not_started", "unknown", "low", "on_track")
# intervention -> (investment, kind, first day, {verdict: promtool values}): inv-a's training was not estimable until
# day 10 (samples 0 to 19, every 12 hours), an effect from then on; inv-b's mail has one verdict throughout.
INTERVENTIONS: dict[str, tuple[str, str, int, dict[str, str]]] = {
    "a-training": ("inv-a", "training", 12, {"not_estimable": "1x19", "effect": "_x20 1x25"}),
    "b-mail": ("inv-b", "communication", 3, {"no_detectable_effect": "1x45"}),
}


def _series(name: str, labels: Labels, value: float) -> dict[str, str]:
    text = ",".join(f'{k}="{v}"' for k, v in {**labels, **SCRAPE}.items())
    return {"series": f"{name}{{{text}}}", "values": f"{value:g}x45"}


def _input() -> list[dict[str, str]]:
    out = []
    for inv, (obj, ini, name, owner, currency, status, reason, renewal, figures) in PORTFOLIO.items():
        key = {"investment": inv, "initiative": ini, "objective": obj}
        names = {"name": name, "initiative_name": ini, "objective_name": obj}
        info = {**key, **names, "owner": owner, "owner_email": "x@example.org", "currency": currency}
        out.append(_series("alignmon_investment_info", info, 1))
        out += [_series("alignmon_investment_status", {**key, "status": s}, int(s == status)) for s in STATUSES]
        if reason:
            out.append(_series("alignmon_investment_status_reason", {**key, "reason": reason}, 1))
        if renewal is not None:
            out.append(_series("alignmon_investment_renewal_timestamp_seconds", key, renewal * DAY))
            out.append(_series("alignmon_investment_renewal_info", {**key, "renewal_date": _day(renewal)}, 1))
        for figure, value in figures.items():
            if figure == "active_users_28d":
                out.append(_series("alignmon_investment_active_users", {**key, "window": "28d"}, value))
            else:
                out.append(_series(f"alignmon_investment_{figure}", key, value))
    for ident, (inv, kind, first_day, verdicts) in INTERVENTIONS.items():
        key = {"investment": inv, "intervention": ident}
        out.append(_series("alignmon_intervention_start_timestamp_seconds", {**key, "kind": kind}, first_day * DAY))
        for verdict, values in verdicts.items():
            out.append({**_series("alignmon_intervention_verdict", {**key, "verdict": verdict}, 1), "values": values})
    return out


def _row(inv: str) -> Labels:
    """The table's row key of an investment."""
    _obj, _ini, name, owner, currency, *_ = PORTFOLIO[inv]
    return {"investment": inv, "name": name, "owner": owner, "currency": currency}


def _status(inv: str) -> Labels:
    status, reason = PORTFOLIO[inv][5:7]
    return {**_row(inv), "status": status, **({"reason": reason} if reason else {})}


def _renewal(inv: str) -> Labels:
    renewal = PORTFOLIO[inv][7]
    assert renewal is not None
    return {**_row(inv), "renewal_date": _day(renewal)}


def _promtool_label_text(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def evaluate(tmp_path: Path, cases: list[tuple[str, list[tuple[Labels, float]]]]) -> None:
    """Run each expression at NOW in promtool on the hand-made portfolio; fail with promtool's diff if any result
    differs from the expected samples (labels and value; order does not matter)."""
    assert Path(PROMTOOL).exists(), "promtool missing: install the Debian package `prometheus` (make setup)"
    spec = {
        "rule_files": [str(p) for p in rule_files()],
        "evaluation_interval": "12h",
        "tests": [
            {
                "interval": "12h",
                "input_series": _input(),
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": EVAL,
                        "exp_samples": [{"labels": _promtool_label_text(lab), "value": v} for lab, v in samples],
                    }
                    for expr, samples in cases
                ],
            }
        ],
    }
    path = tmp_path / "tables.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _exprs(dashboard: dict[str, Any], panel: str, **values: str) -> dict[str, str]:
    """refId -> expression of a panel, with the dashboard's variables set to `values` (default: All)."""
    chosen = {name: values.get(name, ".*") for name, _ in variable_queries(dashboard)}
    found = {q.ref_id: substitute(q.expr, chosen) for q in panel_queries(dashboard) if q.panel == panel}
    assert found, f"no panel {panel!r}"
    return found


def _columns(table: dict[str, Any]) -> dict[str, str]:
    """refId -> the column name the table shows for its value ('Value #B' renamed), hidden ones left out."""
    organise = table["transformations"][1]["options"]
    return {
        key.removeprefix("Value #"): name
        for key, name in organise["renameByName"].items()
        if key.startswith("Value #") and not organise["excludeByName"].get(key)
    }


def _table(built: dict[str, dict[str, Any]], uid: str, title: str) -> dict[str, Any]:
    return next(p for d in built.values() if d["uid"] == uid for p in d["panels"] if p["title"] == title)


def test_promtool_sees_the_hand_made_portfolio(tmp_path: Path) -> None:
    """The fixture is what the tests below assume: a failing expectation must fail the run."""
    evaluate(tmp_path, [("count(alignmon_investment_info)", [({}, 6)])])
    with pytest.raises(AssertionError, match="exp:"):
        evaluate(tmp_path, [("count(alignmon_investment_info)", [({}, 5)])])


def test_the_portfolio_table_has_every_investment_and_leaves_unknown_figures_empty(
    tmp_path: Path, built: dict[str, dict[str, Any]]
) -> None:
    portfolio = built["alignmon-portfolio.json"]
    exprs = _exprs(portfolio, "All investments")
    columns = _columns(_table(built, "alignmon-portfolio", "All investments"))
    assert columns == {
        "B": "Adoption %",
        "C": "Planned %",
        "D": "Gap (points)",
        "E": "Coverage %",
        "F": "Utilisation %",
        "G": "Cost per active user",
        "H": "Wasted spend / year",
        "J": "Renewal in (days)",
    }
    r = _row
    expected: dict[str, list[tuple[Labels, float]]] = {
        # Every investment, whatever its status: one row each, with its reason unless on track.
        "A": [(_status(inv), 1) for inv in PORTFOLIO],
        "B": [(r("inv-a"), 30), (r("inv-b"), 77)],  # no adoption where there is none: c, d, e, f have no cell
        "C": [(r("inv-a"), 80), (r("inv-b"), 76), (r("inv-c"), 50), (r("inv-d"), 40), (r("inv-e"), 0)],
        "D": [(r("inv-a"), 50), (r("inv-b"), -1)],
        "E": [(r("inv-a"), 100), (r("inv-b"), 100), (r("inv-c"), 0), (r("inv-e"), 60)],
        # inv-c has no data (coverage 0): an empty cell, not 0 % and its whole cost.
        "F": [(r("inv-a"), 30), (r("inv-b"), 70), (r("inv-e"), 10)],
        "G": [(r("inv-a"), 6818), (r("inv-b"), 1714), (r("inv-e"), 2000)],
        "H": [(r("inv-a"), 106000), (r("inv-b"), 39600), (r("inv-e"), 9000)],
        "I": [(_renewal(inv), 1) for inv in ("inv-a", "inv-b", "inv-c", "inv-e", "inv-f")],
        # Whole days to the renewal date; today's renewal is 0, not -0 or -1.
        "J": [(r("inv-a"), 45), (r("inv-b"), 180), (r("inv-c"), 150), (r("inv-e"), 0), (r("inv-f"), 181)],
    }
    assert sorted(exprs) == sorted(expected)
    evaluate(tmp_path, [(exprs[ref], expected[ref]) for ref in sorted(expected)])


def test_every_portfolio_column_follows_the_objective_filter(tmp_path: Path, built: dict[str, dict[str, Any]]) -> None:
    """With objective obj-ops chosen, each column holds exactly that objective's rows (inv-a, c, d, e)."""
    portfolio = built["alignmon-portfolio.json"]
    rows = {
        "All investments": {"A": 4, "B": 1, "C": 4, "D": 1, "E": 3, "F": 2, "G": 2, "H": 2, "I": 3, "J": 3},
        "Renewals in the next 180 days": {"A": 3, "B": 3, "C": 3, "D": 3, "E": 2, "F": 2, "G": 2, "H": 3},
        "Idle-seat spend renewing in 180 days": {"A": 1},  # EUR only: the USD investments are obj-growth's
        "Wasted spend per currency": {"A": 1},
    }
    cases: list[tuple[str, list[tuple[Labels, float]]]] = []
    for title, counts in rows.items():
        exprs = _exprs(portfolio, title, objective="obj-ops")
        assert sorted(exprs) == sorted(counts), title
        for ref, expr in exprs.items():
            cases.append((f"count({expr})", [({}, counts[ref])]))
            if title in ("All investments", "Renewals in the next 180 days"):
                other = f'count({expr} and on (investment) alignmon_investment_info{{objective="obj-growth"}})'
                cases.append((f"{other} or vector(0)", [({}, 0)]))
    evaluate(tmp_path, cases)


def test_the_renewal_calendar_lists_the_next_180_days_with_use_and_idle_spend(
    tmp_path: Path, built: dict[str, dict[str, Any]]
) -> None:
    portfolio = built["alignmon-portfolio.json"]
    calendar = _table(built, "alignmon-portfolio", "Renewals in the next 180 days")
    assert _columns(calendar) == {
        "B": "Renewal in (days)",
        "D": "Seats",
        "E": "Active users (28d)",
        "F": "Utilisation %",
        "G": "Idle-seat spend / year",
        "H": "Annual cost",
    }
    assert calendar["options"]["sortBy"] == [{"displayName": "Renewal in (days)", "desc": False}]  # soonest first
    r = _row
    due = ("inv-a", "inv-b", "inv-c", "inv-e")  # today (e) to 180 days (b); f (181) and d (no date) are not
    expected: dict[str, list[tuple[Labels, float]]] = {
        "A": [(_renewal(inv), 1) for inv in due],
        "B": [(r("inv-a"), 45), (r("inv-b"), 180), (r("inv-c"), 150), (r("inv-e"), 0)],
        "C": [(_status(inv), 1) for inv in due],
        "D": [(r("inv-a"), 75), (r("inv-b"), 110), (r("inv-c"), 42), (r("inv-e"), 50)],
        # inv-c: no telemetry from its target population, so neither its use nor its idle seats are known.
        "E": [(r("inv-a"), 22), (r("inv-b"), 77), (r("inv-e"), 5)],
        "F": [(r("inv-a"), 30), (r("inv-b"), 70), (r("inv-e"), 10)],
        "G": [(r("inv-a"), 106000), (r("inv-b"), 39600), (r("inv-e"), 9000)],
        "H": [(r("inv-a"), 150000), (r("inv-b"), 132000), (r("inv-c"), 7560), (r("inv-e"), 10000)],
    }
    exprs = _exprs(portfolio, "Renewals in the next 180 days")
    assert sorted(exprs) == sorted(expected)
    [total] = _exprs(portfolio, "Idle-seat spend renewing in 180 days").values()
    evaluate(
        tmp_path,
        [
            *[(exprs[ref], expected[ref]) for ref in sorted(expected)],
            # Per currency, never added across currencies; inv-c's unknown idle seats are not counted as idle.
            (total, [({"currency": "EUR"}, 106000 + 9000), ({"currency": "USD"}, 39600)]),
        ],
    )


def test_the_drill_down_shows_the_reason_trend_and_stickiness_and_no_use_without_data(
    tmp_path: Path, built: dict[str, dict[str, Any]]
) -> None:
    investment = built["alignmon-investment.json"]
    scrape = {"__name__": "alignmon_investment_status_reason", **SCRAPE}

    def key(inv: str) -> Labels:
        obj, ini = PORTFOLIO[inv][:2]
        return {"investment": inv, "initiative": ini, "objective": obj}

    def panel(title: str, inv: str) -> str:
        [expr] = _exprs(investment, title, investment=inv).values()
        return expr

    on_track = {"__name__": "alignmon_investment_status", **SCRAPE, **key("inv-b"), "status": "on_track"}
    cases: list[tuple[str, list[tuple[Labels, float]]]] = [
        (panel("Status reason", "inv-a"), [({**scrape, **key("inv-a"), "reason": "below_plan"}, 1)]),
        (panel("Status reason", "inv-d"), [({**scrape, **key("inv-d"), "reason": "small_population"}, 1)]),
        # On track has no reason series: the panel says so rather than showing no data.
        (panel("Status reason", "inv-b"), [({**on_track, "reason": "none (on track)"}, 1)]),
        (panel("Renewal in", "inv-a"), [({**key("inv-a"), **SCRAPE}, 45)]),
        (panel("Renewal in", "inv-e"), [({**key("inv-e"), **SCRAPE}, 0)]),
    ]
    # An investment without telemetry from its target population has no use figures (the exporter gives none): the
    # panels stay empty rather than make one up; those of one with telemetry are shown.
    for title in ("Licence utilisation", "Wasted spend / year", "Active users (1d / 7d / 28d)"):
        cases.append((f"count({panel(title, 'inv-c')}) or vector(0)", [({}, 0)]))
        cases.append((f"count({panel(title, 'inv-a')})", [({}, 1)]))
    cases.append((f"count({panel('Cost per active user', 'inv-a')})", [({}, 1)]))
    evaluate(tmp_path, cases)
    titles = {p["title"] for p in investment["panels"]}
    assert {"Status reason", "Adoption trend", "Stickiness"} <= titles
    trend = next(p for p in investment["panels"] if p["title"] == "Adoption trend")
    steps = [s["value"] for s in trend["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert steps == [None, -0.005]  # the dashed line is AdoptionDeclining's threshold (metrics/thresholds.yml)
    assert trend["targets"][0]["expr"] == 'alignmon_investment_trend_ratio_per_day{investment=~"$investment"}'
    stickiness = next(p for p in investment["panels"] if p["title"] == "Stickiness")
    assert stickiness["targets"][0]["expr"] == 'alignmon_investment_stickiness_ratio{investment=~"$investment"}'


def test_the_intervention_markers_are_the_chosen_investments_in_milliseconds_with_the_verdict_at_the_end(
    tmp_path: Path, built: dict[str, dict[str, Any]]
) -> None:
    """The annotation's expression: per intervention of the chosen investment, its first day in milliseconds (Grafana's
    useValueForTime) and the verdict as of the range's end: over a range in which the verdict changed (a subquery, as
    Grafana's range query sees it) still one series, so one marker, not one per verdict."""
    investment = built["alignmon-investment.json"]
    [annotation] = investment["annotations"]["list"]

    def expr(inv: str) -> str:
        return substitute(annotation["expr"], {"investment": inv})

    a = {"investment": "inv-a", "intervention": "a-training", "kind": "training", **SCRAPE}
    evaluate(
        tmp_path,
        [
            (expr("inv-a"), [({**a, "verdict": "effect"}, 12 * DAY * 1000)]),
            (expr(".*"), [({**a, "verdict": "effect"}, 12 * DAY * 1000), (
                {"investment": "inv-b", "intervention": "b-mail", "kind": "communication", **SCRAPE,
                 "verdict": "no_detectable_effect"}, 3 * DAY * 1000)]),
            # From day 5 to now: before day 10 the verdict was not_estimable, yet the series is the end's only.
            (f"count by (intervention, verdict) (count_over_time(({expr('inv-a')})[15d:12h]))",
             [({"intervention": "a-training", "verdict": "effect"}, 1)]),
            (f"count_over_time(({expr('inv-a')})[15d:12h])", [({**a, "verdict": "effect"}, 31)]),
        ],
    )  # fmt: skip
