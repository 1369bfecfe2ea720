"""The DuckDB tables the pipeline writes; `migrate` creates what is missing and is safe to repeat."""

from __future__ import annotations

import duckdb

from pipeline import sql
from pipeline.database import has_table
from pipeline.errors import NewerSchemaError
from pipeline.figures.current import ADOPTION_CURRENT
from pipeline.transaction import transaction

# The dedup key of an event: who sent it (device_id) and its id, hashed to 128 bits (md5: collisions
# are out of reach at any fleet's volume, and the narrow column keeps the dedup join cheap).
EVENT_KEY = "md5_number(device_id || chr(31) || event_id)"


# What analysts are given (and `alignmon export` writes): k-safe or per-investment, never per person.
ANALYST_VIEWS = (
    "adoption_current",
    "adoption_daily",
    "usage_daily",
    "shadow_it",
    "department_adoption",
    "initiative_attainment",
    "objective_attainment",
    "rejected_events_summary",
)
# Published to the analysts' database besides those views: events stored per source and kind, the refresh's state,
# each intervention's effect.
PUBLISHED = (*ANALYST_VIEWS, "ingest_totals", "refresh_state", "intervention_effects")


# Bump when a derived table changes shape. Derived tables are recomputed from the raw ones (events,
# usage_user_daily), so an upgrade drops and rebuilds them instead of altering them column by column.
# adoption_series is not among them: past the retention horizon it is history that cannot be recomputed; nor is
# intervention_effects, whose rows with figures are frozen once published (pipeline/impact/published.py).
SCHEMA_VERSION = 7
DERIVED = (
    "adoption_current",
    "refresh_state",
    "app_map",
    "catalog_applications",
    "catalog_investments",
    "investment_apps",
    "investment_departments",
    "directory",
    "inv_targets",
    "inv_population",
    "initiative_attainment",
    "department_adoption",
    "application_activity",
    "shadow_it_growth",
    "objective_attainment",
)


def migrate(con: duckdb.DuckDBPyConnection, where: object = "the database") -> None:
    """Create what is missing; on a schema change rebuild the derived tables. Safe to repeat.

    One transaction: a crash half-way (between creating a table and filling it) leaves the file as it was. A file of
    a newer version is refused (NewerSchemaError, naming `where`): its raw tables may hold what this code misreads.
    """
    with transaction(con):
        _migrate(con, where)


def _migrate(con: duckdb.DuckDBPyConnection, where: object) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL)")
    had_keys = has_table(con, "event_keys")
    row = con.execute("SELECT max(version) FROM schema_info").fetchone()
    if row is not None and row[0] is not None and row[0] > SCHEMA_VERSION:
        raise NewerSchemaError(where, row[0], SCHEMA_VERSION)
    if row is None or row[0] != SCHEMA_VERSION:
        for table in DERIVED:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute("DELETE FROM schema_info")
        con.execute("INSERT INTO schema_info VALUES (?)", [SCHEMA_VERSION])
    con.execute(sql.load("tables"))
    # Raw tables keep their rows across versions: new columns are added, never rebuilt.
    con.execute("ALTER TABLE rejected_events ADD COLUMN IF NOT EXISTS event_index INTEGER")
    con.execute("ALTER TABLE retention_runs ADD COLUMN IF NOT EXISTS device_days_deleted BIGINT DEFAULT 0")
    for column in ("cost_per_additional_active_user_low DOUBLE", "cost_per_additional_active_user_high DOUBLE"):
        con.execute(f"ALTER TABLE intervention_effects ADD COLUMN IF NOT EXISTS {column}")
    con.execute("ALTER TABLE intervention_effects ADD COLUMN IF NOT EXISTS basis VARCHAR")  # NULL: not frozen yet
    con.execute(ADOPTION_CURRENT)
    con.execute(sql.load("views"))
    # The next refresh recomputes every day that has data (the series was dropped or is new).
    con.execute(
        "UPDATE refresh_state SET dirty_from = (SELECT min(day) FROM usage_user_daily) "
        "WHERE computed_to IS NULL AND dirty_from IS NULL"
    )
    if not had_keys:  # a file from before the dedup memory: remember what it holds (pruned on the first write)
        con.execute(f"INSERT INTO event_keys SELECT {EVENT_KEY}, ingested_at::DATE FROM events")
    if con.execute("SELECT count(*) FROM ingest_totals").fetchone() == (0,):
        con.execute("INSERT INTO ingest_totals SELECT source, kind, count(*) FROM events GROUP BY ALL")
