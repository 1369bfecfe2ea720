"""The I/O edge: the catalog and the pipeline's DuckDB (tables of pipeline.schema) read into plain facts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import fields
from datetime import date, timedelta
from typing import TYPE_CHECKING

import duckdb

from alignment import inputs as inputs_store
from alignment.displacement import ALL
from alignment.facts import (
    AppInfo,
    Facts,
    InitiativeInfo,
    InterventionEffect,
    InvestmentInfo,
    InvestmentState,
    ObjectiveInfo,
    Strategy,
    SwitchWeek,
    Usage,
)
from alignment.inputs import Inputs
from alignment.summary import summarise
from base.errors import AlignmonError
from pipeline import sql
from pipeline.database import has_table
from pipeline.domain.privacy import shown_beside_a_total
from pipeline.domain.rules import EFFECT_SETTLE_DAYS, K_ANONYMITY, MONTH_DAYS, WEEK_DAYS
from pipeline.figures.current import InvestmentFigures, current_figures, read_current
from pipeline.retention import kept_until

if TYPE_CHECKING:
    from pipeline.catalog import Catalog
    from pipeline.catalog.model import Investment

WEEKS = 6  # WEEK_DAYS blocks for the growth of emergent tools
SWITCH_WEEKS = 12  # calendar weeks of displacement history
SERIES_DAYS = 365  # longest adoption history drawn in the report

# Focus per user, application key and day (several raw identifiers of one app summed), judged active or not;
# an uncatalogued application is keyed by the one identity rule of pipeline.domain.rules (app_key).
_JUDGED = sql.render("""(
SELECT d."user", d.app, d.day, d.focus_s, d.focus_s >= coalesce(a.min_s, $active_s) AS active
FROM (
    SELECT u."user", {{app_key(m.application, u.app)}} AS app, u.day, sum(u.focus_s) AS focus_s
    FROM usage_user_daily u LEFT JOIN app_map m USING (app)
    WHERE u.day BETWEEN $first AND $last
    GROUP BY ALL
) d LEFT JOIN catalog_applications a ON a.application = d.app
)""")


def strategy_from_catalog(catalog: Catalog) -> Strategy:
    """The catalog's structure as plain values."""

    def investment(inv: Investment, initiative: str | None, objective: str | None) -> InvestmentInfo:
        return InvestmentInfo(
            id=inv.id,
            name=inv.label,
            annual_cost=float(inv.annual_cost),
            go_live=inv.go_live,
            target_ratio=inv.target_ratio,
            target_date=inv.target_date,
            initiative=initiative,
            objective=objective,
            applications=tuple(inv.applications),
            currency=inv.currency,
            seats=inv.seats,
            has_owner=bool(inv.owner.name and inv.owner.email),
            renewal_date=inv.renewal_date,
            curve=inv.curve,
            owner=inv.owner.name or None,
            target_departments=tuple(inv.target_departments or ()),
        )

    initiatives: dict[str, InitiativeInfo] = {}
    investments: dict[str, InvestmentInfo] = {}
    for obj in catalog.objectives:
        for ini in obj.initiatives:
            initiatives[ini.id] = InitiativeInfo(
                ini.id,
                ini.name,
                obj.id,
                ini.domain,
                ini.perspective,
                ini.weight,
                ini.owner is not None,
                tuple(ini.depends_on),
                ini.owner.name if ini.owner is not None else None,
            )
            for inv in ini.investments:
                investments[inv.id] = investment(inv, ini.id, obj.id)
    for inv in catalog.orphan_investments:
        investments[inv.id] = investment(inv, None, None)
    return Strategy(
        objectives=tuple(ObjectiveInfo(o.id, o.name, tuple(i.id for i in o.initiatives)) for o in catalog.objectives),
        initiatives=initiatives,
        investments=investments,
        applications={
            a.id: AppInfo(
                a.id,
                a.name,
                a.capability,
                a.sanctioned,
                a.replaces,
                tuple(a.interchangeable_with),
                a.annual_cost_per_user,
                a.currency,
            )
            for a in catalog.applications.values()
        },
    )


