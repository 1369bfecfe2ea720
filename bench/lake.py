"""The lake's costs per million events: writing the closed days, its bytes per audience, rebuilding a lost file.

Stores a simulated organisation's days in a real DuckDB file the pipeline's way (decode + Store.write), writes every
closed day to a lake on a local folder (pipeline.lake.publisher), then rebuilds a new file from it
(pipeline.lake.rebuild) and refreshes the figures there. Reports seconds and bytes per million events; for the limit,
the same run's bare cost of writing the stored rows as one Parquet file each (DuckDB COPY), so the ratio says what
the per-day layout costs.

    .venv/bin/python bench/lake.py --scale 10 --days 20  # ~1M events (2,070 people)
    .venv/bin/python bench/lake.py                       # ~75k events: a quick look
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from host import report  # bench/host.py: these scripts run from bench/

from base.directory import load_directory
from collectors.simulate import Organisation
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.lake.location import Lake
from pipeline.lake.publisher import publish
from pipeline.lake.rebuild import rebuild
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store

KEY = b"bench-lake-key"
AS_OF = date(2026, 11, 20)
TODAY = AS_OF + timedelta(days=3)  # every stored day is closed (the default closes a day two days after it ends)


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=15, help="days of history (default 15)")
    p.add_argument("--scale", type=float, default=1.0, help="organisation scale (1: 207 people, ~5,000 events a day)")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="alignmon-bench-lake-"))
    org = Organisation.build(7, args.scale, AS_OF)
    (tmp / "catalog").mkdir()
    org.write_catalog(tmp / "catalog" / "catalog.yaml")
    org.write_directory(tmp / "directory.csv")
    catalog = load_catalog(tmp / "catalog", load_directory(tmp / "directory.csv", KEY))

    store = Store(tmp / "pipeline.duckdb")
    began, offset, produced = time.perf_counter(), 0, int(time.time() * 1000)  # received now: the events are past
    for day in org.backfill_days(args.days):
        rows = [json.dumps(r).encode() for r in org.dicts_for_day(day, pseudonymise_with=KEY, with_department=True)]
        store.write(decode([Record("t", 0, offset + i, produced, r) for i, r in enumerate(rows)]))
        offset += len(rows)
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, AS_OF)
    stored_s = time.perf_counter() - began
    events = int(store.con.execute("SELECT count(*) FROM events").fetchone()[0])  # type: ignore[index]
    millions = events / 1e6

    lake = Lake.open(str(tmp / "lake"))
    began = time.perf_counter()
    cycle = publish(store.con, lake, TODAY, "UTC")
    publish_s = time.perf_counter() - began
    began = time.perf_counter()
    again = publish(store.con, lake, TODAY, "UTC")
    noop_s = time.perf_counter() - began
    began = time.perf_counter()  # the limit: the same rows as one Parquet file per table, no per-day layout
    for table in ("events", "usage_user_daily"):
        store.con.execute(f"COPY {table} TO '{tmp / table}.parquet' (FORMAT parquet, COMPRESSION zstd)")
    copy_s = time.perf_counter() - began
    store.con.execute("CHECKPOINT")
    store.close()
    hot_bytes = (tmp / "pipeline.duckdb").stat().st_size

    rebuilt = Store(tmp / "rebuilt.duckdb")
    began = time.perf_counter()
    days = rebuild(rebuilt.con, lake)
    rebuild_s = time.perf_counter() - began
    began = time.perf_counter()
    sync_catalog(rebuilt.con, catalog)
    refresh(rebuilt.con, catalog, AS_OF)
    refresh_s = time.perf_counter() - began
    rebuilt.close()

    root = tmp / "lake"
    sizes = {name: _bytes(root / name) for name in ("aggregates", "private/events", "private/usage_user_daily")}
    result = {
        "events": events,
        "closed days written": len(cycle.written),
        "store (decode + write + refresh) s": round(stored_s, 1),
        "write the lake s": round(publish_s, 2),
        "write the lake s per M events": round(publish_s / millions, 2),
        "limit: one COPY per table s": round(copy_s, 2),
        "lake / limit": round(copy_s / publish_s, 3),
        "cycle with nothing new s": round(noop_s, 3),
        "nothing new written": not again.written and not again.amended,
        "rebuild s per M events": round(rebuild_s / millions, 2),
        "rebuilt days": days,
        "first refresh after rebuild s": round(refresh_s, 2),
        "lake MiB per M events": {k: round(v / 2**20 / millions, 2) for k, v in sizes.items()},
        "pipeline file MiB per M events (whole history kept)": round(hot_bytes / 2**20 / millions, 1),
        "people": len(org.users),
        "events per person and day": round(events / len(org.users) / args.days, 1),
    }
    shutil.rmtree(tmp)
    report("lake.py", argv, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
