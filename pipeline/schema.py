"""The DuckDB tables the pipeline writes; `migrate` creates what is missing and is safe to repeat."""

from __future__ import annotations

import duckdb

# The dedup key of an event: who sent it (device_id) and its id, hashed to 128 bits (md5: collisions
# are out of reach at any fleet's volume, and the narrow column keeps the dedup join cheap).
EVENT_KEY = "md5_number(device_id || chr(31) || event_id)"

TABLES = """
CREATE TABLE IF NOT EXISTS events (
    event_id       VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    device_id      VARCHAR NOT NULL,
    "user"         VARCHAR NOT NULL,
    app            VARCHAR NOT NULL,
    start          TIMESTAMPTZ NOT NULL,
    duration_s     DOUBLE NOT NULL,
    source         VARCHAR NOT NULL,
    title          VARCHAR,
    department     VARCHAR,
    schema_version INTEGER NOT NULL,
    kafka_topic     VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    BIGINT NOT NULL,
    ingested_at    TIMESTAMPTZ NOT NULL
);
-- The dedup memory: one 128-bit hash of (device_id, event_id) per stored event, kept for the dedup
-- horizon (Store prunes older days). A hash join over this narrow table finds a resend whatever its
-- start; an index would have to fit in memory and costs ~60 us a row to maintain (measured).
CREATE TABLE IF NOT EXISTS event_keys (key UHUGEINT NOT NULL, seen DATE NOT NULL);
-- Running totals for the exporter, kept in the write transaction so a scrape never counts `events`.
CREATE TABLE IF NOT EXISTS ingest_totals (
    source VARCHAR NOT NULL, kind VARCHAR NOT NULL, events BIGINT NOT NULL, PRIMARY KEY (source, kind)
);
-- The consumer's position: committed in the same transaction as the rows, so a crash never
-- loses or repeats a row. next_offset is the offset of the next record to read.
CREATE TABLE IF NOT EXISTS kafka_offsets (
    topic          VARCHAR NOT NULL,
    "partition"    INTEGER NOT NULL,
    next_offset    BIGINT NOT NULL,
    high_watermark BIGINT,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (topic, "partition")
);
CREATE TABLE IF NOT EXISTS rejected_events (
    kafka_topic     VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    BIGINT NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    reason          VARCHAR NOT NULL,
    payload         VARCHAR NOT NULL,
    event_index     INTEGER  -- position in a packed record; NULL for a record of one event (or none)
);
-- Incremental daily rollup per user and raw application identifier, in the organisation's time
-- zone; spans that cross midnight are split. Mapping raw identifiers to catalog applications
-- happens at query time, so a catalog change never needs a re-computation of history.
CREATE TABLE IF NOT EXISTS usage_user_daily (
    day        DATE NOT NULL,
    "user"     VARCHAR NOT NULL,
    app        VARCHAR NOT NULL,
    focus_s    DOUBLE NOT NULL,
    open_s     DOUBLE NOT NULL,
    launches   INTEGER NOT NULL,
    department VARCHAR,
    PRIMARY KEY (day, "user", app)
);
CREATE TABLE IF NOT EXISTS adoption_series (
    day DATE NOT NULL, investment VARCHAR NOT NULL,
    dau BIGINT, wau BIGINT, mau BIGINT, mau_target BIGINT, population BIGINT, reporting BIGINT
);
CREATE TABLE IF NOT EXISTS refresh_state (
    dirty_from DATE, computed_to DATE, has_directory BOOLEAN, as_of DATE, k INTEGER
);
INSERT INTO refresh_state SELECT NULL, NULL, false, NULL, 5 WHERE NOT EXISTS (SELECT 1 FROM refresh_state);
CREATE TABLE IF NOT EXISTS app_map (app VARCHAR PRIMARY KEY, application VARCHAR);
CREATE TABLE IF NOT EXISTS catalog_applications (
    application VARCHAR, name VARCHAR, vendor VARCHAR, capability VARCHAR, sanctioned BOOLEAN, min_s DOUBLE,
    replaces VARCHAR);
CREATE TABLE IF NOT EXISTS catalog_investments (
    investment VARCHAR, name VARCHAR, initiative VARCHAR, objective VARCHAR, owner VARCHAR, owner_email VARCHAR,
    currency VARCHAR, annual_cost DOUBLE, seats BIGINT, go_live DATE, target_ratio DOUBLE, target_date DATE,
    curve VARCHAR, renewal_date DATE, tolerance DOUBLE, low_days INTEGER, min_coverage DOUBLE);
CREATE TABLE IF NOT EXISTS investment_apps (investment VARCHAR, application VARCHAR, min_s DOUBLE);
CREATE TABLE IF NOT EXISTS investment_departments (investment VARCHAR, department VARCHAR);
CREATE TABLE IF NOT EXISTS directory ("user" VARCHAR, department VARCHAR);
-- The departments each investment targets (all of the directory's when the catalog names none).
CREATE TABLE IF NOT EXISTS inv_targets (investment VARCHAR, department VARCHAR);
CREATE TABLE IF NOT EXISTS initiative_attainment (
    initiative VARCHAR, objective VARCHAR, name VARCHAR, domain VARCHAR, perspective VARCHAR, weight DOUBLE,
    attainment DOUBLE);
-- Per target department, only departments of at least k people (refresh_state.k).
CREATE TABLE IF NOT EXISTS department_adoption (
    investment VARCHAR, department VARCHAR, population BIGINT, active_users BIGINT, adoption_ratio DOUBLE);
-- Per application, the 28-day active users as of the last refresh (catalogued or not); the
-- shadow_it view and the exporter read it instead of scanning the per-user rollup.
CREATE TABLE IF NOT EXISTS application_activity (
    application VARCHAR, in_catalog BOOLEAN, sanctioned BOOLEAN, capability VARCHAR, active_users BIGINT);
CREATE TABLE IF NOT EXISTS objective_attainment (objective VARCHAR, name VARCHAR, attainment DOUBLE);
"""