def computed_as_of(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None, int]:
    """(as-of day of adoption_current, last day of the daily series, k) from refresh_state."""
    row = con.execute("SELECT as_of, computed_to, k FROM refresh_state").fetchone()
    if row is None:
        return None, None, K_ANONYMITY
    return row[0], row[1], int(row[2] or K_ANONYMITY)


def read_facts(con: duckdb.DuckDBPyConnection, strategy: Strategy, as_of: date | None = None) -> Facts:
    """Every fact the alignment scores need, as of `as_of` (default: the day the pipeline last computed).

    The k-safe inputs the pipeline kept for that day (the analysts' database holds nothing else); on the pipeline's
    own file, a day without kept inputs is computed from the per-person rollups.
    """
    stored, computed_to, _k = computed_as_of(con)
    if stored is None or computed_to is None:
        raise AlignmonError("the database has no adoption figures yet: run the pipeline (with a catalog) first")
    day = as_of or stored
    if day > computed_to:
        raise AlignmonError(
            f"the database is computed up to {computed_to}; pick --as-of {computed_to} or earlier, "
            "or let the pipeline refresh first"
        )
    inputs = inputs_store.load(con, day)
    if inputs is None:
        if not holds_people(con):
            kept = ", ".join(str(d) for d in inputs_store.stored_days(con)) or "none yet"
            raise AlignmonError(
                f"the analysts' database holds the alignment inputs of these days only: {kept}; pick one of them "
                "with --as-of, or (privacy role) read the pipeline's own file with --database"
            )
        lost = kept_until(con)
        if lost is not None and day <= lost:
            raise AlignmonError(
                f"retention has deleted per-person rollups of the 28 days up to {day}: figures for it would count "
                f"nobody there; pick a day after {lost}, or one of the kept days "
                f"({', '.join(str(d) for d in inputs_store.stored_days(con)) or 'none'})"
            )
        inputs = read_inputs(con, strategy, day)
    return Facts(
        as_of=day,
        strategy=strategy,
        states=inputs.states,
        usage=inputs.usage,
        switches=inputs.switches,
        department_sizes=inputs.department_sizes,
        series=read_series(con, day, min((i.go_live for i in strategy.investments.values()), default=None)),
        k=inputs.k,
        effects=read_effects(con, day),
    )


# The columns of intervention_effects that InterventionEffect holds (its fields, by name); `departments` and
# `overlaps` are lists.
_EFFECT_FIELDS = tuple(f.name for f in fields(InterventionEffect))
# An analysts' file published before the cost range was added has no such columns (None), and says `parallel` for
# what is now called no divergence detected; a table made by hand may lack `overlaps` (none).
_LATER_EFFECT_COLUMNS = ("cost_per_additional_active_user_low", "cost_per_additional_active_user_high", "overlaps")
_TRENDS_RENAMED = {"parallel": "no_divergence_detected"}


def read_effects(con: duckdb.DuckDBPyConnection, day: date) -> tuple[InterventionEffect, ...]:
    """Per intervention, the latest estimate the pipeline made on or before `day` (intervention_effects).

    A final row (effect, no_detectable_effect) keeps the day it was estimated as its as_of, and a not_estimable one is
    estimated again each day: so the rows as of `day` are those with as_of <= day, the latest of each intervention.
    """
    if not has_table(con, "intervention_effects"):
        return ()
    present = {d[0] for d in con.execute("SELECT * FROM intervention_effects LIMIT 0").description}
    selected = ", ".join(
        f'NULL AS "{name}"' if name in _LATER_EFFECT_COLUMNS and name not in present else f'"{name}"'
        for name in _EFFECT_FIELDS
    )
    cur = con.execute(
        f"""
        SELECT {selected}, as_of FROM intervention_effects WHERE first_day <= ?
        QUALIFY row_number() OVER (PARTITION BY intervention ORDER BY as_of <= ? DESC, as_of DESC) = 1
        ORDER BY first_day, intervention
        """,
        [day, day],
    )
    effects = []
    for *row, as_of in cur.fetchall():
        values = dict(zip(_EFFECT_FIELDS, row, strict=True))
        for listed in ("departments", "overlaps"):
            values[listed] = tuple(d for d in (values[listed] or "").split(", ") if d)
        trends = values["trends"] or "not_checked"
        values["trends"] = _TRENDS_RENAMED.get(trends, trends)
        effect = InterventionEffect(**values)
        if as_of is not None and as_of > day:  # estimated only later (or again since): as of `day` it had no estimate
            settled = effect.post_to is not None and day >= effect.post_to + timedelta(days=EFFECT_SETTLE_DAYS + 1)
            reason = "estimated_later" if settled else "window_not_over"
            e = effect
            effect = InterventionEffect(
                e.intervention, e.investment, e.kind, e.first_day, e.last_day, e.post_to, e.departments,
                "not_estimable", reason, e.level, cost=e.cost, currency=e.currency, overlaps=e.overlaps,
            )  # fmt: skip
        effects.append(effect)
    return tuple(effects)


