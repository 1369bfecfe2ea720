"""The DuckDB tables the pipeline writes; `migrate` creates what is missing and is safe to repeat."""

from __future__ import annotations

import duckdb

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
    payload         VARCHAR NOT NULL
);
-- Incremental daily rollup per user and raw application identifier, in the organisation's time
-- zone; spans that cross midnight are split. Mapping raw identifiers to catalog applications
-- happens at query time, so a catalog change never needs a re-computation of history.
CREATE TABLE IF NOT EXISTS usage_daily (
    day        DATE NOT NULL,
    "user"     VARCHAR NOT NULL,
    app        VARCHAR NOT NULL,
    focus_s    DOUBLE NOT NULL,
    open_s     DOUBLE NOT NULL,
    launches   INTEGER NOT NULL,
    department VARCHAR,
    PRIMARY KEY (day, "user", app)
);
"""


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(TABLES)
