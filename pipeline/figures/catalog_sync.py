"""The catalog and the directory into DuckDB tables, and raw identifiers mapped to catalog applications."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from pipeline import sql
from pipeline.catalog import Catalog
from pipeline.figures.tables import replace_rows
from pipeline.retention import kept_until
from pipeline.transaction import transaction


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
                "initiative_name": placed.initiative.name if placed.initiative else None,
                "objective_name": placed.objective.name if placed.objective else None,
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
    with transaction(con):
        replace_rows(con, "catalog_applications", apps)
        replace_rows(con, "catalog_investments", invs)
        replace_rows(con, "investment_apps", inv_apps)
        replace_rows(con, "investment_departments", inv_depts)
        replace_rows(con, "directory", members)
        con.execute("DELETE FROM inv_targets")
        sql.execute(con, "targets")
        con.execute("DELETE FROM app_map")
        # The series is rebuilt whole, from the first go-live: every day of it depends on the catalog; but days
        # whose rollups retention deleted cannot be recomputed, and stay as computed with the catalog of their time.
        kept = kept_until(con)
        con.execute("DELETE FROM adoption_series WHERE day > coalesce(?, DATE '0001-01-01')", [kept])
        con.execute(
            "UPDATE refresh_state SET dirty_from = NULL, computed_to = NULL, has_directory = ?",
            [directory is not None],
        )
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
