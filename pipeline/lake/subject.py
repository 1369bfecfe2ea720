"""Data-subject rights in the lake: a person's raw events there (access, art. 15), and erasure (art. 17).

Access: the pipeline's file keeps only the hot days of raw events once they are in the lake (publisher.offload), so
a person's older events are read from the lake's `private/events`.

Erasure: each Parquet object of `private/` that holds a row of the person is written again without those rows
(atomically, as every lake write), and its day's manifest gets the new row counts; the day's `published_at` stays,
so a standby does not mistake the erasure for another writer. The k-safe aggregates hold no person and stay.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.lake.location import Lake
from pipeline.lake.publisher import EVENTS, ROLLUPS

PERSONAL = {EVENTS: "events", ROLLUPS[0]: "usage_user_daily"}  # lake prefix -> the pipeline's table it mirrors


def events_of(lake: Lake, pseudonym: str) -> list[dict[str, Any]]:
    """The person's raw events in the lake, as rows of the pipeline's `events` table (the day is in the path)."""
    files = [lake.path(f) for f in lake.files(EVENTS) if f.endswith(".parquet")]
    if not files:
        return []
    dataset = ds.dataset(files, filesystem=lake.filesystem, format="parquet")  # no partitioning: no `day` column
    rows: list[dict[str, Any]] = dataset.to_table(filter=ds.field("user") == pseudonym).to_pylist()
    return rows


def erase(lake: Lake, pseudonym: str) -> dict[str, int]:
    """Delete the person's rows from every per-person object; returns the rows deleted per pipeline table."""
    counts = dict.fromkeys(PERSONAL.values(), 0)
    for prefix, table_name in PERSONAL.items():
        for path in lake.files(prefix):
            if not path.endswith(".parquet"):
                continue
            table = pq.read_table(lake.path(path), filesystem=lake.filesystem)
            theirs = pc.fill_null(pc.equal(table["user"], pseudonym), False)
            removed = int(pc.sum(theirs).as_py() or 0)
            if not removed:
                continue
            lake.put_parquet(path, table.filter(pc.invert(theirs)))
            _recount(lake, path, prefix, removed)
            counts[table_name] += removed
    return counts


def _recount(lake: Lake, path: str, prefix: str, removed: int) -> None:
    """Lower the row count of `path`'s table in its day's manifest (path: <prefix>/day=YYYY-MM-DD/<name>)."""
    day = path.removeprefix(prefix + "/").split("/")[0]
    manifest = f"_manifests/{day}.json"
    raw = lake.get(manifest)
    if raw is None:
        return
    document = json.loads(raw)
    entry = document.get("files", {}).get(prefix)
    if entry is not None:
        entry["rows"] = max(int(entry.get("rows", 0)) - removed, 0)
        lake.put(manifest, json.dumps(document, indent=1).encode())