def holds_people(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this is the pipeline's own file (per-person rollups), not the analysts' database."""
    return has_table(con, "usage_user_daily")


def read_inputs(con: duckdb.DuckDBPyConnection, strategy: Strategy, as_of: date) -> Inputs:
    """The k-safe inputs as of `as_of`, from the pipeline's own file (its per-person rollups and directory)."""
    stored, _, k = computed_as_of(con)
    sizes: dict[str, int] = dict(con.execute("SELECT department, count(*) FROM directory GROUP BY ALL").fetchall())
    # Weeks per department are shown beside the organisation's: no small department may follow by subtraction.
    safe = {d: sizes[d] for d in shown_beside_a_total(sizes, k)}
    return Inputs(
        as_of=as_of,
        k=k,
        states=read_states(con, as_of, stored or as_of, k),
        usage=summarise(read_usage(con, as_of), strategy, sizes, k),
        switches=tuple(
            sorted(
                (
                    s
                    for s in read_switches(con, strategy, as_of)
                    if s.users >= k and (s.department == ALL or s.department in safe)
                ),
                key=lambda s: (s.new_app, s.department, s.week),
            )
        ),
        department_sizes=safe,
    )


def read_states(con: duckdb.DuckDBPyConnection, as_of: date, stored: date, k: int) -> dict[str, InvestmentState]:
    """The docs/metrics.md figures per investment: adoption_current when it is for `as_of`, else recomputed."""
    figures = read_current(con) if as_of == stored else current_figures(con, as_of, k=k)
    return {f.investment: _state(f) for f in figures}


_STATE_FIELDS = tuple(f.name for f in fields(InvestmentState))


def _state(f: InvestmentFigures) -> InvestmentState:
    """The part of an investment's figures the alignment scores read (InvestmentState's fields, by name)."""
    values = {name: getattr(f, name) for name in _STATE_FIELDS}
    values["mau"] = int(values["mau"] or 0)
    return InvestmentState(**values)


def read_usage(con: duckdb.DuckDBPyConnection, as_of: date) -> Usage:
    """Focus time, active users and depth per application in the 28-day window; weekly active users."""
    first = as_of - timedelta(days=WEEK_DAYS * WEEKS - 1)
    window_first = as_of - timedelta(days=MONTH_DAYS - 1)
    judged = _JUDGED
    focus: dict[str, float] = {}
    user_days: dict[str, int] = {}
    active_focus: dict[str, float] = {}
    for app, total, days, on_active in sql.run(
        con,
        f"SELECT app, sum(focus_s), count(*) FILTER (WHERE active), coalesce(sum(focus_s) FILTER (WHERE active), 0) "
        f"FROM {judged} GROUP BY app",
        first=window_first,
        last=as_of,
    ).fetchall():
        focus[app] = float(total)
        user_days[app] = int(days)
        active_focus[app] = float(on_active)
    departments = dict(con.execute('SELECT "user", department FROM directory').fetchall())
    users: dict[str, set[str]] = defaultdict(set)
    by_department: dict[tuple[str, str], set[str]] = defaultdict(set)
    active = f'SELECT DISTINCT app, "user" FROM {judged} WHERE active'
    for app, user in sql.run(con, active, first=window_first, last=as_of).fetchall():
        users[app].add(user)
        if user in departments:
            by_department[app, departments[user]].add(user)
    weekly: dict[str, list[int]] = defaultdict(lambda: [0] * WEEKS)
    for app, block, count in sql.run(
        con,
        f"SELECT app, (datediff('day', day, $as_of) // $week_days)::INTEGER AS block, count(DISTINCT \"user\") "
        f"FROM {judged} WHERE active GROUP BY ALL",
        first=first,
        last=as_of,
        as_of=as_of,
    ).fetchall():
        weekly[app][WEEKS - 1 - block] = int(count)
    first_day = con.execute("SELECT min(day) FROM usage_user_daily WHERE day <= ?", [as_of]).fetchone()
    return Usage(
        focus_s=focus,
        active_users={app: frozenset(u) for app, u in users.items()},
        active_by_department={key: frozenset(u) for key, u in by_department.items()},
        active_user_days=user_days,
        active_focus_s=active_focus,
        weekly_active={app: tuple(v) for app, v in weekly.items()},
        first_day=first_day[0] if first_day else None,
    )


def first_telemetry_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The first day any investment's 28-day window has telemetry in adoption_daily, or None.

    Telemetry shows as coverage > 0, or as active users where coverage is unknown (no directory). adoption_daily
    starts at each investment's go-live whether or not telemetry did: a day before this one has no data.
    """
    row = con.execute("SELECT min(day) FROM adoption_daily WHERE coverage > 0 OR mau > 0").fetchone()
    return row[0] if row else None


def read_switches(con: duckdb.DuckDBPyConnection, strategy: Strategy, as_of: date) -> list[SwitchWeek]:
    """Per department (and organisation-wide) and calendar week: focus on each new app and its legacy app."""
    monday = as_of - timedelta(days=as_of.weekday())
    first = monday - timedelta(weeks=SWITCH_WEEKS - 1)
    out: list[SwitchWeek] = []
    for app in strategy.applications.values():
        if app.replaces is None:
            continue
        rows = con.execute(
            """
            SELECT CASE WHEN grouping(d.department) = 1 THEN '(all)' ELSE d.department END AS department,
                   date_trunc('week', u.day)::DATE AS week,
                   coalesce(sum(u.focus_s) FILTER (WHERE m.application = $new), 0),
                   coalesce(sum(u.focus_s) FILTER (WHERE m.application = $old), 0),
                   count(DISTINCT u."user")
            FROM usage_user_daily u JOIN app_map m USING (app) LEFT JOIN directory d USING ("user")
            WHERE m.application IN ($new, $old) AND u.day BETWEEN $first AND $last
            GROUP BY GROUPING SETS ((d.department, week), (week))
            HAVING grouping(d.department) = 1 OR d.department IS NOT NULL
            """,
            {"new": app.id, "old": app.replaces, "first": first, "last": as_of},
        ).fetchall()
        out += [SwitchWeek(app.id, app.replaces, r[0], r[1], float(r[2]), float(r[3]), int(r[4])) for r in rows]
    return out


def read_series(
    con: duckdb.DuckDBPyConnection, as_of: date, first: date | None = None
) -> dict[str, tuple[tuple[date, float | None], ...]]:
    """Daily adoption ratio per investment, for the report's small multiples.

    From `first` (the report passes the earliest go-live) or SERIES_DAYS back, whichever is earlier. The ratio is
    None on a day without data (coverage 0) or without a directory; a day without a row has no data either.
    """
    start = as_of - timedelta(days=SERIES_DAYS)
    if first is not None:
        start = min(start, first)
    series: dict[str, list[tuple[date, float | None]]] = defaultdict(list)
    for inv, day, ratio in con.execute(
        """
        SELECT investment, day, adoption_ratio FROM adoption_daily
        WHERE day BETWEEN ? AND ? ORDER BY investment, day
        """,
        [start, as_of],
    ).fetchall():
        series[inv].append((day, ratio))
    return {inv: tuple(points) for inv, points in series.items()}
