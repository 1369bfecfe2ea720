"""Adoption refresh: catalog and directory into DuckDB, daily adoption series, current figures.

The heavy counting (distinct users over sliding windows) is SQL over the incremental
`usage_user_daily` rollup; the rules of METRICS.md (plan curve, status with hysteresis, forecast,
trend, attainment, k-anonymity) are the pure functions of `pipeline.domain`, applied per investment.
Only days from the earliest day touched by new data are recomputed, so a refresh costs what the
new data costs, not what the history costs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.catalog import Catalog
from pipeline.domain import adoption as fig
from pipeline.domain.attainment import InitiativeResult, InvestmentResult, initiative_attainment, objective_attainment
from pipeline.domain.forecast import ForecastOutcome, forecast
from pipeline.domain.plan import Plan
from pipeline.domain.privacy import K_ANONYMITY
from pipeline.domain.status import Status, status

log = logging.getLogger(__name__)

MAX_BACKFILL_DAYS = 400  # how far back a first refresh computes the daily series

_ACTIVE = """
CREATE OR REPLACE TEMP TABLE inv_active AS
SELECT DISTINCT investment, "user", day FROM (
    SELECT ia.investment, ia.application, u."user", u.day
    FROM usage_user_daily u
    JOIN app_map m USING (app)
    JOIN investment_apps ia ON ia.application = m.application
    WHERE u.day BETWEEN $first - 27 AND $last
    GROUP BY ALL
    HAVING sum(u.focus_s) >= any_value(ia.min_s)
)
"""

# Everyone is in exactly one department, so population, coverage and target-population activity are
# counted per department and summed over an investment's target departments (inv_targets): the
# cost follows departments x days, not investments x people x days.
_DAILY = """
INSERT INTO adoption_series
WITH days AS (SELECT d::DATE AS day FROM range($first::TIMESTAMP, ($last + 1)::TIMESTAMP, INTERVAL 1 DAY) r(d)),
users AS (
    SELECT i.investment, d.day,
           count(DISTINCT a."user") FILTER (WHERE a.day = d.day) AS dau,
           count(DISTINCT a."user") FILTER (WHERE a.day > d.day - 7) AS wau,
           count(DISTINCT a."user") AS mau,
           count(DISTINCT a."user") FILTER (WHERE t.department IS NOT NULL) AS mau_target
    FROM catalog_investments i CROSS JOIN days d
    LEFT JOIN inv_active a ON a.investment = i.investment AND a.day BETWEEN d.day - 27 AND d.day
    LEFT JOIN directory u ON u."user" = a."user"
    LEFT JOIN inv_targets t ON t.investment = i.investment AND t.department = u.department
    GROUP BY ALL
),
reporting_by_department AS (
    SELECT u.department, d.day, count(DISTINCT r."user") AS reporting
    FROM days d
    JOIN (SELECT DISTINCT "user", day FROM usage_user_daily WHERE day BETWEEN $first - 27 AND $last) r
      ON r.day BETWEEN d.day - 27 AND d.day
    JOIN directory u ON u."user" = r."user"
    GROUP BY ALL
),
reporting AS (
    SELECT t.investment, r.day, sum(r.reporting) AS reporting
    FROM inv_targets t JOIN reporting_by_department r USING (department)
    GROUP BY ALL
),
population AS (
    SELECT t.investment, count(*) AS population
    FROM inv_targets t JOIN directory u USING (department)
    GROUP BY ALL
)
SELECT u.day, u.investment, u.dau, u.wau, u.mau, u.mau_target, p.population, coalesce(r.reporting, 0) AS reporting
FROM users u
LEFT JOIN population p USING (investment)
LEFT JOIN reporting r USING (investment, day)
"""

_DEPARTMENTS = """
INSERT INTO department_adoption
SELECT t.investment, t.department, dep.population, count(DISTINCT a."user") AS active_users,
       count(DISTINCT a."user") / dep.population AS adoption_ratio
