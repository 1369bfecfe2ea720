"""The pipeline's DuckDB file: one transaction per batch holds the rows, the rejects and the offsets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.batch import Batch
from pipeline.schema import migrate

log = logging.getLogger(__name__)

# New rows only: none already stored (decode already dropped repeats within the batch). The probe
# on `events` is limited to the batch's time range so its cost follows the batch, not the history.
_FRESH = """
CREATE OR REPLACE TEMP TABLE fresh AS
SELECT b.* FROM batch b
WHERE NOT EXISTS (
    SELECT 1 FROM events e
    WHERE e.start BETWEEN (SELECT min(start) FROM batch) AND (SELECT max(start) FROM batch)
      AND e.event_id = b.event_id)
"""

# Add every span's seconds into the daily rollup, split at local midnight (timezone() turns a local
# day into an instant, so DST days have their real length). Nearly all spans lie within one day and
# take the direct branch; only the few that cross midnight pay for the split (5x cheaper overall).
_ROLLUP = """
INSERT INTO usage_user_daily BY NAME
WITH f AS (
    SELECT "user", app, kind, department, start, duration_s,
           date_trunc('day', timezone($tz, start)) AS d0,
           date_trunc('day', timezone($tz, start + to_microseconds(
               greatest((duration_s * 1e6)::BIGINT - 1, 0)))) AS d1
    FROM fresh),
spans AS (
    SELECT "user", app, kind, department, d0::DATE AS day,
           CASE WHEN kind = 'launch' THEN 0 ELSE duration_s END AS secs
    FROM f WHERE d0 = d1
    UNION ALL
    SELECT f."user", f.app, f.kind, f.department, d::DATE AS day,
           CASE WHEN f.kind = 'launch' THEN 0 ELSE epoch(
               least(f.start + to_microseconds((f.duration_s * 1e6)::BIGINT),
                     timezone($tz, (d + INTERVAL 1 DAY)::TIMESTAMP))
               - greatest(f.start, timezone($tz, d::TIMESTAMP))) END AS secs
    FROM f, generate_series(f.d0, f.d1, INTERVAL 1 DAY) AS g(d)
    WHERE f.d0 <> f.d1)
SELECT day, "user", app,
       sum(CASE WHEN kind = 'focus' THEN secs ELSE 0 END) AS focus_s,
       sum(CASE WHEN kind = 'open' THEN secs ELSE 0 END) AS open_s,
       count(*) FILTER (WHERE kind = 'launch')::INTEGER AS launches,
       max(department) AS department
FROM spans
GROUP BY ALL
ON CONFLICT (day, "user", app) DO UPDATE SET
    focus_s = focus_s + excluded.focus_s,
    open_s = open_s + excluded.open_s,
    launches = launches + excluded.launches,
    department = coalesce(excluded.department, department)
"""


class Store:
    """The single writer of the pipeline's DuckDB file."""

    def __init__(self, path: Path | str, timezone: str = "UTC", memory_limit: str | None = None) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(path))
        self.con.execute("SET TimeZone = 'UTC'")
        if memory_limit:
            # DuckDB's default is 80% of RAM: a long backlog would grow its cache far beyond what it needs.
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.timezone = timezone
        migrate(self.con)

    def close(self) -> None:
        self.con.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for another thread (the exporter, the snapshot): it sees committed data only."""
        return self.con.cursor()

    def stored_offsets(self, topic: str) -> dict[int, int]:
        rows = self.con.execute(
            'SELECT "partition", next_offset FROM kafka_offsets WHERE topic = ?', [topic]
        ).fetchall()
        return {int(p): int(o) for p, o in rows}

    def write(self, batch: Batch, high_watermarks: dict[tuple[str, int], int] | None = None) -> int:
        """Commit one batch atomically; returns the number of new rows (duplicates by event_id are dropped)."""
        con = self.con
        now = datetime.now(UTC)
        con.execute("BEGIN")
        try:
            con.register("batch", batch.rows)
            con.execute(_FRESH)
            inserted = int(con.execute("SELECT count(*) FROM fresh").fetchone()[0])  # type: ignore[index]
            con.execute("INSERT INTO events SELECT * FROM fresh")
            con.execute(
                "INSERT INTO ingest_totals SELECT source, kind, count(*) FROM fresh GROUP BY ALL "
                "ON CONFLICT (source, kind) DO UPDATE SET events = events + excluded.events"
            )
            con.execute(_ROLLUP, {"tz": self.timezone})
            # Days touched by new rows must be recomputed by the next adoption refresh.
            con.execute(
                "UPDATE refresh_state SET dirty_from = least(coalesce(dirty_from, m), m) "
                "FROM (SELECT min(timezone($tz, start))::DATE AS m FROM fresh) WHERE m IS NOT NULL",
                {"tz": self.timezone},
            )
            if batch.rejected:
                rs = batch.rejected
                rejected = pa.table(
                    {
                        "kafka_topic": [r.topic for r in rs],
                        "kafka_partition": pa.array([r.partition for r in rs], pa.int32()),
                        "kafka_offset": pa.array([r.offset for r in rs], pa.int64()),
                        "event_index": pa.array([r.position for r in rs], pa.int32()),
                        "received_at": [now] * len(rs),
                        "reason": [r.reason for r in rs],
                        "payload": [r.payload for r in rs],
                    }
                )
                con.register("rejected_batch", rejected)
                con.execute("INSERT INTO rejected_events BY NAME SELECT * FROM rejected_batch")
                con.unregister("rejected_batch")
            hw = high_watermarks or {}
            if batch.next_offsets:
                con.executemany(
                    "INSERT OR REPLACE INTO kafka_offsets VALUES (?, ?, ?, ?, ?)",
                    [[t, p, o, hw.get((t, p)), now] for (t, p), o in batch.next_offsets.items()],
                )
            con.execute("DROP TABLE fresh")
            con.unregister("batch")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return inserted
