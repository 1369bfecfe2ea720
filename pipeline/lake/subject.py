"""Data-subject rights in the lake: a person's raw events there (access, art. 15), and erasure (art. 17).

Access: the pipeline's file keeps only the hot days of raw events once they are in the lake (publisher.offload), so
a person's older events are read from the lake's `private/events`.

Erasure: each Parquet object of `private/` that holds a row of the person is written again without those rows
(atomically, as every lake write), and its day's manifest gets the new row counts and a new `published_at`: a file
that did not erase (a standby's, a copy) is then behind the lake and is rebuilt rather than resumed with the person's
rows. The k-safe aggregates hold no person and stay. The audit rows of accesses and erasures are kept in `_audit/`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.lake.location import Lake
from pipeline.lake.publisher import EVENTS, ROLLUPS

PERSONAL = {EVENTS: "events", ROLLUPS[0]: "usage_user_daily"}  # lake prefix -> the pipeline's table it mirrors
AUDIT = "_audit"


def events_of(lake: Lake, pseudonym: str) -> list[dict[str, Any]]:
    """The person's raw events in the lake, as rows of the pipeline's `events` table (the day is in the path)."""
    files = [lake.path(f) for f in lake.files(EVENTS) if f.endswith(".parquet")]
    if not files:
        return []
    dataset = ds.dataset(files, filesystem=lake.filesystem, format="parquet")  # no partitioning: no `day` column
    rows: list[dict[str, Any]] = dataset.to_table(filter=ds.field("user") == pseudonym).to_pylist()
    return rows


def erase(lake: Lake, pseudonym: str) -> dict[str, int]:
    """Delete the person's rows from every per-person object, then bring the manifests up to date (a new
    `published_at` where anything changed: any file but the erasing one is then behind). Returns the rows deleted per
    pipeline table."""
    counts = dict.fromkeys(PERSONAL.values(), 0)
    for prefix, table_name in PERSONAL.items():
        for path in lake.files(prefix):
            if not path.endswith(".parquet"):
                continue
            table = pq.read_table(lake.path(path), filesystem=lake.filesystem)
            theirs = pc.fill_null(pc.equal(table["user"], pseudonym), False)
            removed = int(pc.sum(theirs).as_py() or 0)
            if removed:
                lake.put_parquet(path, table.filter(pc.invert(theirs)))
                counts[table_name] += removed
    _recount(lake)
    return counts


def _recount(lake: Lake) -> None:
    """Every manifest whose per-person files or row counts differ from the objects there now gets them and a new
    `published_at`: the days this erasure rewrote, and those of an earlier one interrupted before its manifests."""
    present = {prefix: set(lake.files(prefix)) for prefix in PERSONAL}
    for manifest in lake.files("_manifests"):
        document = json.loads(lake.get(manifest) or b"{}")
        changed = False
        for prefix in PERSONAL:
            entry = document.get("files", {}).get(prefix)
            if entry is None:
                continue
            files = [f for f in entry["files"] if f in present[prefix]]  # retention may have deleted some
            rows = sum(pq.read_metadata(lake.path(f), filesystem=lake.filesystem).num_rows for f in files)
            if files != entry["files"] or rows != entry["rows"]:
                entry["files"], entry["rows"], changed = files, rows, True
        if changed:
            document["published_at"] = datetime.now(UTC).isoformat()
            lake.put(manifest, json.dumps(document, indent=1).encode())


def record(lake: Lake, row: dict[str, Any]) -> None:
    """One `privacy_audit` row kept in the lake (`_audit/`), so a rebuilt file still knows every access and
    erasure, and still drops an erased person's older events when Kafka delivers them again."""
    lake.put(f"{AUDIT}/{row['done_at'].strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json",
             json.dumps(row, default=str).encode())  # fmt: skip


def audit(lake: Lake) -> list[dict[str, Any]]:
    """Every audit row the lake keeps, oldest first."""
    rows = [json.loads(lake.get(path) or b"{}") for path in lake.files(AUDIT) if path.endswith(".json")]
    return sorted(rows, key=lambda r: str(r.get("done_at")))
