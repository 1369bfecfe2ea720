"""The pipeline's file rebuilt from the lake: the closed days it holds, then Kafka from where the lake ends.

Run on a new (empty) file when a lake is configured: the per-person rollups and raw events of every closed day come
back from the lake's private prefixes, the dedup memory and the running totals from those events, the privacy audit
from `_audit/` (so an erased person's older events stay out when Kafka delivers them again), and the consumer
resumes at the newest manifest's `replay_from` (per partition, the first offset holding an event of a day not yet in
the lake; every record after it was ingested after it, so the dedup memory covers any redelivery). The first refresh
then recomputes every figure from the rollups, as on the file that was lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from base.errors import AlignmonError
from pipeline.lake.location import Lake
from pipeline.lake.publisher import EVENTS, LAKE_SCHEMA, ROLLUPS, STATE
from pipeline.lake.subject import audit
from pipeline.schema import EVENT_KEY
from pipeline.transaction import transaction


def manifests(lake: Lake) -> list[dict[str, Any]]:
    """Every day's manifest, oldest first; a lake written by a newer alignmon is refused."""
    found = [json.loads(lake.get(path) or b"{}") for path in lake.files("_manifests")]
    newer = [m["day"] for m in found if int(m.get("schema", 0)) > LAKE_SCHEMA]
    if newer:
        raise AlignmonError(
            f"the lake at {lake.root} was written by a newer alignmon (schema above {LAKE_SCHEMA}, e.g. {newer[0]}): "
            "upgrade alignmon before it reads or writes this lake"
        )
    return sorted(found, key=lambda m: str(m["day"]))


def superseded(con: duckdb.DuckDBPyConnection, lake: Lake) -> bool:
    """Whether the lake holds a day, or a later version of one, that this file did not write: another pipeline
    (a standby that took over) has written the lake since, and this file's history is behind it."""
    con.execute(STATE)
    kept = set(con.execute("SELECT day, published_at FROM lake_days").fetchall())
    written = {(date.fromisoformat(m["day"]), datetime.fromisoformat(m["published_at"])) for m in manifests(lake)}
    return not written <= kept


def _objects(lake: Lake, prefix: str) -> Iterator[tuple[str, pa.Table]]:
    """Each Parquet object under `prefix`, read whole, one at a time."""
    for path in lake.files(prefix):
        if path.endswith(".parquet"):
            yield path, pq.read_table(lake.path(path), filesystem=lake.filesystem)


def _day(path: str) -> date:
    """The day of an object's Hive partition: `<prefix a>/<prefix b>/day=YYYY-MM-DD/<name>`."""
    return date.fromisoformat(path.split("/")[2].removeprefix("day="))


def _events(con: duckdb.DuckDBPyConnection, lake: Lake, events_from: date, keys_from: date) -> None:
    """The raw events of the hot days, the dedup memory, the running totals and the devices' days, one lake object
    at a time."""
    columns = ", ".join(f'"{r[0]}"' for r in con.execute("SELECT * FROM events LIMIT 0").description)
    con.execute("DELETE FROM ingest_totals")
    for path, table in _objects(lake, EVENTS):
        con.register("lake_events", table)
        if _day(path) >= events_from:
            con.execute(f"INSERT INTO events SELECT {columns} FROM lake_events")
        con.execute(
            f"INSERT INTO event_keys SELECT {EVENT_KEY}, ingested_at::DATE FROM lake_events "
            "WHERE ingested_at::DATE >= $keys",
            {"keys": keys_from},
        )
        con.execute(
            "INSERT INTO ingest_totals SELECT source, kind, count(*) FROM lake_events GROUP BY ALL "
            "ON CONFLICT (source, kind) DO UPDATE SET events = events + excluded.events"
        )
        # The lake keeps raw events as long as the file would, so every device's days come back.
        con.execute(
            'INSERT INTO device_daily SELECT $day, device_id, source, "user", count(*) FROM lake_events GROUP BY ALL '
            'ON CONFLICT (day, device_id, source, "user") DO UPDATE SET events = events + excluded.events',
            {"day": _day(path)},
        )
        con.unregister("lake_events")


def rebuild(
    con: duckdb.DuckDBPyConnection, lake: Lake, events_from: date | None = None, keys_from: date | None = None
) -> int:
    """Fill an empty pipeline file from the lake in one transaction; returns the days restored (0: empty lake).

    With `events_from`, raw events of earlier days stay in the lake only (the file keeps the hot days); with
    `keys_from`, the dedup memory holds the keys of events ingested from that day (the store forgets older ones
    anyway). The running totals count every event the lake holds. Events are read one object at a time, so memory
    follows the largest day, not the history.
    """
    days = manifests(lake)
    if not days:
        return 0
    with transaction(con):
        con.execute(STATE)
        for path, table in _objects(lake, ROLLUPS[0]):
            con.register("lake_rollups", table)
            con.execute(
                'INSERT INTO usage_user_daily SELECT $day, "user", app, focus_s, open_s, launches, department '
                "FROM lake_rollups",
                {"day": _day(path)},
            )
            con.unregister("lake_rollups")
        _events(con, lake, events_from or date.min, keys_from or date.min)
        for topic, partitions in days[-1].get("replay_from", {}).items():
            for partition, offset in partitions.items():
                con.execute(
                    "INSERT OR REPLACE INTO kafka_offsets VALUES (?, ?, ?, NULL, now())",
                    [topic, int(partition), offset],
                )
        for row in audit(lake):  # before Kafka is read again: an erased person's older events stay out
            con.execute(
                "INSERT INTO privacy_audit VALUES (?, ?, ?, ?, ?)",
                [row["done_at"], row["actor"], row["action"], row["subject"], row["detail"]],
            )
        for m in days:
            rows = int(m.get("files", {}).get(EVENTS, {}).get("rows", 0))
            con.execute("INSERT OR REPLACE INTO lake_days VALUES (?, ?, ?)", [m["day"], m["published_at"], rows])
        con.execute("UPDATE refresh_state SET dirty_from = (SELECT min(day) FROM usage_user_daily), computed_to = NULL")
    return len(days)
