"""Fleet enrolment: how fast `alignmon tokens issue --from` issues tokens for many devices, against one device per
process.

Run: .venv/bin/python bench/tokens.py [--devices 10000] [--repeat 3]
Each run is the real command line as an administrator types it (`alignmon tokens issue --from devices.csv --out
tokens.csv`, a child process: start-up, CSV check, one SQLite transaction, the 0600 file), on a fresh token
database, then again over the same devices (every token replaced) and as a rotation (`tokens rotate --from`, the
old tokens kept for the grace period). Wall time per run, best of --repeat (with that run's CPU time, user + system,
which a busy machine inflates less); devices/s = devices / that wall time. For comparison, `alignmon tokens issue
DEVICE` (one device, one process) is timed --repeat times. The output file is checked (one row per device, mode
0600, its tokens accepted by the store) so the numbers are of a run that did its job.
"""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from host import report  # bench/host.py: these scripts run from bench/

from collectors.gateway.tokens import TokenStore


def alignmon(*args: str) -> tuple[float, float]:
    """Run `alignmon ARGS` as a child process (it must succeed): its wall time and CPU time (user + system), in s."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "alignmon.cli", *args], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"alignmon {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def check(out: Path, db: Path, devices: int) -> None:
    """The tokens file has every device, is private, and its tokens are the store's."""
    if out.stat().st_mode & 0o077:
        raise SystemExit(f"{out} is readable by others: {oct(out.stat().st_mode)}")
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != devices or len({r["device"] for r in rows}) != devices:
        raise SystemExit(f"{out}: {len(rows)} rows for {devices} devices")
    store = TokenStore(db)
    try:
        for row in rows[:: max(1, devices // 100)]:
            if store.authenticate(row["token"]) != row["device"]:
                raise SystemExit(f"{out}: the token of {row['device']} is not accepted")
    finally:
        store.close()


def fleet(work: Path, devices: int, repeat: int) -> dict[str, Any]:
    source = work / "devices.csv"
    source.write_text("device,serial\n" + "".join(f"bench-{n:06d},SN{n:08d}\n" for n in range(devices)))
    times: dict[str, list[tuple[float, float]]] = {"fresh": [], "replace": [], "rotate": []}
    for run in range(repeat):
        db = work / f"tokens-{run}.sqlite"
        for step, action in (("fresh", "issue"), ("replace", "issue"), ("rotate", "rotate")):
            out = work / f"{step}-{run}.csv"
            times[step].append(alignmon("tokens", "--db", str(db), action, "--from", str(source), "--out", str(out)))
            check(out, db, devices)
    single_db = work / "single.sqlite"
    single = [alignmon("tokens", "--db", str(single_db), "issue", f"one-{n}") for n in range(repeat)]
    result: dict[str, Any] = {"devices": devices, "repeat": repeat}
    for step, samples in times.items():
        wall, cpu = min(samples)
        result[step] = {
            "best_s": round(wall, 3),
            "its_cpu_s": round(cpu, 3),
            "runs_s": [round(s[0], 3) for s in samples],
            "devices_per_s": round(devices / wall),
        }
    one, one_cpu = sorted(single)[len(single) // 2]
    result["one_device_per_process"] = {
        "median_s": round(one, 3),
        "its_cpu_s": round(one_cpu, 3),
        "devices_per_s": round(1 / one, 2),
        "hours_for_the_fleet": round(devices * one / 3600, 2),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--devices", type=int, default=10_000, help="devices in the CSV (default 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step; the best counts (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="alignmon-bench-tokens-") as tmp:
        result = fleet(Path(tmp), args.devices, args.repeat)
    report("tokens.py", sys.argv[1:] if argv is None else argv, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
