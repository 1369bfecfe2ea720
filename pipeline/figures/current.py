"""Every docs/metrics.md figure of one investment as of one day, from the daily series and the pure rules.

`InvestmentFigures` declares the columns of `adoption_current` once: its DDL (pipeline.schema), the rows the
refresh writes, the exporter's read and the alignment reader's all come from its fields.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

import duckdb

from pipeline import sql
from pipeline.catalog import Catalog
from pipeline.domain import adoption as fig
from pipeline.domain.forecast import ForecastOutcome, forecast
from pipeline.domain.plan import Plan
from pipeline.domain.rules import K_ANONYMITY, MONTH_DAYS
from pipeline.domain.status import Reason, Status, verdict
from pipeline.figures.attainment import attainment_rows
from pipeline.figures.tables import replace_rows
from pipeline.transaction import transaction


@dataclass(frozen=True)
class InvestmentFigures:
    """Every docs/metrics.md figure of one investment as of one day (one row of adoption_current)."""

    as_of: date
    investment: str
    name: str
    initiative: str | None
    objective: str | None
    initiative_name: str | None
    objective_name: str | None
    owner: str
    owner_email: str
    currency: str
    annual_cost: float
    seats: int | None
    population: int | None
    dau: int | None
    wau: int | None
    mau: int | None
    active_target: int | None
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
    status_reason: str | None
    forecast: str
    forecast_date: date | None
    at_risk: bool | None
    target_ratio: float
    target_date: date
    go_live: date
    renewal_date: date | None


_SQL_TYPES: dict[type, str] = {str: "VARCHAR", float: "DOUBLE", int: "BIGINT", bool: "BOOLEAN", date: "DATE"}


def _sql_type(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return _SQL_TYPES[args[0] if args else hint]


_HINTS = typing.get_type_hints(InvestmentFigures)
# (name, DuckDB type) of adoption_current, in the order of InvestmentFigures' fields.
COLUMNS: tuple[tuple[str, str], ...] = tuple((f.name, _sql_type(_HINTS[f.name])) for f in fields(InvestmentFigures))
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in COLUMNS)
ADOPTION_CURRENT = (
    "CREATE TABLE IF NOT EXISTS adoption_current (" + ", ".join(f"{name} {kind}" for name, kind in COLUMNS) + ")"
)


def read_current(con: duckdb.DuckDBPyConnection) -> list[InvestmentFigures]:
    """The rows of adoption_current (the figures of the last refresh), by investment."""
    rows = con.execute(f"SELECT {', '.join(COLUMN_NAMES)} FROM adoption_current ORDER BY investment").fetchall()
    return [InvestmentFigures(*row) for row in rows]


def current_figures(con: duckdb.DuckDBPyConnection, as_of: date, k: int = K_ANONYMITY) -> list[InvestmentFigures]:
    """The figures of every investment as of `as_of`, from the daily series (computed up to as_of) and the catalog.

    The daily adoption ratio and coverage are the adoption_daily_all view's (their one definition); status, trend,
    forecast and the cost figures are the pure rules of pipeline.domain over them. A target population of 1 to
    k - 1 people gets no figures about its use (docs/metrics.md, privacy): no population, active users, ratios or
    licence figures; status unknown, reason small_population.
    """
    has_directory = bool(con.execute("SELECT has_directory FROM refresh_state").fetchone()[0])  # type: ignore[index]
    series: dict[str, dict[date, tuple[Any, ...]]] = {}
    # The counts come from the series itself: the view leaves them out for a small population, which is decided here.
    for inv, day, dau, wau, mau, mau_t, pop, adoption, coverage in con.execute(
        "SELECT s.investment, s.day, s.dau, s.wau, s.mau, s.mau_target, s.population, d.adoption_ratio, d.coverage "
        "FROM adoption_series s JOIN adoption_daily_all d USING (investment, day) WHERE s.day <= ? ORDER BY ALL",
        [as_of],
    ).fetchall():
        series.setdefault(inv, {})[day] = (dau, wau, mau, mau_t, pop, adoption, coverage)
    # Daily active users of the 28-day window, days before go-live included (MAU counts their users too).
    sql.execute(con, "active", first=as_of, last=as_of)
    dau_by_day: dict[tuple[str, date], int] = {
        (inv, day): n
        for inv, day, n in con.execute("SELECT investment, day, count(*) FROM inv_active GROUP BY ALL").fetchall()
    }
    out = []
    cols = [d[0] for d in con.execute("SELECT * FROM catalog_investments LIMIT 0").description]
    for values in con.execute("SELECT * FROM catalog_investments ORDER BY investment").fetchall():
        c = dict(zip(cols, values, strict=True))
        days = series.get(c["investment"], {})
        pop_size = (days[max(days)][4] or 0) if days else 0
        population = pop_size if has_directory else None
        # k-anonymity: a ratio over fewer than k people would show those few people's use.
        small = population is not None and 0 < population < k
        # Known days (coverage at least min_coverage) are the only evidence for status, trend and forecast.
        daily = {d: v[5] if v[6] is not None and v[6] >= c["min_coverage"] else None for d, v in days.items()}
        # A day without a series row: nobody active, nobody reporting, so no data: coverage 0, adoption unknown.
        nobody = 0.0 if population else None
        dau, wau, mau, mau_t, _pop, adoption, coverage = days.get(as_of, (0, 0, 0, 0, pop_size, None, nobody))
        if small:  # nothing about the few people is left: no ratio, coverage, count, trend or forecast
            daily, adoption, coverage, mau_t = {}, None, None, None
        # No data (coverage 0: nobody of the population reports): no use seen is not no use, so no count of users
        # and nothing made from one (utilisation, idle seats, cost per user, stickiness) is shown as zero.
        hidden = small or coverage == 0
        mau_t = None if hidden else mau_t
        plan = Plan(c["go_live"], c["target_ratio"], c["target_date"], c["curve"])
        planned = plan.planned_ratio(as_of)
        st, reason = verdict(
            as_of,
            plan,
            coverage,
            daily,
            min_coverage=c["min_coverage"],
            tolerance=c["tolerance"],
            low_days=c["low_days"],
        )
        if small and st != Status.NOT_STARTED:
            st, reason = Status.UNKNOWN, Reason.SMALL_POPULATION
        fc = forecast({d: r for d, r in daily.items() if d >= c["go_live"]}, plan, as_of, tolerance=c["tolerance"])
        dau_window = [dau_by_day.get((c["investment"], as_of - timedelta(days=i)), 0) for i in range(MONTH_DAYS)]
        out.append(
            InvestmentFigures(
                as_of=as_of,
                investment=c["investment"],
                name=c["name"],
                initiative=c["initiative"],
                objective=c["objective"],
                initiative_name=c["initiative_name"],
                objective_name=c["objective_name"],
                owner=c["owner"],
                owner_email=c["owner_email"],
                currency=c["currency"],
                annual_cost=c["annual_cost"],
                seats=c["seats"],
                population=None if small else population,
                dau=None if hidden else dau,
                wau=None if hidden else wau,
                mau=None if hidden else mau,
                active_target=mau_t,
                adoption_ratio=adoption,
                coverage=coverage,
                licence_utilisation=None if hidden else fig.licence_utilisation(mau, c["seats"]),
                wasted_spend=None if hidden else fig.wasted_spend(c["seats"], mau, c["annual_cost"]),
                cost_per_active_user=None if hidden else fig.cost_per_active_user(c["annual_cost"], mau),
                stickiness=None if hidden else fig.stickiness(dau_window, mau),
                trend=fig.trend(daily, as_of),
                planned_ratio=planned,
                gap=fig.gap(planned, adoption),
                status=str(st),
                status_reason=str(reason) if reason else None,
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
    """Replace adoption_current and the attainment tables, and give department_adoption each investment's planned
    ratio and gap (the same plan as adoption_current's), in one transaction."""
    initiatives, objectives = attainment_rows(figures, catalog)
    with transaction(con):
        replace_rows(con, "adoption_current", [vars(f) for f in figures])
        replace_rows(con, "initiative_attainment", initiatives)
        replace_rows(con, "objective_attainment", objectives)
        con.execute(
            "UPDATE department_adoption d SET planned_ratio = c.planned_ratio, "
            "gap = c.planned_ratio - d.adoption_ratio FROM adoption_current c WHERE c.investment = d.investment"
        )
        con.execute("UPDATE refresh_state SET as_of = ?, k = ?", [as_of, k])
