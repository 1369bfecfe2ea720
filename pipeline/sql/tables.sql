-- The pipeline's tables; adoption_current's DDL comes from pipeline.figures.current (its columns' one home).
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
-- Every data-subject access and erasure (pipeline/subject.py): who, when, what; nothing updates or deletes it.
CREATE TABLE IF NOT EXISTS privacy_audit (
    done_at TIMESTAMPTZ NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL, subject VARCHAR NOT NULL,
    detail VARCHAR NOT NULL
);
-- What retention deleted, run by run (pipeline/retention.py): kept across versions, the audit of deletions.
CREATE TABLE IF NOT EXISTS retention_runs (
    run_at TIMESTAMPTZ NOT NULL, raw_from DATE NOT NULL, daily_from DATE NOT NULL,
    events_deleted BIGINT NOT NULL, daily_deleted BIGINT NOT NULL, device_days_deleted BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS adoption_series (
    day DATE NOT NULL, investment VARCHAR NOT NULL,
    dau BIGINT, wau BIGINT, mau BIGINT, mau_target BIGINT, population BIGINT, reporting BIGINT
);
CREATE TABLE IF NOT EXISTS refresh_state (
    dirty_from DATE, computed_to DATE, has_directory BOOLEAN, as_of DATE, k INTEGER
);
INSERT INTO refresh_state SELECT NULL, NULL, false, NULL, {{k_anonymity}} WHERE NOT EXISTS (SELECT 1 FROM refresh_state);
CREATE TABLE IF NOT EXISTS app_map (app VARCHAR PRIMARY KEY, application VARCHAR);
CREATE TABLE IF NOT EXISTS catalog_applications (
    application VARCHAR, name VARCHAR, vendor VARCHAR, capability VARCHAR, sanctioned BOOLEAN, min_s DOUBLE,
    replaces VARCHAR);
CREATE TABLE IF NOT EXISTS catalog_investments (
    investment VARCHAR, name VARCHAR, initiative VARCHAR, objective VARCHAR, initiative_name VARCHAR,
    objective_name VARCHAR, owner VARCHAR, owner_email VARCHAR,
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
-- Each intervention's effect (pipeline.impact.published; columns of pipeline.domain.impact.Effect.row(), then the
-- basis): counts and shares of groups of at least k people only, departments under k never named. Rows with figures
-- are frozen, so it is not a derived table: schema.py adds new columns to it.
CREATE TABLE IF NOT EXISTS intervention_effects (
    intervention VARCHAR, investment VARCHAR, kind VARCHAR, first_day DATE, last_day DATE, as_of DATE,
    window_days INTEGER, level DOUBLE, base_from DATE, base_to DATE, pre_from DATE, pre_to DATE, post_from DATE,
    post_to DATE, departments VARCHAR, comparison_departments VARCHAR, verdict VARCHAR, reason VARCHAR,
    detail VARCHAR, treated_people BIGINT, comparison_people BIGINT, treated_pre DOUBLE, treated_post DOUBLE,
    comparison_pre DOUBLE, comparison_post DOUBLE, effect DOUBLE, effect_low DOUBLE, effect_high DOUBLE,
    trends VARCHAR, pre_trend DOUBLE, pre_trend_low DOUBLE, pre_trend_high DOUBLE, additional_active_users DOUBLE,
    cost DOUBLE, currency VARCHAR, cost_per_additional_active_user DOUBLE, "overlaps" VARCHAR,
    cost_per_additional_active_user_low DOUBLE, cost_per_additional_active_user_high DOUBLE, basis VARCHAR);
-- Per target department, only departments of at least k people (refresh_state.k); planned_ratio and gap are the
-- investment's plan on as_of, the one adoption_current shows (written with it, pipeline.figures.current).
CREATE TABLE IF NOT EXISTS department_adoption (
    investment VARCHAR, department VARCHAR, population BIGINT, active_users BIGINT, adoption_ratio DOUBLE,
    coverage DOUBLE, planned_ratio DOUBLE, gap DOUBLE, as_of DATE);
-- Per application, the 28-day active users as of the last refresh (catalogued or not); the
-- shadow_it view and the exporter read it instead of scanning the per-user rollup.
CREATE TABLE IF NOT EXISTS application_activity (
    application VARCHAR, in_catalog BOOLEAN, sanctioned BOOLEAN, capability VARCHAR, active_users BIGINT);
-- Per shadow-IT application (the shadow_it view's) and window of pipeline.domain.rules.SHADOW_GROWTH_DAYS: its
-- active users (28-day) as of the last refresh minus as of that many days before, from the daily rollups
-- (pipeline/sql/shadow_growth.sql); no row when the earlier day is not known or its count would reveal a group under k.
CREATE TABLE IF NOT EXISTS shadow_it_growth (application VARCHAR, window_days INTEGER, growth BIGINT);
CREATE TABLE IF NOT EXISTS objective_attainment (objective VARCHAR, name VARCHAR, attainment DOUBLE);
-- Per day (organisation's time zone), device, source and user: events stored (Store.write adds each batch's). Per
-- person (device and user pseudonyms): the privacy role's, kept as long as raw events (pipeline/retention.py); the
-- collectors' health (pipeline/figures/fleet.py) counts devices from it.
CREATE TABLE IF NOT EXISTS device_daily (
    day DATE NOT NULL, device_id VARCHAR NOT NULL, source VARCHAR NOT NULL, "user" VARCHAR NOT NULL,
    events BIGINT NOT NULL, PRIMARY KEY (day, device_id, source, "user")
);
-- Each device and source that reported in the 28-day window of the last refresh's as-of day: its last day and whether
-- it has been silent for more than ALIGNMON_SILENT_DAYS days. Per person: the privacy role's (view silent_devices).
CREATE TABLE IF NOT EXISTS collector_devices (
    as_of DATE, device_id VARCHAR, source VARCHAR, "user" VARCHAR, department VARCHAR, last_day DATE,
    days_silent INTEGER, silent BOOLEAN
);
