"""Scrape cost of the exporter: /metrics latency and size with many investments and departments.

Builds a real DuckDB file with a synthetic catalog (N investments, each targeting the whole directory of D
departments, so every investment has D department series), a directory, and 28 days of usage; runs the
adoption refresh; serves the real exporter over HTTP and scrapes it repeatedly. Reports the HTTP latency,
the time spent inside the collector (DuckDB reads + building families: the part alignmon controls), the
exposition size and the number of series.

    .venv/bin/python bench/scrape.py                      # 2,000 investments x 20 departments
    .venv/bin/python bench/scrape.py --investments 200 --departments 5
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from host import machine  # bench/host.py: these scripts run from bench/

from alignmon.stack.process import free_port
from base.directory import load_directory
from base.pseudonym import pseudonymise
from metrics.exporter import PipelineCollector, serve
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.refresh import refresh, sync_catalog
from pipeline.store import Store

KEY = b"bench-key"
AS_OF = date(2026, 11, 20)


def build(tmp: Path, investments: int, departments: int, users_per_department: int) -> Store:
    apps = [
        {"id": f"app{i}", "name": f"App {i}", "capability": f"cap{i % 40}", "match": {"names": [f"app{i}.exe"]}}
        for i in range(investments)
    ]
    per_initiative = 20
    objectives = []
    for o in range(max(investments // (per_initiative * 10), 1)):
        initiatives = []
        for n in range(10):
            first = (o * 10 + n) * per_initiative
            if first >= investments:
                break
            initiatives.append(
                {
                    "id": f"ini{o}-{n}",
                    "name": f"Initiative {o}.{n}",
                    "domain": "it_strategy",
                    "perspective": "strategy_execution",
                    "investments": [
                        {
                            "id": f"inv{i}",
                            "applications": [f"app{i}"],
                            "seats": 500,
                            "annual_cost": 10000 + i,
                            "currency": "EUR",
                            "owner": {"name": f"Owner {i % 50}", "email": f"owner{i % 50}@example.org"},
                            "go_live": str(AS_OF - timedelta(days=120)),
                            "target_ratio": 0.6,
                            "target_date": str(AS_OF + timedelta(days=120)),
                        }
                        for i in range(first, min(first + per_initiative, investments))
                    ],
                }
            )
        objectives.append({"id": f"obj{o}", "name": f"Objective {o}", "initiatives": initiatives})
    (tmp / "catalog").mkdir()
    (tmp / "catalog" / "catalog.yaml").write_text(yaml.safe_dump({"applications": apps, "objectives": objectives}))
    people = [(f"user{d}-{u}", f"Dept{d:02d}") for d in range(departments) for u in range(users_per_department)]
    (tmp / "directory.csv").write_text("user,department\n" + "".join(f"{u},{d}\n" for u, d in people))

    store = Store(tmp / "bench.duckdb")
    produced = int(time.time() * 1000)
    offset = 0
    for back in range(27, -1, -1):
        day = AS_OF - timedelta(days=back)
        payloads = []
        for n, (user, _dept) in enumerate(people):
            for k in range(3):  # each person uses three applications a day
                app = (n * 7 + k * 131 + back) % investments
                start = datetime(day.year, day.month, day.day, 9 + k, tzinfo=UTC)
                payloads.append(
                    json.dumps(
                        {
                            "event_id": f"{user}-{day}-{k}",
                            "kind": "focus",
                            "device_id": f"d-{user}",
                            "user": pseudonymise(user, KEY),
                            "app": f"app{app}.exe",
                            "start": start.isoformat(),
                            "duration_s": 900,
                            "source": "bench",
                        }
                    ).encode()
                )
        store.write(decode([Record("bench", 0, offset + i, produced, p) for i, p in enumerate(payloads)]))
        offset += len(payloads)
    catalog = load_catalog(tmp / "catalog", load_directory(tmp / "directory.csv", KEY))
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, AS_OF)
    return store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--investments", type=int, default=2000)
    parser.add_argument("--departments", type=int, default=20)
    parser.add_argument("--users-per-department", type=int, default=25)
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        store = build(Path(tmp), args.investments, args.departments, args.users_per_department)
        print(
            f"built {args.investments} investments x {args.departments} departments "
            f"({args.departments * args.users_per_department} people) in {time.perf_counter() - began:.1f}s",
            file=sys.stderr,
        )
        collector = PipelineCollector(store.cursor)
        port = free_port()
        server = serve(collector, "127.0.0.1", port)
        inside, latency, size, series = [], [], 0, 0
        with httpx.Client(timeout=60) as http:
            http.get(f"http://127.0.0.1:{port}/metrics")  # warm-up
            for _ in range(args.scrapes):
                t0 = time.perf_counter()
                body = http.get(f"http://127.0.0.1:{port}/metrics").text
                latency.append(time.perf_counter() - t0)
                t1 = time.perf_counter()
                list(collector.collect())
                inside.append(time.perf_counter() - t1)
                size = len(body.encode())
                series = sum(1 for ln in body.splitlines() if ln and not ln.startswith("#"))
        server.shutdown()
        store.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def q(values: list[float], p: float) -> float:
        return sorted(values)[min(int(len(values) * p), len(values) - 1)] * 1000

    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"machine: {machine()}")
    print("| investments x departments | series | size | scrape p50 / p95 (HTTP) | collector p50 | peak RSS |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.investments:,} x {args.departments} | {series:,} | {size / 1024 / 1024:.1f} MiB | "
        f"{statistics.median(latency) * 1000:.0f} / {q(latency, 0.95):.0f} ms | "
        f"{statistics.median(inside) * 1000:.0f} ms | {rss:.0f} MiB |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
