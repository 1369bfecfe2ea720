"""Freshness: a steady rate of events through the gateway; when each second's events show in /metrics and Prometheus.

Run: .venv/bin/python bench/freshness.py [--rate 1000] [--seconds 90] [--scrape-interval 5] [--refresh-interval S]

Everything is real and on loopback: a Kafka broker and Prometheus (alignmon.stack, the Debian package's binary with
the shipped rule files), `alignmon gateway` (device tokens issued through its TokenStore), `alignmon pipeline` with
its exporter, and Prometheus scraping that exporter every --scrape-interval seconds. The pipeline runs with the
product's settings but for --refresh-interval (ALIGNMON_REFRESH_INTERVAL_S, default: the product's default).

The feed: --devices devices, each on its own keep-alive connection, post batches of --batch events on a fixed
schedule (open loop) that adds up to --rate events/s, for --warmup + --seconds seconds. Each second is a slot, and
two things make each slot observable on its own:
- every event of slot s carries `source` = fresh-s, so alignmon_events_ingested_total{source="fresh-s"} counts that
  slot's events alone (a bench-only label value, named in ALIGNMON_EXTRA_SOURCES: the product's sources are few);
- one event of slot s is a new user's 6-minute focus on application fresh-s, the only application of investment
  slot-s in the small catalog the bench writes, so alignmon_investment_active_users{investment="slot-s",window="1d"}
  goes from 0 to 1 at the first refresh that counts it (DAU: the adoption figures' own path, refresh + render).

A slot's latency, per stage, counts from when the gateway answered 202 to the slot's last request (ingest) or to the
request carrying the new user's event (adoption):
- /metrics: the first poll (every --poll s, timed when its answer has arrived) showing the slot's whole count / DAU 1;
- Prometheus: the timestamp of the first stored sample showing it (the scrape's start), read back through the query
  API after the feed; it is queryable a scrape's duration later (milliseconds here).
The warm-up's slots are left out of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from gateway import Connection, machine_busy, request_bytes, start_gateway, stop_gateway  # bench/gateway.py
from host import machine  # bench/host.py: these scripts run from bench/

ROOT = Path(__file__).resolve().parents[1]
GATEWAY_SECRET = "bench-secret-not-for-production"  # what bench/gateway.py's start_gateway gives the gateway
SOURCE, INVESTMENT = "fresh-{:03d}", "slot-{:03d}"
ADOPTION_FOCUS_S = 360.0  # over the 5-minute active-day threshold (docs/metrics.md, min_minutes)
OTHER_APPS = ["editor.exe", "browser.exe", "mail.exe"]  # not in the bench's catalog: load for the refresh, no figure
# Label order is the client library's (sorted in the version used), so each label is found on its own.
_INGESTED = re.compile(r'^alignmon_events_ingested_total\{[^}]*\bsource="(fresh-\d+)"[^}]*\} (\S+)$')
_ACTIVE = re.compile(
    r'^alignmon_investment_active_users\{(?=[^}]*\bwindow="1d")[^}]*\binvestment="(slot-\d+)"[^}]*\} (\S+)$'
)
_ROLLUP = "alignmon_pipeline_rollup_duration_seconds "


# -- what the bench writes for the pipeline ---------------------------------------------------------


def write_catalog(folder: Path, slots: int, today: date) -> None:
    """One application and one investment per slot; no target departments, so the population is the directory."""
    folder.mkdir(parents=True)
    doc = {
        "applications": [
            {
                "id": SOURCE.format(s),
                "name": f"Freshness {s}",
                "capability": "bench",
                "match": {"names": [f"{SOURCE.format(s)}.exe"]},
            }
            for s in range(slots)
        ],
        "investments": [
            {
                "id": INVESTMENT.format(s),
                "applications": [SOURCE.format(s)],
                "seats": 10,
                "annual_cost": 1000,
                "currency": "EUR",
                "owner": {"name": "Bench", "email": "bench@example.org"},
                "go_live": (today - timedelta(days=30)).isoformat(),
                "target_ratio": 0.5,
                "target_date": (today + timedelta(days=180)).isoformat(),
            }
            for s in range(slots)
        ],
    }
    (folder / "catalog.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def write_directory(path: Path, users: list[str]) -> None:
    """Everyone in one department, pseudonymised with the gateway's key: a population of at least k, so the
    investments' DAU is exported (a population under k gets none)."""
    from base.pseudonym import key_from, pseudonymise  # noqa: PLC0415

    key = key_from(GATEWAY_SECRET, False)
    path.write_text("user,department\n" + "".join(f"{pseudonymise(u, key)},Bench\n" for u in users))


