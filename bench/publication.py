"""The analysts' publication at 1 M, 10 M and 100 M events of history: whole, and from the last one (the pipeline's).

For each size, a pipeline file holds one real stored weekday of a ~10,000-person organisation (decode + Store.write,
~250,000 events) and its per-person daily rollups cloned back over as many days as the size needs (the history is
synthesised as rollups, not pushed through Kafka: publication reads rollups and figures, never the events table).
After a first refresh and a first (whole) publication, a steady-state step is timed seven times (the median is
reported): a batch of new events of the last day, the refresh, and the publication from the last one
(pipeline.snapshot with `since` = that day), which is what the running pipeline does; the main loop waits for it,
so its time is the writer's stall. A whole publication of the same file is timed for comparison.

    .venv/bin/python bench/publication.py                    # 1 M, 10 M and 100 M events (~10 min, ~6 GiB disk)
    .venv/bin/python bench/publication.py --sizes 1 --scale 5  # a quick look
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from host import report  # bench/host.py: these scripts run from bench/

from alignment import views
from alignmon.analysts import ANALYSTS_OBJECTS
from base.directory import load_directory
from collectors.simulate import Organisation
from pipeline.batch import Record, decode
from pipeline.catalog import Catalog, load_catalog
from pipeline.refresh import refresh, sync_catalog
from pipeline.snapshot import publish
from pipeline.store import Store

KEY = b"bench-publication-key"
AS_OF = date(2026, 11, 20)  # a Friday: a working day's events
STEP_EVENTS = 5_000  # a steady-state batch: a few seconds of a large fleet
STEPS = 7  # steady-state steps timed per size (median reported)


def _store_day(store: Store, org: Organisation, day: date, offset: int, *, prefix: str = "", limit: int = 0) -> int:
    rows = list(org.dicts_for_day(day, pseudonymise_with=KEY, with_department=True))
    rows = rows[:limit] if limit else rows
    produced = int(time.time() * 1000)
    records = [
        Record("t", 0, offset + i, produced, json.dumps({**r, "event_id": prefix + r["event_id"]}).encode())
        for i, r in enumerate(rows)
    ]
    store.write(decode(records))
    return len(rows)


def _refresh(store: Store, catalog: Catalog) -> None:
    refresh(store.con, catalog, AS_OF)
    views.refresh(store.con, catalog, AS_OF, catalog_changed=False)


def size(tmp: Path, org: Organisation, catalog: Catalog, millions: float) -> dict[str, object]:
    store = Store(tmp / "pipeline.duckdb")
    views.install(store.con)
    sync_catalog(store.con, catalog)
    day_events = _store_day(store, org, AS_OF, 0)
    days = max(1, round(millions * 1e6 / day_events))
    began = time.perf_counter()
    store.con.execute(
        'INSERT INTO usage_user_daily SELECT day - INTERVAL (n) DAY, "user", app, focus_s, open_s, launches, '
        "department FROM usage_user_daily CROSS JOIN range(1, ?) r(n) WHERE day = ?",
        [days, AS_OF],
    )
    store.con.execute("UPDATE refresh_state SET dirty_from = ?, computed_to = NULL", [AS_OF - timedelta(days=days)])
    _refresh(store, catalog)
    built_s = time.perf_counter() - began
    target = tmp / "analysts.duckdb"
    publish(store.con, target, ANALYSTS_OBJECTS)  # the process's first publication is whole

    steps, refreshes = [], []
    for n in range(STEPS):
        offset = day_events + n * STEP_EVENTS
        _store_day(store, org, AS_OF, offset, prefix=f"step{n}-", limit=STEP_EVENTS)
        began = time.perf_counter()
        _refresh(store, catalog)
        refreshes.append(time.perf_counter() - began)
        began = time.perf_counter()
        publish(store.con, target, ANALYSTS_OBJECTS, since=AS_OF)
        steps.append(time.perf_counter() - began)
    began = time.perf_counter()
    publish(store.con, tmp / "whole.duckdb", ANALYSTS_OBJECTS)
    whole_s = time.perf_counter() - began
    rollups = store.con.execute("SELECT count(*) FROM usage_user_daily").fetchone()[0]  # type: ignore[index]
    usage_rows = store.con.execute("SELECT count(*) FROM usage_daily").fetchone()[0]  # type: ignore[index]
    store.close()
    result = {
        "events of history (M)": round(days * day_events / 1e6, 1),
        "days": days,
        "rollup rows": rollups,
        "usage_daily rows": usage_rows,
        "analysts' file MiB": round(target.stat().st_size / 2**20, 1),
        "publication from the last one s (writer's stall), median": round(statistics.median(steps), 3),
        "publication from the last one s, slowest": round(max(steps), 3),
        "whole publication s": round(whole_s, 3),
        "refresh before it s, median": round(statistics.median(refreshes), 3),
        "history built in s": round(built_s, 1),
    }
    for path in tmp.iterdir():
        path.unlink()
    return result


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[1, 10, 100], help="millions of events (default 1 10 100)")
    p.add_argument("--scale", type=float, default=48, help="organisation scale (48: ~10,000 people)")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="alignmon-bench-publication-"))
    org = Organisation.build(7, args.scale, AS_OF)
    setup = tmp / "setup"
    (setup / "catalog").mkdir(parents=True)
    org.write_catalog(setup / "catalog" / "catalog.yaml")
    org.write_directory(setup / "directory.csv")
    catalog = load_catalog(setup / "catalog", load_directory(setup / "directory.csv", KEY))
    work = tmp / "work"
    work.mkdir()
    results = [size(work, org, catalog, m) for m in args.sizes]
    steps = [r["publication from the last one s (writer's stall), median"] for r in results]
    summary = {
        "people": len(org.users),
        "sizes": results,
        "largest / smallest publication from the last one": round(float(steps[-1]) / float(steps[0]), 2),  # type: ignore[arg-type]
    }
    shutil.rmtree(tmp)
    report("publication.py", argv, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
