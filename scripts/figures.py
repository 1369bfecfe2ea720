"""The analysts' figures of one seeded run, to compare two revisions value for value.

Runs the demo's simulated organisation (seed 7, 60 days, a fixed as-of day) through the real path on a private
stack: `alignmon stack up`, `alignmon simulate --to-kafka`, `alignmon pipeline` until every event is stored, then
`alignmon refresh --as-of`, and dumps every view and table of the analysts' snapshot, rows sorted, as JSON. It uses
nothing but the `alignmon` command, so it runs any revision: --tree puts that checkout first on PYTHONPATH.

    .venv/bin/python scripts/figures.py --tree /tmp/old-checkout --out before.json
    .venv/bin/python scripts/figures.py --out after.json
    .venv/bin/python scripts/figures.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from metrics.scrape import total

AS_OF = "2026-11-18"
SEED, DAYS = "7", "60"
PORTS = {"KAFKA_PORT": 29092, "KAFKA_CONTROLLER_PORT": 29093, "PROMETHEUS_PORT": 29090, "ALERTMANAGER_PORT": 29094}
EXPORTER_PORT = 29708
# Columns that say when something ran, not what it computed.
CLOCK_COLUMNS = {"computed_at", "ingested_at", "published_at", "refreshed_at", "loaded_at", "updated_at"}


def run(tree: Path | None, out: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="alignmon-figures-"))
    env = dict(os.environ)
    env.update({f"ALIGNMON_{k}": str(v) for k, v in PORTS.items()})
    env.update(
        ALIGNMON_STATE_DIR=str(work / "state"),
        ALIGNMON_KAFKA_BOOTSTRAP=f"127.0.0.1:{PORTS['KAFKA_PORT']}",
        ALIGNMON_EXPORTER_PORT=str(EXPORTER_PORT),
        ALIGNMON_DEV_MODE="1",
        ALIGNMON_AS_OF=AS_OF,
        ALIGNMON_CATALOG_DIR=str(work / "sim"),
        ALIGNMON_DIRECTORY_CSV=str(work / "sim" / "directory.csv"),
        ALIGNMON_DUCKDB_PATH=str(work / "alignmon.duckdb"),
        ALIGNMON_SNAPSHOT_PATH=str(work / "snapshot.duckdb"),
        ALIGNMON_TOPIC="figures.usage",
        ALIGNMON_DLQ_TOPIC="figures.usage.dlq",
    )
    if tree:
        env["PYTHONPATH"] = str(tree.resolve())
    cmd = [sys.executable, "-m", "alignmon.cli"]

    def alignmon(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cmd, *args], env=env, check=True, text=True, cwd=work, **kw)

    alignmon("stack", "up")
    try:
        sim = alignmon(
            "simulate",
            "--seed",
            SEED,
            "--days",
            DAYS,
            "--as-of",
            AS_OF,
            "--out-dir",
            str(work / "sim"),
            "--to-kafka",
            capture_output=True,
        )
        total = int(re.findall(r"([\d,]+) events acknowledged", sim.stderr)[-1].replace(",", ""))
        print(f"{total:,} events sent; running the pipeline until all are stored", file=sys.stderr)
        pipeline = subprocess.Popen([*cmd, "pipeline"], env=env, cwd=work)
        try:
            deadline = time.monotonic() + 600
            while (seen := _handled()) < total:
                if time.monotonic() > deadline or pipeline.poll() is not None:
                    raise SystemExit(f"the pipeline handled {seen} of {total} events")
                time.sleep(1)
        finally:
            pipeline.terminate()
            pipeline.wait(timeout=60)
        alignmon("refresh", "--as-of", AS_OF, capture_output=True)
    finally:
        alignmon("stack", "down")
    out.write_text(json.dumps(dump(work / "snapshot.duckdb"), indent=1, sort_keys=True, default=str))
    print(f"{out}: figures of {work / 'snapshot.duckdb'}", file=sys.stderr)


def _handled() -> int:
    url = f"http://127.0.0.1:{EXPORTER_PORT}/metrics"
    return int(sum(total(url, f"alignmon_events_{n}_total") or 0 for n in ("ingested", "rejected")))


def dump(path: Path) -> dict[str, Any]:
    """Every table and view of the file, rows sorted, clock columns left out."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        figures: dict[str, Any] = {}
        for name in names:
            cols = [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall() if r[0] not in CLOCK_COLUMNS]
            select = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(f'SELECT {select} FROM "{name}" ORDER BY ALL').fetchall()
            figures[name] = {"columns": cols, "rows": [[_value(v) for v in row] for row in rows]}
        return figures
    finally:
        con.close()


def _value(v: Any) -> Any:
    return round(v, 9) if isinstance(v, float) else v


def compare(before: Path, after: Path) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    differ = 0
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            differ += 1
            print(f"differs: {name}")
    rows = sum(len(t["rows"]) for t in a.values())
    print(f"{len(a)} tables and views, {rows:,} rows before; {differ} differ")
    return 1 if differ else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tree", type=Path, help="checkout to run (default: this one)")
    p.add_argument("--out", type=Path, help="JSON file for the figures")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="compare two dumps")
    args = p.parse_args()
    if args.compare:
        return compare(*args.compare)
    if not args.out:
        p.error("--out or --compare is required")
    run(args.tree, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
