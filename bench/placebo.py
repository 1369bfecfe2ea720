"""The effect estimate's false alarms: a placebo intervention (a day on which nothing changes), seed after seed.

For each seed a simulated organisation plays out a placebo (`alignmon simulate --intervention
INVESTMENT:DEPARTMENT:-DAYS:0`, DAYS = the window and the settling days after it, plus one, so that its window after
is over) in a rollout whose adoption rises in every department alike; its days go through
the real pipeline code (decode, Store.write, sync_catalog) into a DuckDB file, and `alignmon impact`'s estimator
(pipeline.impact.estimates) judges the placebo. Only the events of the investment's target departments are stored:
the estimate reads no other department. Prints how many seeds give each verdict at the default level and, from the
same resamples' level, at 0.95, and the seeds that gave `effect` (a false alarm).

    .venv/bin/python bench/placebo.py --jobs 2         # 100 seeds of the CRM rollout, placebo for Sales (~20 min)
    .venv/bin/python bench/placebo.py --seeds 10 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import NamedTuple

from host import report  # bench/host.py: these scripts run from bench/

from base.directory import load_directory
from collectors.simulate import Organisation
from collectors.simulate.interventions import parse_intervention
from collectors.simulate.population import DEPARTMENTS
from collectors.simulate.stories import STORIES
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.catalog.interventions import load_interventions
from pipeline.domain import rules
from pipeline.domain.impact import Options
from pipeline.impact.estimates import estimate_all
from pipeline.refresh import sync_catalog
from pipeline.store import Store

KEY = b"bench-placebo-key"
AS_OF = date(2026, 11, 18)  # a Wednesday; with 28-day windows the telemetry starts on one too


class Placebo(NamedTuple):
    """What every seed runs."""

    investment: str
    department: str
    window: int
    scale: float
    level: float


def one_seed(seed: int, run: Placebo) -> dict[str, object]:
    """The placebo's verdicts for one seed: at the run's level and at 0.95, with the estimate and its intervals."""
    investment, department, window, scale, level = run
    names = [d.name for d in DEPARTMENTS]
    back = window + rules.EFFECT_SETTLE_DAYS + 1  # the last day of the window after is settled on the as-of day
    placebo = parse_intervention(f"{investment}:{department}:-{back}:0", AS_OF, STORIES, names)
    org = Organisation.build(seed, scale, AS_OF, interventions=[placebo])
    story = next(s for s in STORIES if s.investment == investment)
    kept = set(story.departments or names)
    with tempfile.TemporaryDirectory(prefix="alignmon-bench-placebo-") as name:
        tmp = Path(name)
        (tmp / "catalog").mkdir()
        org.write_catalog(tmp / "catalog" / "catalog.yaml")
        org.write_interventions(tmp / "catalog" / "interventions.yaml")
        org.write_directory(tmp / "directory.csv")
        store = Store(tmp / "placebo.duckdb")
        produced = int(time.time() * 1000)
        offset = 0
        for day in org.backfill_days(2 * window + back + 1):  # the base window's first day to the as-of day
            rows = [
                json.dumps(row).encode()
                for row in org.dicts_for_day(day, pseudonymise_with=KEY, with_department=True)
                if row["department"] in kept
            ]
            if rows:
                store.write(decode([Record("t", 0, offset + i, produced, r) for i, r in enumerate(rows)]))
            offset += len(rows)
        catalog = load_catalog(tmp / "catalog", load_directory(tmp / "directory.csv", KEY))
        sync_catalog(store.con, catalog)
        items = load_interventions(tmp / "catalog", catalog).items
        (at_level,) = estimate_all(store.con, items, AS_OF, Options(window_days=window, level=level))
        (at_95,) = estimate_all(store.con, items, AS_OF, Options(window_days=window, level=0.95))
        store.close()
    return {
        "seed": seed,
        "verdict": str(at_level.verdict),
        "reason": at_level.reason and str(at_level.reason),
        "verdict_at_0.95": str(at_95.verdict),
        "effect": at_level.effect,
        "interval": [at_level.effect_low, at_level.effect_high],
        "interval_at_0.95": [at_95.effect_low, at_95.effect_high],
        "trends": str(at_level.trends),
        "events": offset,
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=100, help="how many seeds (default 100)")
    p.add_argument("--first-seed", type=int, default=1, help="the first seed (default 1)")
    p.add_argument("--investment", default="inv-crm-rollout", help="the simulated investment (default: the CRM)")
    p.add_argument("--department", default="Sales", help="the placebo's department (default Sales)")
    p.add_argument("--window", type=int, default=rules.EFFECT_WINDOW_DAYS, help="days per window (default 28)")
    p.add_argument("--level", type=float, default=rules.EFFECT_LEVEL, help="interval level (default: alignmon's)")
    p.add_argument("--scale", type=float, default=1.0, help="organisation scale (1: Sales 60, Support 40)")
    p.add_argument("--jobs", type=int, default=1, help="seeds run in parallel (default 1)")
    args = p.parse_args(argv)
    began = time.perf_counter()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        run = Placebo(args.investment, args.department, args.window, args.scale, args.level)
        futures = [pool.submit(one_seed, s, run) for s in seeds]
        runs = []
        for n, future in enumerate(futures, start=1):
            runs.append(future.result())
            r = runs[-1]
            print(f"seed {r['seed']}: {r['verdict']} {r['interval']} ({n}/{len(futures)})", file=sys.stderr)
    verdicts = Counter(str(r["verdict"]) for r in runs)
    at_95 = Counter(str(r["verdict_at_0.95"]) for r in runs)
    result = {
        "placebo": f"{args.investment}, {args.department}, "
        f"{args.window + rules.EFFECT_SETTLE_DAYS + 1} days before {AS_OF}, effect 0",
        "seeds": f"{args.first_seed}..{args.first_seed + args.seeds - 1}",
        "level": args.level,
        "verdicts": dict(verdicts),
        "no_detectable_effect": f"{verdicts['no_detectable_effect']} of {len(runs)}",
        "verdicts_at_0.95": dict(at_95),
        "false_alarm_seeds": [r["seed"] for r in runs if r["verdict"] == "effect"],
        "false_alarm_seeds_at_0.95": [r["seed"] for r in runs if r["verdict_at_0.95"] == "effect"],
        "mean_events_per_seed": round(sum(int(str(r["events"])) for r in runs) / len(runs)),
        "seconds": round(time.perf_counter() - began),
    }
    report("placebo.py", argv, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