FROM inv_targets t
JOIN (SELECT department, count(*) AS population FROM directory GROUP BY ALL) dep USING (department)
LEFT JOIN directory u ON u.department = t.department
LEFT JOIN inv_active a ON a.investment = t.investment AND a."user" = u."user" AND a.day BETWEEN $last - 27 AND $last
WHERE dep.population >= $k
GROUP BY t.investment, t.department, dep.population
"""

_APPLICATIONS = """
INSERT INTO application_activity
WITH daily AS (
    SELECT u."user", coalesce(m.application, u.app) AS application, m.application IS NOT NULL AS in_catalog,
           u.day, sum(u.focus_s) AS focus_s
    FROM usage_user_daily u LEFT JOIN app_map m USING (app)
    WHERE u.day BETWEEN $last - 27 AND $last
    GROUP BY ALL
)
SELECT d.application, d.in_catalog, coalesce(a.sanctioned, false), a.capability, count(DISTINCT d."user")
FROM daily d LEFT JOIN catalog_applications a USING (application)
WHERE d.focus_s >= coalesce(a.min_s, 300)
GROUP BY ALL
"""


@dataclass(frozen=True)
class InvestmentFigures:
    """Every METRICS.md figure of one investment as of one day (one row of adoption_current)."""

    as_of: date
    investment: str
    name: str
    initiative: str | None
    objective: str | None
    owner: str
    owner_email: str
    currency: str
    annual_cost: float
    seats: int | None
    population: int | None
    dau: int
    wau: int
    mau: int
    active_target: int
    adoption_ratio: float | None
    coverage: float | None
    licence_utilisation: float | None
    wasted_spend: float | None
    cost_per_active_user: float | None
    stickiness: float | None
    trend: float | None
    planned_ratio: float | None
    gap: float | None
    status: str
    forecast: str
    forecast_date: date | None
    at_risk: bool | None
    target_ratio: float
    target_date: date
    go_live: date
    renewal_date: date | None


def sync_catalog(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Write the catalog and the directory into DuckDB tables and rebuild the derived series.

    Called when the catalog changes; the daily series is rebuilt because every figure in it
    depends on the catalog (apps, thresholds, target departments).
    """
    apps = [
        {
            "application": a.id,
            "name": a.name,
            "vendor": a.vendor,
            "capability": a.capability,
            "sanctioned": a.sanctioned,
            "min_s": a.min_minutes * 60,
            "replaces": a.replaces,
        }
        for a in catalog.applications.values()
    ]
    invs, inv_apps, inv_depts = [], [], []
    for placed in catalog.investments.values():
        inv = placed.investment
        invs.append(
            {
                "investment": inv.id,
                "name": inv.label,
                "initiative": placed.initiative_id,
                "objective": placed.objective_id,
                "owner": inv.owner.name,
                "owner_email": str(inv.owner.email),
                "currency": inv.currency,
                "annual_cost": float(inv.annual_cost),
                "seats": inv.seats,
                "go_live": inv.go_live,
                "target_ratio": inv.target_ratio,
                "target_date": inv.target_date,
                "curve": inv.curve,
                "renewal_date": inv.renewal_date,
                "tolerance": inv.tolerance,
                "low_days": inv.low_days,
                "min_coverage": inv.min_coverage,
            }
        )
        for app in inv.applications:
            inv_apps.append({"investment": inv.id, "application": app, "min_s": catalog.min_minutes(app, inv.id) * 60})
        for dept in inv.target_departments or []:
            inv_depts.append({"investment": inv.id, "department": dept})
    directory = catalog.directory
    members = [{"user": u, "department": d} for u, d in directory.members.items()] if directory else []
    con.execute("BEGIN")
    try:
        _replace(
            con,
            "catalog_applications",
            apps,
            {
                "application": pa.string(),
                "name": pa.string(),
                "vendor": pa.string(),
                "capability": pa.string(),
                "sanctioned": pa.bool_(),
                "min_s": pa.float64(),
                "replaces": pa.string(),
            },
        )
        _replace(
            con,
            "catalog_investments",
            invs,
            {
                "investment": pa.string(),
                "name": pa.string(),
                "initiative": pa.string(),
                "objective": pa.string(),
                "owner": pa.string(),
                "owner_email": pa.string(),
                "currency": pa.string(),
                "annual_cost": pa.float64(),
                "seats": pa.int64(),
                "go_live": pa.date32(),
                "target_ratio": pa.float64(),
                "target_date": pa.date32(),
                "curve": pa.string(),
                "renewal_date": pa.date32(),
                "tolerance": pa.float64(),
                "low_days": pa.int32(),
                "min_coverage": pa.float64(),
            },
        )
        _replace(
            con,
            "investment_apps",
            inv_apps,
            {"investment": pa.string(), "application": pa.string(), "min_s": pa.float64()},
        )
        _replace(con, "investment_departments", inv_depts, {"investment": pa.string(), "department": pa.string()})
        _replace(con, "directory", members, {"user": pa.string(), "department": pa.string()})
        # An investment without target departments targets the whole directory.
        con.execute("DELETE FROM inv_targets")
        con.execute("""
            INSERT INTO inv_targets
            SELECT investment, department FROM investment_departments
            UNION
            SELECT i.investment, d.department FROM catalog_investments i, (SELECT DISTINCT department FROM directory) d
            WHERE NOT EXISTS (SELECT 1 FROM investment_departments x WHERE x.investment = i.investment)
        """)
        con.execute("DELETE FROM app_map")
        con.execute("DELETE FROM adoption_series")
        con.execute(
            "UPDATE refresh_state SET dirty_from = (SELECT min(day) FROM usage_user_daily), has_directory = ?",
            [directory is not None],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    map_new_apps(con, catalog)


def map_new_apps(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> int:
    """Resolve raw identifiers not seen before to catalog applications (NULL when none matches)."""
    new = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT app FROM usage_user_daily WHERE app NOT IN (SELECT app FROM app_map)"
        ).fetchall()
    ]
    if new:
        rows = pa.table({"app": new, "application": [catalog.match(a) for a in new]})
        con.register("new_apps", rows)
        con.execute("INSERT INTO app_map SELECT * FROM new_apps")
        con.unregister("new_apps")
    return len(new)


