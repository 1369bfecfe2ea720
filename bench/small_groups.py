"""The effect estimate's false alarms by group size: simulated people, no true effect, the estimator's verdict.

bench/placebo.py measures the whole path on one simulated rollout (Sales 60 against Support 40); this measures the
estimator alone (pipeline.domain.impact.estimate) where its interval is weakest, in small groups. Each trial draws
people who are active before with probability --before and then switch, the same way in both groups (a non-user
starts with probability --start, a user stops with --stop): any `effect` is a false alarm. The treated group is one
department; the comparison group is split into departments of --department-size people.

    .venv/bin/python bench/small_groups.py --jobs 2        # 400 trials at each of 6/60, 8/80, 10/10, 20/20, 60/40
    .venv/bin/python bench/small_groups.py --sizes 6:60 --trials 1000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from typing import NamedTuple

from host import report  # bench/host.py: these scripts run from bench/

from pipeline.domain import rules
from pipeline.domain.impact import Activity, Group, Options, Subject, Verdict, Windows, estimate

FIRST_DAY = date(2026, 9, 1)
AS_OF = FIRST_DAY + timedelta(days=2 * rules.EFFECT_WINDOW_DAYS + rules.EFFECT_SETTLE_DAYS + 1)
SUBJECT = Subject("placebo", "inv", "training", FIRST_DAY, FIRST_DAY, ("treated",))


class Case(NamedTuple):
    """One setting, run `trials` times."""

    treated: int
    comparison: int
    department_size: int
    before: float
    start: float
    stop: float
    trials: int
    level: float


def _group(rng: random.Random, sizes: Mapping[str, int], case: Case, windows: Windows) -> Group:
    departments: dict[str, dict[Activity, int]] = {}
    for department, n in sizes.items():
        counts: dict[Activity, int] = {}
        for _ in range(n):
            pre = rng.random() < case.before
            post = rng.random() >= case.stop if pre else rng.random() < case.start
            pattern = Activity(pre, pre, post)
            counts[pattern] = counts.get(pattern, 0) + 1
        departments[department] = counts
    size = sum(sizes.values())
    days = (windows.base[0] + timedelta(days=d) for d in range((windows.post[1] - windows.base[0]).days + 1))
    return Group(departments, {day: size for day in days}, size)


def run_case(case: Case, first_trial: int) -> dict[str, int]:
    windows = Windows.around(FIRST_DAY, FIRST_DAY)
    rest = case.comparison
    comparison: dict[str, int] = {}
    while rest > 0:
        comparison[f"comparison {len(comparison) + 1}"] = min(case.department_size, rest)
        rest -= case.department_size
    population = {"treated": case.treated, **comparison}
    verdicts: Counter[str] = Counter()
    for trial in range(first_trial, first_trial + case.trials):
        rng = random.Random(trial)
        treated = _group(rng, {"treated": case.treated}, case, windows)
        others = _group(rng, comparison, case, windows)
        effect = estimate(
            SUBJECT,
            AS_OF,
            treated,
            others,
            comparison_departments=tuple(comparison),
            population=population,
            options=Options(level=case.level, seed=trial),
        )
        verdicts[str(effect.verdict)] += 1
    return dict(verdicts)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--sizes",
        default="6:60,8:80,10:10,20:20,60:40",
        help="treated:comparison people, comma-separated (default 6:60,8:80,10:10,20:20,60:40)",
    )
    p.add_argument("--department-size", type=int, default=20, help="people per comparison department (default 20)")
    p.add_argument("--before", type=float, default=0.5, help="share active in the window before (default 0.5)")
    p.add_argument("--start", type=float, default=0.3, help="chance a non-user starts (default 0.3)")
    p.add_argument("--stop", type=float, default=0.1, help="chance a user stops (default 0.1)")
    p.add_argument("--trials", type=int, default=400, help="trials per size (default 400)")
    p.add_argument("--level", type=float, default=rules.EFFECT_LEVEL, help="interval level (default: alignmon's)")
    p.add_argument("--jobs", type=int, default=1, help="sizes run in parallel (default 1)")
    args = p.parse_args(argv)
    began = time.perf_counter()
    cases = []
    for pair in args.sizes.split(","):
        treated, comparison = (int(n) for n in pair.split(":"))
        case = Case(
            treated, comparison, args.department_size, args.before, args.start, args.stop, args.trials, args.level
        )
        cases.append(case)
    rows = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for case, verdicts in zip(cases, pool.map(run_case, cases, [1] * len(cases)), strict=True):
            alarms = verdicts.get(str(Verdict.EFFECT), 0)
            name = f"{case.treated} against {case.comparison}"
            rows[name] = {
                "verdicts": verdicts,
                "false_alarms": f"{alarms} of {case.trials} ({100 * alarms / case.trials:.2f} %)",
                "nominal": f"{100 * (1 - case.level):.2f} %",
            }
            print(f"{name}: {rows[name]['false_alarms']}", file=sys.stderr)
    settings = {name: getattr(args, name) for name in ("before", "start", "stop", "department_size", "level")}
    took = round(time.perf_counter() - began)
    report("small_groups.py", argv, {"settings": settings, "cases": rows, "seconds": took})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