# -- the feed ---------------------------------------------------------------------------------------


@dataclass
class Sent:
    """One request as answered: its slot, when it was due, sent and answered, and what the gateway accepted."""

    slot: int
    due: float
    sent: float
    done: float
    status: int
    accepted: int
    adoption: bool


def body(device: str, user: str, slot: int, seq: int, *, size: int, adoption: bool) -> bytes:
    """A device's upload: `size` focus spans that ended now, the first one a new user's (adoption) if asked."""
    now = datetime.now(UTC)
    items = []
    for k in range(size):
        span = {
            "event_id": f"{device}-{seq}-{k}",
            "kind": "focus",
            "device_id": device,
            "user": user,
            "app": OTHER_APPS[(seq + k) % len(OTHER_APPS)],
            "start": (now - timedelta(seconds=10)).isoformat(),
            "duration_s": 10.0,
            "source": SOURCE.format(slot),
        }
        if adoption and k == 0:
            span |= {
                "user": f"slot{slot}@bench.example",
                "app": f"{SOURCE.format(slot)}.exe",
                "start": (now - timedelta(seconds=ADOPTION_FOCUS_S)).isoformat(),
                "duration_s": ADOPTION_FOCUS_S,
            }
        items.append(span)
    return json.dumps(items).encode()


async def feed(args: argparse.Namespace, port: int, tokens: dict[str, str], begin: float) -> tuple[list[Sent], int]:
    """Every device's schedule, each on its own connection; a failed request is sent again, as an agent does."""
    loop = asyncio.get_running_loop()
    devices = sorted(tokens)
    interval = len(devices) * args.batch / args.rate  # seconds between one device's requests
    until = begin + args.warmup + args.seconds
    sent: list[Sent] = []
    retries = 0

    async def lane(index: int, device: str) -> None:
        nonlocal retries
        _, conn = await loop.create_connection(Connection, "127.0.0.1", port)
        due = begin + interval * index / len(devices)  # devices spread over the interval
        seq, adopted = 0, -1
        while due < until:
            slot = int(due - begin)
            # The slot's new user goes with the first request of device slot % devices in that slot.
            adoption = slot % len(devices) == index and adopted < slot
            await asyncio.sleep(max(0.0, due - time.time()))
            data = request_bytes(
                tokens[device], body(device, f"{device}@bench.example", slot, seq, size=args.batch, adoption=adoption)
            )
            while True:
                began = time.time()
                try:
                    status, answer = await conn.request(data)
                except ConnectionError:
                    retries += 1
                    _, conn = await loop.create_connection(Connection, "127.0.0.1", port)
                    continue
                if status == 202:
                    break
                retries += 1
                if time.time() > until + 60:  # never wait out a gateway that keeps refusing
                    raise RuntimeError(f"the gateway still answers {status} a minute after the feed: {answer[:200]!r}")
                await asyncio.sleep(0.5)
            done = time.time()
            sent.append(Sent(slot, due, began, done, status, int(json.loads(answer)["accepted"]), adoption))
            adopted = slot if adoption else adopted
            seq += 1
            due += interval
        assert conn.transport is not None
        conn.transport.close()

    await asyncio.gather(*(lane(i, d) for i, d in enumerate(devices)))
    return sent, retries


# -- watching /metrics ------------------------------------------------------------------------------