def refresh(con: duckdb.DuckDBPyConnection, catalog: Catalog, as_of: date, k: int = K_ANONYMITY) -> float:
    """Bring adoption_series up to `as_of` and rewrite the current figures; returns seconds taken."""
    began = time.perf_counter()
    map_new_apps(con, catalog)
    # Clamped in SQL: a day beyond Python's range (a BC start stored before the contract bounded it)
    # would come back as text and stop every refresh.
    floor = as_of - timedelta(days=MAX_BACKFILL_DAYS)
    row = con.execute(
        "SELECT CASE WHEN dirty_from IS NOT NULL THEN greatest(dirty_from, $f) END, "
        "CASE WHEN computed_to IS NOT NULL THEN greatest(computed_to, $f) END FROM refresh_state",
        {"f": floor},
    ).fetchone()
    dirty_from, computed_to = row or (None, None)
    first_go_live = con.execute("SELECT min(go_live) FROM catalog_investments").fetchone()[0]  # type: ignore[index]
    if first_go_live is None:
        return 0.0
    candidates = [d for d in (dirty_from, computed_to + timedelta(days=1) if computed_to else None) if d]
    first = min(candidates) if candidates else first_go_live
    first = max(first, first_go_live, floor)
    con.execute("BEGIN")
    try:
        con.execute(_ACTIVE, {"first": min(first, as_of), "last": as_of})
        con.execute("DELETE FROM department_adoption")
        con.execute(_DEPARTMENTS, {"last": as_of, "k": k})
        con.execute("DELETE FROM application_activity")
        con.execute(_APPLICATIONS, {"last": as_of})
        if first <= as_of:
            con.execute("DELETE FROM adoption_series WHERE day BETWEEN ? AND ?", [first, as_of])
            con.execute(_DAILY, {"first": first, "last": as_of})
            con.execute(
                "UPDATE refresh_state SET dirty_from = NULL, computed_to = greatest(coalesce(computed_to, ?), ?)",
                [as_of, as_of],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    figures = current_figures(con, as_of)
    write_current(con, figures, catalog, as_of, k)
    return time.perf_counter() - began


def current_figures(con: duckdb.DuckDBPyConnection, as_of: date) -> list[InvestmentFigures]:
    has_directory = bool(con.execute("SELECT has_directory FROM refresh_state").fetchone()[0])  # type: ignore[index]
    series: dict[str, dict[date, tuple[Any, ...]]] = {}
    for inv, day, dau, wau, mau, mau_t, pop, rep in con.execute(
        "SELECT investment, day, dau, wau, mau, mau_target, population, reporting FROM adoption_series "
        "WHERE day <= ? ORDER BY investment, day",
        [as_of],
    ).fetchall():
        series.setdefault(inv, {})[day] = (dau, wau, mau, mau_t, pop, rep)
    out = []
    cols = [d[0] for d in con.execute("SELECT * FROM catalog_investments LIMIT 0").description]
    for values in con.execute("SELECT * FROM catalog_investments ORDER BY investment").fetchall():
        c = dict(zip(cols, values, strict=True))
        days = series.get(c["investment"], {})
        pop_size = (days[max(days)][4] or 0) if days else 0
        population = pop_size if has_directory else None

        def ratio(v: tuple[Any, ...], population: int | None = population) -> float | None:
            return v[3] / population if population else None

        daily = {d: ratio(v) for d, v in days.items()}
        today = days.get(as_of, (0, 0, 0, 0, pop_size, 0))
        dau, wau, mau, mau_t, _pop, rep = today
        plan = Plan(c["go_live"], c["target_ratio"], c["target_date"], c["curve"])
        adoption = ratio(today)
        coverage = rep / population if population else None
        planned = plan.planned_ratio(as_of)
        st = status(
            as_of,
            plan,
            coverage,
            daily,
            min_coverage=c["min_coverage"],
            tolerance=c["tolerance"],
            low_days=c["low_days"],
        )
        fc = forecast({d: r for d, r in daily.items() if d >= c["go_live"]}, plan, as_of)
        dau_window = [days.get(as_of - timedelta(days=i), (0,))[0] for i in range(28)]
        out.append(
            InvestmentFigures(
                as_of=as_of,
                investment=c["investment"],
                name=c["name"],
                initiative=c["initiative"],
                objective=c["objective"],
                owner=c["owner"],
                owner_email=c["owner_email"],
                currency=c["currency"],
                annual_cost=c["annual_cost"],
                seats=c["seats"],
                population=population,
                dau=dau,
                wau=wau,
                mau=mau,
                active_target=mau_t,
                adoption_ratio=adoption,
                coverage=coverage,
                licence_utilisation=fig.licence_utilisation(mau, c["seats"]),
                wasted_spend=fig.wasted_spend(c["seats"], mau, c["annual_cost"]),
                cost_per_active_user=fig.cost_per_active_user(c["annual_cost"], mau),
                stickiness=fig.stickiness(dau_window, mau),
                trend=fig.trend(daily, as_of),
                planned_ratio=planned,
                gap=fig.gap(planned, adoption),
                status=str(st),
                forecast=str(fc.outcome),
                forecast_date=fc.projected_date,
                at_risk=fc.at_risk if fc.outcome != ForecastOutcome.INSUFFICIENT_DATA else None,
                target_ratio=c["target_ratio"],
                target_date=c["target_date"],
                go_live=c["go_live"],
                renewal_date=c["renewal_date"],
            )
        )
    return out


def write_current(
    con: duckdb.DuckDBPyConnection, figures: list[InvestmentFigures], catalog: Catalog, as_of: date, k: int
) -> None:
    """Replace adoption_current and the attainment tables in one transaction."""
    by_initiative: dict[str, list[InvestmentResult]] = {}
    for f in figures:
        if f.initiative:
            by_initiative.setdefault(f.initiative, []).append(
                InvestmentResult(Status(f.status), f.annual_cost, f.adoption_ratio, f.planned_ratio)
            )
    initiatives = []
    objectives = []
    for obj in catalog.objectives:
        results = []
        for ini in obj.initiatives:
            att = initiative_attainment(by_initiative.get(ini.id, []))
            initiatives.append(
                {
                    "initiative": ini.id,
                    "objective": obj.id,
                    "name": ini.name,
                    "domain": ini.domain,
                    "perspective": ini.perspective,
                    "weight": ini.weight,
                    "attainment": att,
                }
            )
            results.append(InitiativeResult(att, ini.weight))
        objectives.append({"objective": obj.id, "name": obj.name, "attainment": objective_attainment(results)})
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM adoption_current")
        if figures:
            con.register("current_rows", pa.Table.from_pylist([f.__dict__ for f in figures]))
            con.execute("INSERT INTO adoption_current BY NAME SELECT * FROM current_rows")
            con.unregister("current_rows")
        _replace(
            con,
            "initiative_attainment",
            initiatives,
            {
                "initiative": pa.string(),
                "objective": pa.string(),
                "name": pa.string(),
                "domain": pa.string(),
                "perspective": pa.string(),
                "weight": pa.float64(),
                "attainment": pa.float64(),
            },
        )
        _replace(
            con,
            "objective_attainment",
            objectives,
            {"objective": pa.string(), "name": pa.string(), "attainment": pa.float64()},
        )
        con.execute("UPDATE refresh_state SET as_of = ?, k = ?", [as_of, k])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _replace(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]], schema: dict[str, Any]) -> None:
    """Replace a derived table's rows (its columns are declared in pipeline.schema)."""
    con.execute(f"DELETE FROM {table}")
    if rows:
        con.register("replacement", pa.Table.from_pylist(rows, schema=pa.schema(list(schema.items()))))
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM replacement")
        con.unregister("replacement")
