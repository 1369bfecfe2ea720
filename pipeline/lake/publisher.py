"""Closed days into the lake: per day and table one Parquet object, then the day's manifest (docs/lake.md).

A day is closed `close_after_days` after it ends; it is written once. Events that arrive for a closed day later are
stored as usual and, on the next cycle, added to the lake as an extra events file (the pipeline's dedup has already
dropped resends), while that day's rollups and the aggregates of every day whose window it touches are rewritten
whole. Each object is replaced atomically, and the manifest, written last, says which days are complete.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from base.errors import AlignmonError
from pipeline.domain.rules import MONTH_DAYS
from pipeline.lake.location import Lake
from pipeline.transaction import transaction

LAKE_SCHEMA = 1  # bump when a table's columns change; a lake of a newer schema is refused

# One closed day's rows of each table ($day, $tz); `day` is the Hive partition in the path, not a column.
AGGREGATES = {
    "aggregates/adoption_daily": "SELECT * EXCLUDE (day) FROM adoption_daily WHERE day = $day ORDER BY investment",
    "aggregates/usage_daily": "SELECT * EXCLUDE (day) FROM usage_daily WHERE day = $day ORDER BY ALL",
}
ROLLUPS = (
    "private/usage_user_daily",
    'SELECT * EXCLUDE (day) FROM usage_user_daily WHERE day = $day ORDER BY "user", app',
)
EVENTS = "private/events"
_EVENTS_OF_DAY = """
SELECT * FROM events WHERE timezone($tz, start)::DATE = $day AND ingested_at > $after
ORDER BY kafka_topic, kafka_partition, kafka_offset
"""

STATE = """
CREATE TABLE IF NOT EXISTS lake_days (day DATE PRIMARY KEY, published_at TIMESTAMPTZ NOT NULL, events BIGINT NOT NULL)
"""


@dataclass(frozen=True)
class Cycle:
    """What one publication cycle wrote."""

    written: tuple[date, ...]  # days written for the first time
    amended: tuple[date, ...]  # closed days that received late events
    refreshed: int  # days whose aggregates were rewritten because a late day's windows reach them


def closed_until(today: date, close_after_days: int) -> date:
    """The last closed day as of `today`."""
    return today - timedelta(days=close_after_days + 1)


def publish(con: duckdb.DuckDBPyConnection, lake: Lake, today: date, tz: str, close_after_days: int = 2) -> Cycle:
    """Write every closed day not yet in the lake, and the late events of those already there."""
    con.execute(STATE)
    last = closed_until(today, close_after_days)
    # From the first day with telemetry: the series' days before it are no data, and recomputed as such.
    first = con.execute("SELECT min(day) FROM usage_user_daily").fetchone()
    published = dict(con.execute("SELECT day, published_at FROM lake_days").fetchall())
    start = min([d for d in (first[0] if first else None, *published) if d is not None], default=None)
    if start is None or start > last:
        return Cycle((), (), 0)
    new = [start + timedelta(days=n) for n in range((last - start).days + 1)]
    new = [d for d in new if d not in published]
    late = [
        d
        for (d,) in con.execute(
            # Only events stored since the last write can be late (none is stored during a cycle): the scan stays
            # in the newest part of `events`.
            "SELECT DISTINCT timezone($tz, e.start)::DATE AS d FROM events e JOIN lake_days l "
            "ON l.day = timezone($tz, e.start)::DATE WHERE e.ingested_at > l.published_at "
            "AND e.ingested_at > (SELECT max(published_at) FROM lake_days) - INTERVAL 1 DAY ORDER BY d",
            {"tz": tz},
        ).fetchall()
    ]
    refreshed = 0
    for day in sorted({*new, *late}):
        _write_day(con, lake, day, tz, since=published.get(day))
    if late:  # a late day changes the 28-day windows of the days after it
        after = set(new) | set(late)
        for day in sorted(published):
            if late[0] < day <= late[-1] + timedelta(days=MONTH_DAYS - 1) and day not in after:
                _write_aggregates(con, lake, day)
                refreshed += 1
    return Cycle(tuple(new), tuple(late), refreshed)


def _write_aggregates(con: duckdb.DuckDBPyConnection, lake: Lake, day: date) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for prefix, query in AGGREGATES.items():
        table = con.sql(query, params={"day": day}).to_arrow_table()
        lake.put_parquet(f"{prefix}/day={day}/part-0.parquet", table)
        files[prefix] = {"files": [f"{prefix}/day={day}/part-0.parquet"], "rows": table.num_rows}
    return files


def _write_day(con: duckdb.DuckDBPyConnection, lake: Lake, day: date, tz: str, since: datetime | None) -> None:
    """One day's objects, then its manifest; `since` is when the day was last published (None: never)."""
    manifest = _manifest(lake, day)  # read once: both checks and the events' file list below
    if since is None and manifest:
        raise AlignmonError(
            f"the lake {lake.root} already holds {day}, which this pipeline file never wrote: it would be overwritten "
            "with what this file holds. Move the file aside so the pipeline rebuilds it from the lake, or point "
            "ALIGNMON_LAKE_URL to the lake this file belongs to"
        )
    if since is not None and manifest and datetime.fromisoformat(manifest["published_at"]) != since:
        raise AlignmonError(
            f"the lake's {day} was rewritten by another pipeline (an erasure, or a standby that took over) since this "
            "file wrote it: writing it again from this file could bring back what was erased. Stop this pipeline and "
            "start it again: in standby mode it rebuilds its file from the lake; else move the file aside first"
        )
    files = _write_aggregates(con, lake, day)
    rollups = con.sql(ROLLUPS[1], params={"day": day}).to_arrow_table()
    if rollups.num_rows or since is not None:  # a day without telemetry has no per-person objects
        lake.put_parquet(f"{ROLLUPS[0]}/day={day}/part-0.parquet", rollups)
        files[ROLLUPS[0]] = {"files": [f"{ROLLUPS[0]}/day={day}/part-0.parquet"], "rows": rollups.num_rows}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    events = con.sql(_EVENTS_OF_DAY, params={"day": day, "tz": tz, "after": since or epoch}).to_arrow_table()
    event_files = manifest.get("files", {}).get(EVENTS, {}).get("files", [])
    if events.num_rows:
        # Named by the Kafka positions it holds: a re-run writes the same object again, never a second copy.
        positions = ",".join(
            f"{t}/{p}/{o}"
            for t, p, o in zip(
                events["kafka_topic"].to_pylist(),
                events["kafka_partition"].to_pylist(),
                events["kafka_offset"].to_pylist(),
                strict=True,
            )
        )
        name = "part-0" if since is None else f"late-{hashlib.sha256(positions.encode()).hexdigest()[:16]}"
        path = f"{EVENTS}/day={day}/{name}.parquet"
        lake.put_parquet(path, events)
        if path not in event_files:
            event_files = [*event_files, path]
    earlier = int(manifest.get("files", {}).get(EVENTS, {}).get("rows", 0)) if since is not None else 0
    total = earlier + events.num_rows
    files[EVENTS] = {"files": event_files, "rows": total}
    replay = _replay_from(con, tz, day)
    # The file records the manifest's own time: a standby tells by it whether another pipeline wrote the day since.
    published_at = datetime.now(UTC)
    document = {"schema": LAKE_SCHEMA, "day": str(day), "published_at": published_at.isoformat(),
                "files": files, "replay_from": replay}  # fmt: skip
    lake.put(f"_manifests/day={day}.json", json.dumps(document, indent=1).encode())  # the day is complete
    with transaction(con):
        con.execute("DELETE FROM lake_days WHERE day = ?", [day])
        con.execute("INSERT INTO lake_days VALUES (?, ?, ?)", [day, published_at, total])