@dataclass
class Watch:
    """Polls the pipeline's /metrics; keeps each slot's values as they changed, with when they were seen."""

    port: int
    every: float
    ingested: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    active: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    rollup_s: list[float] = field(default_factory=list)
    polls: list[float] = field(default_factory=list)  # each poll's duration
    stopping: threading.Event = field(default_factory=threading.Event)

    def get(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/metrics")
            return conn.getresponse().read().decode()
        finally:
            conn.close()

    def run(self) -> None:
        while not self.stopping.is_set():
            began = time.time()
            try:
                text = self.get()
            except OSError:
                self.stopping.wait(self.every)
                continue
            seen = time.time()
            self.polls.append(seen - began)
            for line in text.splitlines():
                if line.startswith("alignmon_events_ingested_total{"):
                    if m := _INGESTED.match(line):
                        _changed(self.ingested.setdefault(m[1], []), seen, float(m[2]))
                elif line.startswith("alignmon_investment_active_users{"):
                    if m := _ACTIVE.match(line):
                        _changed(self.active.setdefault(m[1], []), seen, float(m[2]))
                elif line.startswith(_ROLLUP):
                    _changed_value(self.rollup_s, float(line.split()[1]))
            self.stopping.wait(max(0.0, self.every - (time.time() - began)))

    def ready(self, slots: int) -> bool:
        """Every investment's figures rendered (the first refresh is done)."""
        try:
            text = self.get()
        except OSError:
            return False
        return f'investment="{INVESTMENT.format(slots - 1)}"' in text


def _changed(history: list[tuple[float, float]], at: float, value: float) -> None:
    if not history or history[-1][1] != value:
        history.append((at, value))


def _changed_value(values: list[float], value: float) -> None:
    if not values or values[-1] != value:
        values.append(value)


def first_at(history: list[tuple[float, float]], at_least: float) -> float | None:
    return next((t for t, v in history if v >= at_least), None)


# -- Prometheus -------------------------------------------------------------------------------------


def prometheus_samples(url: str, selector: str, label: str, window_s: int) -> dict[str, list[tuple[float, float]]]:
    """Every stored sample of the series `selector` picks over the last `window_s` seconds, by the value of `label`."""
    answer = httpx.get(f"{url}/api/v1/query", params={"query": f"{selector}[{window_s}s]"}, timeout=60).json()
    if answer.get("status") != "success":
        raise RuntimeError(f"Prometheus answered {answer}")
    out: dict[str, list[tuple[float, float]]] = {}
    for series in answer["data"]["result"]:
        out.setdefault(series["metric"][label], []).extend((float(t), float(v)) for t, v in series["values"])
    return {k: sorted(v) for k, v in out.items()}


def prometheus_up(url: str) -> bool:
    try:
        answer = httpx.get(f"{url}/api/v1/query", params={"query": 'up{job="alignmon-pipeline"}'}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return False
    return any(r["value"][1] == "1" for r in answer.get("data", {}).get("result", []))


# -- the run ----------------------------------------------------------------------------------------


def wait_for(check: Callable[[], bool], timeout: float, what: str, every: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def start_pipeline(work: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with (work / "pipeline.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "alignmon.cli", "pipeline"],
            cwd=work,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop_pipeline(proc: subprocess.Popen[bytes]) -> int:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from alignmon.stack.kafka import ensure_topics  # noqa: PLC0415
    from alignmon.stack.process import free_port  # noqa: PLC0415
    from alignmon.stack.stack import Stack, StackConfig  # noqa: PLC0415
    from collectors.gateway.tokens import TokenStore  # noqa: PLC0415
    from metrics.config import rule_files  # noqa: PLC0415

    slots = args.warmup + args.seconds
    today = datetime.now(UTC).date()
    work = Path(tempfile.mkdtemp(prefix="alignmon-freshness-"))
    exporter_port, gateway_port = free_port(), free_port()
    stack = Stack(
        StackConfig(
            state_dir=work / "stack",
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            prometheus_port=free_port(),
            alertmanager_port=free_port(),  # not started: alerts (if any fire) go nowhere
            scrape_targets={"alignmon-pipeline": [f"127.0.0.1:{exporter_port}"]},
            rule_files=rule_files(),
            scrape_interval_s=args.scrape_interval,
        )
    )
    topic = f"bench.{uuid.uuid4().hex[:10]}"
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    watch = Watch(exporter_port, args.poll)
    result: dict[str, Any] = {"work": str(work)}
    started = time.monotonic()
    try:
        stack.kafka().start()
        ensure_topics(stack.kafka_bootstrap, {topic: 3, f"{topic}.dlq": 1})
        stack.prometheus().start()
        devices = [f"fresh-device-{i:02d}" for i in range(args.devices)]
        write_catalog(work / "catalog", slots, today)
        write_directory(
            work / "directory.csv",
            [f"{d}@bench.example" for d in devices] + [f"slot{s}@bench.example" for s in range(slots)],
        )
        store = TokenStore(work / "tokens.sqlite")
        tokens = {d: store.issue(d) for d in devices}
        store.close()
        procs.append(("gateway", start_gateway(work, stack.kafka_bootstrap, topic, gateway_port, 1)))
        env = {
            "ALIGNMON_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            "ALIGNMON_TOPIC": topic,
            "ALIGNMON_DLQ_TOPIC": f"{topic}.dlq",
            "ALIGNMON_STATE_DIR": str(work / "state"),
            "ALIGNMON_DUCKDB_PATH": str(work / "pipeline.duckdb"),
            "ALIGNMON_SNAPSHOT_PATH": str(work / "snapshot.duckdb"),
            "ALIGNMON_CATALOG_DIR": str(work / "catalog"),
            "ALIGNMON_DIRECTORY_CSV": str(work / "directory.csv"),
            "ALIGNMON_EXPORTER_PORT": str(exporter_port),
            # Each slot's source is a label of its own only when named (any other source counts as `other`).
            "ALIGNMON_EXTRA_SOURCES": ",".join(SOURCE.format(s) for s in range(slots)),
        }
        if args.refresh_interval is not None:
            env["ALIGNMON_REFRESH_INTERVAL_S"] = f"{args.refresh_interval:g}"
        procs.append(("pipeline", start_pipeline(work, env)))
        wait_for(lambda: watch.ready(slots), 120, "the pipeline's first refresh in /metrics")
        wait_for(lambda: prometheus_up(stack.prometheus_url), 60, "Prometheus to scrape the pipeline")
        result["startup_s"] = time.monotonic() - started
        poller = threading.Thread(target=watch.run, name="watch", daemon=True)
        poller.start()
        begin = math.ceil(time.time()) + 1.0
        cpu0 = machine_busy()
        sent, retries = asyncio.run(feed(args, gateway_port, tokens, begin))
        cpu1 = machine_busy()
        fed = time.time()
        measured = range(args.warmup, slots)
        expected = {s: sum(r.accepted for r in sent if r.slot == s) for s in range(slots)}

        def all_seen() -> bool:
            return all(
                first_at(watch.ingested.get(SOURCE.format(s), []), expected[s]) is not None
                and first_at(watch.active.get(INVESTMENT.format(s), []), 1) is not None
                for s in measured
            )

        # Everything must show within a refresh, its render and a little more; a slot missing then is a finding.
        with contextlib.suppress(RuntimeError):
            wait_for(all_seen, (args.refresh_interval or 15.0) * 2 + 30, "every slot in /metrics", 0.5)
        time.sleep(2 * args.scrape_interval + 1)  # the last change scraped and stored
        watch.stopping.set()
        poller.join()
        window = int(time.time() - begin) + 30
        stored = prometheus_samples(
            stack.prometheus_url, 'alignmon_events_ingested_total{source=~"fresh-.*"}', "source", window
        )
        adopted = prometheus_samples(
            stack.prometheus_url,
            'alignmon_investment_active_users{window="1d",investment=~"slot-.*"}',
            "investment",
            window,
        )
        result |= figures(sent, expected=expected, measured=measured, watch=watch, stored=stored, adopted=adopted)
        result |= {
            "retries": retries,
            "feed_s": fed - begin,
            "machine_cores": (cpu1[0] - cpu0[0]) / (fed - begin),
            "machine_cpus": (cpu1[1] - cpu0[1]) / (fed - begin),
            "rollup_s": watch.rollup_s,
            "poll_ms": sorted(watch.polls)[len(watch.polls) // 2] * 1000 if watch.polls else math.nan,
        }
        result["exits"] = {name: (stop_gateway(p) if name == "gateway" else stop_pipeline(p)) for name, p in procs}
        procs.clear()
    finally:
        watch.stopping.set()
        for name, proc in procs:
            (stop_gateway if name == "gateway" else stop_pipeline)(proc)
        stack.prometheus().stop()
        stack.kafka().stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["wall_s"] = time.monotonic() - started
    return result


def figures(
    sent: list[Sent],
    *,
    expected: dict[int, int],
    measured: range,
    watch: Watch,
    stored: dict[str, list[tuple[float, float]]],
    adopted: dict[str, list[tuple[float, float]]],
) -> dict[str, Any]:
    """Per stage, each measured slot's latency (None: never seen), and the feed's own numbers."""
    last_answer = {s: max(r.done for r in sent if r.slot == s) for s in measured}
    adoption_answer = {s: next(r.done for r in sent if r.slot == s and r.adoption) for s in measured}
    stages: dict[str, list[float | None]] = {
        "ingest counter in /metrics": [],
        "ingest counter in Prometheus": [],
        "adoption (DAU) in /metrics": [],
        "adoption (DAU) in Prometheus": [],
    }
    for s in measured:
        source, investment = SOURCE.format(s), INVESTMENT.format(s)
        for stage, history, at_least, since in (
            ("ingest counter in /metrics", watch.ingested.get(source, []), expected[s], last_answer[s]),
            ("ingest counter in Prometheus", stored.get(source, []), expected[s], last_answer[s]),
            ("adoption (DAU) in /metrics", watch.active.get(investment, []), 1, adoption_answer[s]),
            ("adoption (DAU) in Prometheus", adopted.get(investment, []), 1, adoption_answer[s]),
        ):
            seen = first_at(history, at_least)
            stages[stage].append(None if seen is None else seen - since)
    window = [r for r in sent if r.slot in measured]
    lateness = sorted(r.sent - r.due for r in window)  # how well the open loop kept its schedule
    answer = sorted(r.done - r.sent for r in window)
    return {
        "stages": stages,
        "requests": len(window),
        "events": sum(expected[s] for s in measured),
        "statuses": sorted({r.status for r in sent}),
        "answer_ms": (percentile(answer, 0.5) * 1000, percentile(answer, 0.99) * 1000),
        "late_ms": percentile(lateness, 0.99) * 1000,
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def main() -> int:
    from base.settings import Settings  # noqa: PLC0415

    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000, help="events/s offered in all (default 1000)")
    parser.add_argument("--devices", type=int, default=20, help="devices, each its own token and connection")
    parser.add_argument("--batch", type=int, default=10, help="events per request (default 10)")
    parser.add_argument("--seconds", type=int, default=90, help="measured seconds (slots) of feed (default 90)")
    parser.add_argument("--warmup", type=int, default=10, help="seconds of feed before the measured ones")
    parser.add_argument(
        "--scrape-interval",
        type=float,
        default=defaults.scrape_interval_s,
        help=f"Prometheus' scrape interval, s (default: the local stack's, {defaults.scrape_interval_s:g})",
    )
    parser.add_argument(
        "--refresh-interval",
        type=float,
        help="ALIGNMON_REFRESH_INTERVAL_S of the pipeline, s "
        f"(default: unset, so the product's {defaults.refresh_interval_s:g})",
    )
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between polls of /metrics (default 0.1)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, DuckDB file)")
    args = parser.parse_args()
    if args.devices * args.batch / args.rate > 1.0:
        parser.error("each device must post at least once a second: raise --rate or lower --devices or --batch")
    midnight = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
    if (midnight - datetime.now(UTC)).total_seconds() < args.warmup + args.seconds + 300:
        parser.error("the run would cross midnight UTC, where the DAU window starts again: run it later")
    result = run(args)

    import kafka  # noqa: PLC0415

    refresh = args.refresh_interval if args.refresh_interval is not None else defaults.refresh_interval_s
    r = result
    rows = [
        ("machine", machine()),
        ("python / kafka-python", f"{platform.python_version()} / {kafka.__version__}"),
        ("command", shlex.join([sys.executable, *sys.argv])),
        (
            "feed",
            f"{args.rate:,.0f} events/s offered: {args.devices} devices, {args.batch} events/request, "
            f"{args.warmup} s warm-up + {args.seconds} s measured",
        ),
        (
            "requests (measured)",
            f"{r['requests']:,} answered {r['statuses']}, {r['events']:,} events accepted "
            f"({r['events'] / args.seconds:,.0f}/s), {r['retries']} retries",
        ),
        (
            "gateway answer",
            f"p50 {r['answer_ms'][0]:.1f} ms, p99 {r['answer_ms'][1]:.1f} ms; sends late by p99 {r['late_ms']:.1f} ms",
        ),
        (
            "refresh interval",
            f"{refresh:g} s (ALIGNMON_REFRESH_INTERVAL_S"
            f"{'' if args.refresh_interval is not None else ', the default'})",
        ),
        ("refresh took", ", ".join(f"{v:.2f}" for v in r["rollup_s"][-6:]) + " s (last ones seen)"),
        ("scrape interval", f"{args.scrape_interval:g} s (Prometheus, with the shipped rules)"),
        ("/metrics poll", f"every {args.poll:g} s, one took p50 {r['poll_ms']:.1f} ms"),
        ("machine CPU", f"{r['machine_cores']:.2f} of {r['machine_cpus']:.2f} cores busy during the feed"),
        ("processes' exits", f"{r['exits']} (uvicorn ends on the SIGTERM it stopped for: -15)"),
        (
            "wall time",
            f"{r['wall_s']:.0f} s, {r['startup_s']:.0f} s of it starting broker, Prometheus, gateway, pipeline",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print()
    print(f"{'latency per slot (s)':<30} {'n':>4} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  missing")
    missing = 0
    for stage, values in r["stages"].items():
        seen = [v for v in values if v is not None]
        missing += len(values) - len(seen)
        cells = [f"{percentile(seen, q):7.2f}" for q in (0.5, 0.95, 0.99)] if seen else ["      -"] * 3
        print(
            f"{stage:<30} {len(seen):>4} {' '.join(cells)} {max(seen) if seen else math.nan:7.2f}  "
            f"{len(values) - len(seen)}"
        )
    if args.keep:
        print(f"\nwork directory kept: {r['work']}")
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
