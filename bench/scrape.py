"""Scrape cost of the exporter: /metrics latency and size with many investments and departments.

Builds a real DuckDB file with a synthetic catalog (N investments, each targeting the whole directory of D
departments, so every investment has D department series), a directory, and 28 days of usage; runs the
adoption refresh; serves /metrics over HTTP and scrapes it repeatedly (gzip, as Prometheus asks), four ways: as the
pipeline serves it (metrics.exposition: the figures rendered once per refresh, the health per scrape); the same
while the figures are rendered again after a refresh; the limit, the same bytes already rendered and compressed;
and, for comparison, everything read and rendered at each scrape (a plain collector). Reports p50/p95 latency, the
render time after a refresh (what it adds to freshness), the exposition's size and series.

    .venv/bin/python bench/scrape.py                      # 2,000 investments x 20 departments
    .venv/bin/python bench/scrape.py --investments 200 --departments 5
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from host import machine  # bench/host.py: these scripts run from bench/
from prometheus_client import generate_latest

from alignmon.stack.process import free_port
from base.directory import load_directory
from base.pseudonym import pseudonymise
from metrics.exporter import PipelineCollector, serve
from metrics.exposition import Exposition, Families
from metrics.exposition import serve as serve_exposition
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


def _scrapes(server: Any, port: int, n: int) -> tuple[list[float], int, int]:
    """n timed scrapes after a warm-up (gzip, as Prometheus asks); the last body's size and series."""
    latency, text = [], ""
    with httpx.Client(timeout=60) as http:
        http.get(f"http://127.0.0.1:{port}/metrics")
        for _ in range(n):
            t0 = time.perf_counter()
            text = http.get(f"http://127.0.0.1:{port}/metrics").text
            latency.append(time.perf_counter() - t0)
    server.shutdown()
    server.server_close()
    return latency, len(text.encode()), sum(1 for ln in text.splitlines() if ln and not ln.startswith("#"))


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
        per_scrape, size, series = _scrapes(serve(collector, "127.0.0.1", port := free_port()), port, args.scrapes)
        version = [0]
        exposition = Exposition(collector, version=lambda: version[0])
        pipeline, _, _ = _scrapes(serve(exposition, "127.0.0.1", port := free_port()), port, args.scrapes)
        # Scrapes while the figures are rendered again after each of five refreshes (the render shares the GIL).
        during: list[float] = []
        renders: list[float] = []
        server = serve(exposition, "127.0.0.1", port := free_port())
        with httpx.Client(timeout=60) as http:
            for _ in range(5):
                began = time.perf_counter()
                generate_latest(Families(collector.figures))  # what the render thread does, timed here
                renders.append(time.perf_counter() - began)
                version[0] += 1
                deadline = time.perf_counter() + max(renders[-1] * 2, 1.0)
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    http.get(f"http://127.0.0.1:{port}/metrics")
                    during.append(time.perf_counter() - t0)
        server.shutdown()
        exposition.close()
        static = generate_latest(Families(collector.figures)) + generate_latest(Families(collector.health))
        zipped = gzip.compress(static, 1)
        limit, _, _ = _scrapes(
            serve_exposition(lambda z: zipped if z else static, "127.0.0.1", port := free_port()), port, args.scrapes
        )
        store.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def ms(values: list[float], p: float) -> str:
        return f"{sorted(values)[min(int(len(values) * p), len(values) - 1)] * 1000:.0f}"

    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"machine: {machine()}")
    print(f"{args.investments:,} investments x {args.departments} departments: {series:,} series, "
          f"{size / 2**20:.1f} MiB; peak RSS {rss:.0f} MiB")  # fmt: skip
    print("| served | scrape p50 / p95 (HTTP, gzip) |")
    print("|---|---|")
    print(f"| the pipeline (figures rendered per refresh) | {ms(pipeline, 0.5)} / {ms(pipeline, 0.95)} ms |")
    print(f"| the same, while the figures are rendered again | {ms(during, 0.5)} / {ms(during, 0.95)} ms |")
    print(f"| limit: the same bytes already rendered | {ms(limit, 0.5)} / {ms(limit, 0.95)} ms |")
    print(f"| before: everything read and rendered per scrape | {ms(per_scrape, 0.5)} / {ms(per_scrape, 0.95)} ms |")
    print(f"pipeline p50 / limit p50: {statistics.median(pipeline) / statistics.median(limit):.2f}; "
          f"render after a refresh (freshness added, plus up to 0.5 s): p50 {ms(renders, 0.5)} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