def _manifest(lake: Lake, day: date) -> dict[str, Any]:
    raw = lake.get(f"_manifests/day={day}.json")
    return json.loads(raw) if raw else {}


def _replay_from(con: duckdb.DuckDBPyConnection, tz: str, through: date) -> dict[str, dict[str, int]]:
    """Per topic and partition, the first Kafka offset holding an event of a day after `through` (not in the lake
    yet), else the next offset to read: where a rebuild from the lake resumes consuming."""
    rows = con.execute(
        """
        SELECT o.topic, o."partition", coalesce(min(e.kafka_offset), any_value(o.next_offset))
        FROM kafka_offsets o LEFT JOIN events e
          ON e.kafka_topic = o.topic AND e.kafka_partition = o."partition" AND timezone($tz, e.start)::DATE > $through
        GROUP BY o.topic, o."partition" ORDER BY ALL
        """,
        {"tz": tz, "through": through},
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for topic, partition, offset in rows:
        out.setdefault(topic, {})[str(partition)] = int(offset)
    return out


def retain(lake: Lake, raw_from: date, daily_from: date) -> int:
    """Delete the lake's per-person objects of days before the horizons (raw events before `raw_from`, rollups
    before `daily_from`), as the pipeline does in its own file; the k-safe aggregates and the manifests stay.
    Returns the day partitions deleted."""
    deleted = 0
    for prefix, first in ((EVENTS, raw_from), (ROLLUPS[0], daily_from)):
        days = {path.split("/")[2] for path in lake.files(prefix)}  # "<prefix a>/<prefix b>/day=YYYY-MM-DD/..."
        for partition in sorted(days):
            if date.fromisoformat(partition.removeprefix("day=")) < first:
                lake.delete(f"{prefix}/{partition}")
                _forget(lake, partition, prefix)
                deleted += 1
    return deleted


def _forget(lake: Lake, partition: str, prefix: str) -> None:
    """The day's manifest no longer lists the objects retention deleted; its `published_at` stays (every pipeline
    applies the same horizons, so no file is behind for it)."""
    manifest = _manifest(lake, date.fromisoformat(partition.removeprefix("day=")))
    if prefix in manifest.get("files", {}):
        manifest["files"][prefix] = {"files": [], "rows": 0}
        lake.put(f"_manifests/{partition}.json", json.dumps(manifest, indent=1).encode())


def offload(con: duckdb.DuckDBPyConnection, before: date, tz: str) -> int:
    """Delete from the pipeline's file the raw events of days before `before` that the lake holds (their manifest is
    written): the file keeps the hot days, the lake the rest to the retention horizon. Returns the events deleted."""
    con.execute(STATE)
    row = con.execute(
        "DELETE FROM events WHERE timezone($tz, start)::DATE < $before "
        "AND timezone($tz, start)::DATE IN (SELECT day FROM lake_days)",
        {"tz": tz, "before": before},
    ).fetchone()
    return int(row[0]) if row else 0


def unwritten(con: duckdb.DuckDBPyConnection, today: date, close_after_days: int = 2) -> int:
    """Closed days (from the first with telemetry) not yet in the lake."""
    con.execute(STATE)
    row = con.execute(
        "SELECT count(*) FROM range((SELECT min(day) FROM usage_user_daily), $last + 1, INTERVAL 1 DAY) r(d) "
        "WHERE d::DATE NOT IN (SELECT day FROM lake_days)",
        {"last": closed_until(today, close_after_days)},
    ).fetchone()
    return int(row[0]) if row else 0