ADOPTION_CURRENT = """
CREATE TABLE IF NOT EXISTS adoption_current (
    as_of DATE, investment VARCHAR, name VARCHAR, initiative VARCHAR, objective VARCHAR, owner VARCHAR,
    owner_email VARCHAR, currency VARCHAR, annual_cost DOUBLE, seats BIGINT, population BIGINT,
    dau BIGINT, wau BIGINT, mau BIGINT, active_target BIGINT, adoption_ratio DOUBLE, coverage DOUBLE,
    licence_utilisation DOUBLE, wasted_spend DOUBLE, cost_per_active_user DOUBLE, stickiness DOUBLE,
    trend DOUBLE, planned_ratio DOUBLE, gap DOUBLE, status VARCHAR, forecast VARCHAR, forecast_date DATE,
    at_risk BOOLEAN, target_ratio DOUBLE, target_date DATE, go_live DATE, renewal_date DATE
)
"""

# The analysts' surface (docs/analysts.md documents every column). Only these views are k-safe;
# the raw tables (events, usage_user_daily) hold per-user rows for the privacy role alone.
VIEWS = """
CREATE OR REPLACE VIEW adoption_daily AS
SELECT s.day, s.investment, i.name, i.initiative, i.objective,
       s.dau, s.wau, s.mau, s.mau_target AS active_target, s.population,
       CASE WHEN r.has_directory AND s.population > 0 THEN s.mau_target / s.population END AS adoption_ratio,
       CASE WHEN r.has_directory AND s.population > 0 THEN s.reporting / s.population END AS coverage,
       CASE WHEN s.day < i.go_live THEN NULL
            ELSE i.target_ratio * (CASE WHEN i.curve = 'linear' THEN x
                 ELSE (1 / (1 + exp(-10 * (x - 0.5))) - 1 / (1 + exp(5))) / (1 / (1 + exp(-5)) - 1 / (1 + exp(5)))
            END) END AS planned_ratio
FROM adoption_series s
JOIN catalog_investments i USING (investment)
CROSS JOIN refresh_state r
CROSS JOIN LATERAL (SELECT greatest(0, least(1, (s.day - i.go_live) / greatest(i.target_date - i.go_live, 1)))
                    AS x);

CREATE OR REPLACE VIEW usage_daily AS
SELECT u.day, coalesce(m.application, 'uncatalogued:' || u.app) AS application, d.department,
       count(DISTINCT u."user") AS users,
       count(DISTINCT u."user") FILTER (WHERE u.focus_s >= coalesce(a.min_s, 300)) AS active_users,
       sum(u.focus_s) / 60 AS focus_minutes, sum(u.open_s) / 60 AS open_minutes, sum(u.launches) AS launches
FROM usage_user_daily u
LEFT JOIN app_map m USING (app)
LEFT JOIN catalog_applications a USING (application)
JOIN directory d USING ("user")
GROUP BY ALL
HAVING count(DISTINCT u."user") >= (SELECT k FROM refresh_state);

CREATE OR REPLACE VIEW shadow_it AS
SELECT application, in_catalog, sanctioned, capability, active_users, (SELECT as_of FROM refresh_state) AS as_of
FROM application_activity
WHERE NOT sanctioned AND active_users >= (SELECT k FROM refresh_state);

CREATE OR REPLACE VIEW rejected_events_summary AS
SELECT split_part(reason, ':', 1) AS field, count(*) AS events, min(received_at) AS first_seen,
       max(received_at) AS last_seen, any_value(reason) AS example_reason
FROM rejected_events GROUP BY ALL ORDER BY events DESC;
"""


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


# Bump when a derived table changes shape. Derived tables are recomputed from the raw ones (events,
# usage_user_daily), so an upgrade drops and rebuilds them instead of altering them column by column.
SCHEMA_VERSION = 2
DERIVED = (
    "adoption_current",
    "adoption_series",
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
    "objective_attainment",
)


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing; on a schema change rebuild the derived tables. Safe to repeat.

    One transaction: a crash half-way (between creating a table and filling it) leaves the file as it was.
    """
    con.execute("BEGIN")
    try:
        _migrate(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL)")
    had_keys = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'event_keys'").fetchone() == (1,)
    row = con.execute("SELECT max(version) FROM schema_info").fetchone()
    if row is None or row[0] != SCHEMA_VERSION:
        for table in DERIVED:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute("DELETE FROM schema_info")
        con.execute("INSERT INTO schema_info VALUES (?)", [SCHEMA_VERSION])
    con.execute(TABLES)
    # Raw tables keep their rows across versions: new columns are added, never rebuilt.
    con.execute("ALTER TABLE rejected_events ADD COLUMN IF NOT EXISTS event_index INTEGER")
    con.execute(ADOPTION_CURRENT)
    con.execute(VIEWS)
    # The next refresh recomputes every day that has data (the series was dropped or is new).
    con.execute(
        "UPDATE refresh_state SET dirty_from = (SELECT min(day) FROM usage_user_daily) "
        "WHERE computed_to IS NULL AND dirty_from IS NULL"
    )
    if not had_keys:  # a file from before the dedup memory: remember what it holds (pruned on the first write)
        con.execute(f"INSERT INTO event_keys SELECT {EVENT_KEY}, ingested_at::DATE FROM events")
    if con.execute("SELECT count(*) FROM ingest_totals").fetchone() == (0,):
        con.execute("INSERT INTO ingest_totals SELECT source, kind, count(*) FROM events GROUP BY ALL")
