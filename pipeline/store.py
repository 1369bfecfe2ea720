"""The pipeline's DuckDB file: one transaction per batch holds the rows, the rejects and the offsets."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from base.errors import DatabaseInUseError
from pipeline import sql
from pipeline.batch import Batch
from pipeline.errors import NewerSchemaError
from pipeline.schema import EVENT_KEY, migrate
from pipeline.transaction import transaction

log = logging.getLogger(__name__)

# The rows of a batch that are not new: a (device_id, event_id) already stored within the dedup horizon, whatever
# its start (decode already dropped repeats within the batch), or an erased person's event from before the erasure,
# which stays erased whenever it arrives (a late resend, Kafka read again after a rebuild): pipeline/subject.py.
# Usually none: the new rows are then the batch itself, read in place (Arrow), never copied into a table first.
_REPEATS = f"""
SELECT _row FROM batch b
WHERE EXISTS (SELECT 1 FROM event_keys k WHERE k.key = {EVENT_KEY})
OR EXISTS (
    SELECT 1 FROM privacy_audit a WHERE a.action = 'erase' AND a.subject = b."user" AND b.start <= a.done_at
)
"""


# Each device's events per local day, for the collectors' health (pipeline/figures/fleet.py); {rows} is the new
# rows (`fresh`) or, once for a file from before the table, every stored event.
_DEVICE_DAYS = """
INSERT INTO device_daily
SELECT timezone($tz, start)::DATE, device_id, source, "user", count(*) FROM {rows} GROUP BY ALL
ON CONFLICT (day, device_id, source, "user") DO UPDATE SET events = events + excluded.events
"""


def connect(path: Path | str, *, advice: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file; a file another process holds is a DatabaseInUseError saying who and `advice`.

    A second writer (or a reader beside the writer) is an operator's mistake, not a bug: one line, no traceback.
    """
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        in_use = DatabaseInUseError.from_lock_failure(path, exc, advice)
        if in_use is None:
            raise
        raise in_use from exc


class Store:
    """The single writer of the pipeline's DuckDB file."""

    def __init__(
        self,
        path: Path | str,
        timezone: str = "UTC",
        memory_limit: str | None = None,
        dedup_horizon_days: int = 14,
    ) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = connect(
            path, advice="stop it (is the pipeline running?) or query the analysts' snapshot with `alignmon sql`"
        )
        self.con.execute("SET TimeZone = 'UTC'")
        if memory_limit:
            # DuckDB's default is 80% of RAM: a long backlog would grow its cache far beyond what it needs.
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.timezone = timezone
        self.dedup_horizon = timedelta(days=dedup_horizon_days)
        self._pruned_on: date | None = None
        try:
            migrate(self.con, self.path)
        except NewerSchemaError:
            self.con.close()
            raise
        if self.con.execute("SELECT NOT EXISTS (FROM device_daily) AND EXISTS (FROM events)").fetchone() == (True,):
            self.con.execute(_DEVICE_DAYS.format(rows="events"), {"tz": timezone})  # a file from before the table
        if str(path) != ":memory:":
            # After a kill -9 the write-ahead log can end in a torn entry, and commits appended behind it
            # were lost at the next kill (bench/chaos.py saw committed batches roll back, six kills in a
            # row). Folding the replayed log into the file at every open starts each run on a fresh log.
            self.con.execute("CHECKPOINT")
            # Per-person rows: the pipeline's own file is for its user (and the privacy role) only.
            self.path.chmod(0o600)

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

    def accepts(self, batch: Batch) -> bool:
        """Whether the store can write `batch` now (written, then rolled back): tells a bad record from a bad store."""
        try:
            self.write(batch, dry_run=True)
        except Exception:  # any failure is the answer
            log.exception("the store cannot write a known-good batch")
            return False
        return True

    def write(
        self, batch: Batch, high_watermarks: dict[tuple[str, int], int] | None = None, *, dry_run: bool = False
    ) -> int:
        """Commit one batch atomically; returns the number of new rows (repeats of a stored key are dropped)."""
        con = self.con
        now = datetime.now(UTC)
        with transaction(con, commit=not dry_run):
            fresh = _new_rows(con, batch.rows)
            con.register("fresh", fresh)
            inserted = int(fresh.num_rows)
            con.execute("INSERT INTO events SELECT * FROM fresh")
            con.execute(f"INSERT INTO event_keys SELECT {EVENT_KEY}, ? FROM fresh", [now.date()])
            if self._pruned_on != now.date():
                con.execute("DELETE FROM event_keys WHERE seen < ?", [now.date() - self.dedup_horizon])
            con.execute(
                "INSERT INTO ingest_totals SELECT source, kind, count(*) FROM fresh GROUP BY ALL "
                "ON CONFLICT (source, kind) DO UPDATE SET events = events + excluded.events"
            )
            sql.execute(con, "rollup", tz=self.timezone)
            con.execute(_DEVICE_DAYS.format(rows="fresh"), {"tz": self.timezone})
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
            con.unregister("fresh")
        if not dry_run:
            self._pruned_on = now.date()
        return inserted


def _new_rows(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> pa.Table:
    """`rows` without the repeats of stored events (_REPEATS)."""
    index = pa.array(range(rows.num_rows), pa.int64())
    con.register("batch", rows.append_column("_row", index))
    try:
        repeats = [row for (row,) in con.execute(_REPEATS).fetchall()]
    finally:
        con.unregister("batch")
    return rows.filter(pc.invert(pc.is_in(index, pa.array(repeats, pa.int64())))) if repeats else rows
