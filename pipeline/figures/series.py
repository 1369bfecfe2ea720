"""The daily adoption series, and the current per-department and per-application counts: the heavy SQL.

Distinct users over sliding windows are counted in SQL (pipeline/sql/*.sql) over the incremental
`usage_user_daily` rollup. Only days from the earliest day touched by new data are recomputed, so a
refresh costs what the new data costs, not what the history costs.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from pipeline import sql
from pipeline.retention import kept_until
from pipeline.transaction import transaction

MAX_BACKFILL_DAYS = 400  # how far back a first refresh computes the daily series


def first_day(con: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    """The first day of adoption_series to recompute for `as_of`; None when no investment exists."""
    # Clamped in SQL: a day beyond Python's range (a BC start stored before the contract bounded it)
    # would come back as text and stop every refresh.
    floor = as_of - timedelta(days=MAX_BACKFILL_DAYS)
    if (kept := kept_until(con)) is not None:  # days whose window lost its rollups to retention stay as computed
        floor = max(floor, kept + timedelta(days=1))
    row = con.execute(
        "SELECT CASE WHEN dirty_from IS NOT NULL THEN greatest(dirty_from, $f) END, "
        "CASE WHEN computed_to IS NOT NULL THEN greatest(computed_to, $f) END FROM refresh_state",
        {"f": floor},
    ).fetchone()
    dirty_from, computed_to = row or (None, None)
    first_go_live = con.execute("SELECT min(go_live) FROM catalog_investments").fetchone()[0]  # type: ignore[index]
    if first_go_live is None:
        return None
    if computed_to is None:  # nothing computed yet, or the series was dropped: every day from the first go-live
        return max(first_go_live, floor)  # type: ignore[no-any-return]
    first = min(d for d in (dirty_from, computed_to + timedelta(days=1)) if d)
    return max(first, first_go_live, floor)  # type: ignore[no-any-return]


def update(con: duckdb.DuckDBPyConnection, first: date, as_of: date, k: int) -> None:
    """In one transaction: adoption_series from `first` to `as_of`, department_adoption, application_activity and
    shadow_it_growth."""
    with transaction(con):
        sql.execute(con, "active", first=min(first, as_of), last=as_of)
        con.execute("DELETE FROM department_adoption")
        sql.execute(con, "departments", last=as_of, k=k)
        con.execute("DELETE FROM application_activity")
        sql.execute(con, "applications", last=as_of)
        con.execute("DELETE FROM shadow_it_growth")
        sql.execute(con, "shadow_growth", last=as_of, k=k)
        if first <= as_of:
            con.execute("DELETE FROM adoption_series WHERE day BETWEEN ? AND ?", [first, as_of])
            sql.execute(con, "daily", first=first, last=as_of)
            con.execute(
                "UPDATE refresh_state SET dirty_from = NULL, computed_to = greatest(coalesce(computed_to, ?), ?)",
                [as_of, as_of],
            )
