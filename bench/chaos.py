"""Chaos: kill -9 the pipeline and take the broker and the gateway down, then count what was lost or repeated.

Not part of CI or pytest: it runs for minutes and reports numbers for docs/benchmarks.md.

(1) kill -9 trials. A topic is pre-filled with --events simulator events (packed records, as the
    simulator and importers write them; every event_id unique). `alignmon pipeline` runs as a
    subprocess on ONE DuckDB file for all trials; each trial starts it, waits until the stored
    count (the exporter's alignmon_events_ingested_total) grows past what the file held, then
    kill -9s it at a seeded random moment within --kill-within seconds. Restart time = from the
    process start until the stored count grows again. After each kill the file (unlocked then) is
    opened read-only: no event twice, and never fewer events than the exporter had reported.
    At the end a last run drains the topic and is stopped with SIGTERM; then
    lost = events produced - distinct stored event_ids, duplicated = stored rows - distinct event_ids.
(2) gateway/broker outages. Load clients post batches of unique events to `alignmon gateway`
    (device tokens from `alignmon tokens issue`), retrying a batch until it is answered 202 as an
    agent does. Each outage is one of (in turn): the broker stopped (SIGTERM), the broker kill -9'd,
    the gateway kill -9'd, the gateway kill -9'd while the broker is down; then everything is
    restarted and the gateway's spool must drain. At the end the topic is read back: an event
    answered 202 and not in the topic is LOST; one in it more than once is a Kafka duplicate
    (allowed: the product promises at-least-once into Kafka and the pipeline drops repeated
    event_ids). A fresh pipeline then ingests that topic: what it stores must be every 202 event once.

Everything runs on loopback, on free ports, under a temporary directory; every wait has a timeout,
the whole run stops itself after --max-minutes, and every process it started is killed at the end
(process groups). Exit code 0 when nothing was lost or duplicated in DuckDB and nothing hung.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
from host import machine  # bench/host.py: these scripts run from bench/

from metrics.scrape import total

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 11, 19)  # the simulated fleet's last day (fixed, in the past: as bench/ingest.py)


class HangError(Exception):
    """A wait ran out of time: reported as a defect, never waited out forever."""


# -- small helpers ---------------------------------------------------------------------------------


def code_version() -> str:
    """The commit measured, and whether the working tree differed from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return f"{ROOT} (not a git checkout)"
    return f"{ROOT} at {head.stdout.strip()}" + (" with uncommitted changes" if dirty.stdout.strip() else "")


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll until `check` returns something truthy; raise HangError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HangError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def fmt_s(values: list[float]) -> str:
    if not values:
        return "-"
    return f"p50 {statistics.median(values):.1f} s, max {max(values):.1f} s (n={len(values)})"


class Proc:
    """An `alignmon ...` subprocess in its own process group, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.started = time.monotonic()
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "alignmon.cli", *args],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait; returns the exit code (a SIGKILL after `timeout` is a HangError)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise HangError(f"{self.log.stem} did not stop within {timeout:.0f}s of SIGTERM (killed)") from None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Procs:
    """Every process this script started, so the `finally` can kill them all."""

    def __init__(self) -> None:
        self.all: list[Proc] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> Proc:
        proc = Proc(args, env, log)
        self.all.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.all:
            if proc.alive():
                proc.kill9()


# -- Kafka ----------------------------------------------------------------------------------------


class Fleet:
    """Simulator events (unique event_ids), a day at a time going back from AS_OF; `produce` sends the next ones."""

    def __init__(self, seed: int, scale: float) -> None:
        from collectors.simulate import Organisation  # noqa: PLC0415

        self.org = Organisation.build(seed, scale, AS_OF)
        self.day = AS_OF
        self.ids: set[str] = set()

    def produce(self, bootstrap: str, topic: str, events: int) -> int:
        """Send the next `events` events in packed records (collectors.publish, as the simulator writes them)."""
        from collectors.publish import publish  # noqa: PLC0415

        chosen: list[dict[str, Any]] = []
        while len(chosen) < events:
            chosen.extend(list(self.org.dicts_for_day(self.day, with_department=True))[: events - len(chosen)])
            self.day -= timedelta(days=1)  # the rest of a day cut short is never sent
        new = {e["event_id"] for e in chosen}
        if len(new) != len(chosen) or new & self.ids:
            raise SystemExit("the simulator repeated an event_id: pick another --seed")
        sent = publish(bootstrap, topic, chosen)
        if sent != len(chosen):
            raise SystemExit(f"Kafka acknowledged {sent} of {len(chosen)} events while pre-filling")
        self.ids |= new
        return sent


def topic_event_ids(bootstrap: str, topic: str, timeout: float = 300.0) -> Counter[str]:
    """event_id -> copies in the topic (all partitions up to their end offsets now)."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    from collectors.record import events_of  # noqa: PLC0415

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        copies: Counter[str] = Counter()
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise HangError(f"reading topic {topic} took more than {timeout:.0f}s")
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    copies.update(str(e.get("event_id")) for e in events_of(record.value))
        return copies
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


# -- the pipeline ---------------------------------------------------------------------------------


def ingested(metrics_url: str) -> int | None:
    """Events the pipeline stored (alignmon_events_ingested_total), or None while its exporter does not answer."""
    found = total(metrics_url, "alignmon_events_ingested_total")
    return None if found is None else int(found)


@dataclass
class StoreState:
    rows: int
    distinct: int
    ingest_totals: int
    ids: set[str]
    offsets: dict[int, int]
    rejected: int


def read_store(db: Path, topic: str) -> StoreState:
    """The DuckDB file as the last committed transaction left it (opened read-only; no pipeline may run)."""
    if not db.exists():
        return StoreState(0, 0, 0, set(), {}, 0)
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows, distinct = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()  # type: ignore[misc]
        totals = con.execute("SELECT coalesce(sum(events), 0) FROM ingest_totals").fetchone()
        ids = {r[0] for r in con.execute("SELECT DISTINCT event_id FROM events").fetchall()}
        offsets = dict(
            con.execute('SELECT "partition", next_offset FROM kafka_offsets WHERE topic = ?', [topic]).fetchall()
        )
        rejected = con.execute("SELECT count(*) FROM rejected_events").fetchone()
    finally:
        con.close()
    return StoreState(
        int(rows), int(distinct), int(totals[0]) if totals else 0, ids, offsets, int(rejected[0]) if rejected else 0
    )


@dataclass
class Run:
    """What every phase shares: the processes started, the work directory, the options, the random source."""

    procs: Procs
    work: Path
    args: argparse.Namespace
    rng: random.Random
    deadline: float  # time.monotonic() after which no new trial or outage starts


class PipelineRunner:
    """`alignmon pipeline` on one DuckDB file; each start on a fresh exporter port."""

    def __init__(self, run: Run, bootstrap: str, topic: str, name: str) -> None:
        from alignmon.stack.process import free_port  # noqa: PLC0415

        args, work = run.args, run.work
        self.procs, self.work, self.topic, self.name = run.procs, work, topic, name
        self.free_port = free_port
        self.db = work / f"{name}.duckdb"
        (work / "no-catalog").mkdir(exist_ok=True)
        self.env = {
            "ALIGNMON_KAFKA_BOOTSTRAP": bootstrap,
            "ALIGNMON_TOPIC": topic,
            "ALIGNMON_DLQ_TOPIC": f"{topic}.dlq",
            "ALIGNMON_DUCKDB_PATH": str(self.db),
            "ALIGNMON_SNAPSHOT_PATH": str(work / f"{name}-snapshot.duckdb"),
            "ALIGNMON_CATALOG_DIR": str(work / "no-catalog"),  # ingest only: no adoption refresh in the way
            "ALIGNMON_DEV_MODE": "1",
            "ALIGNMON_BATCH_MAX_MIB": str(args.batch_mib),
        }
        self.runs = 0

    def start(self) -> tuple[Proc, str]:
        self.runs += 1
        port = self.free_port()
        env = {**self.env, "ALIGNMON_EXPORTER_PORT": str(port)}
        proc = self.procs.start(["pipeline"], env, self.work / f"{self.name}-{self.runs}.log")
        return proc, f"http://127.0.0.1:{port}/metrics"


def await_growth(proc: Proc, url: str, baseline: int, timeout: float) -> tuple[float, float, int]:
    """Wait until the stored count passes `baseline`: (seconds to exporter up, seconds to growth, count)."""
    up_after = 0.0

    def grown() -> int | None:
        nonlocal up_after
        if not proc.alive():
            raise HangError(f"the pipeline exited with code {proc.popen.returncode}; see {proc.log}")
        n = ingested(url)
        if n is not None and not up_after:
            up_after = time.monotonic() - proc.started
        return n if n is not None and n > baseline else None

    count = wait_for(grown, timeout, f"the pipeline to store more than {baseline} events", every=0.1)
    return up_after, time.monotonic() - proc.started, int(count)


@dataclass
class KillResults:
    produced: int = 0
    top_ups: int = 0
    trials: int = 0
    first_start_s: float = 0.0
    restart_s: list[float] = field(default_factory=list)
    exporter_up_s: list[float] = field(default_factory=list)
    stored_after_kill: list[int] = field(default_factory=list)
    final: StoreState | None = None
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    offsets_ok: bool = False
    clean_exit: bool = False
    defects: list[str] = field(default_factory=list)


def kill_trials(run: Run, bootstrap: str) -> KillResults:
    from alignmon.stack.kafka import ensure_topics  # noqa: PLC0415

    args, rng = run.args, run.rng
    out = KillResults()
    topic = f"chaos.kill.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: 3, f"{topic}.dlq": 1})
    began = time.monotonic()
    fleet = Fleet(args.seed, args.scale)
    expected = fleet.ids  # every event produced so far
    fleet.produce(bootstrap, topic, args.events)
    print(f"[kill] pre-filled {topic} with {len(expected):,} events in {time.monotonic() - began:.1f}s", flush=True)
    runner = PipelineRunner(run, bootstrap, topic, "kill")
    stored = 0
    for trial in range(1, args.trials + 1):
        if time.monotonic() > run.deadline:
            out.defects.append(f"--max-minutes reached: only {trial - 1} of {args.trials} trials ran")
            break
        if len(expected) - stored < args.events // 2:  # keep a backlog for the kill to land in
            fleet.produce(bootstrap, topic, args.events)
            out.top_ups += 1
            print(f"[kill] topped up: {len(expected):,} events produced in all", flush=True)
        proc, url = runner.start()
        try:
            up, grew, seen = await_growth(proc, url, stored, args.restart_timeout)
        except HangError as exc:
            out.defects.append(f"trial {trial}: {exc}")
            proc.kill9()
            break
        if trial == 1:
            out.first_start_s = grew
        else:
            out.restart_s.append(grew)
            out.exporter_up_s.append(up)
        # Kill at a random moment of the next batches, often inside a write transaction.
        time.sleep(rng.uniform(0.0, args.kill_within))
        last = ingested(url) or seen
        proc.kill9()
        out.trials = trial
        state = read_store(runner.db, topic)  # what the crash left (after DuckDB's WAL replay)
        if state.rows != state.distinct:
            out.defects.append(f"trial {trial}: {state.rows - state.distinct} duplicated rows after kill -9")
        if state.distinct < last:
            out.defects.append(f"trial {trial}: exporter had reported {last} stored, the file holds {state.distinct}")
        if state.ingest_totals != state.rows:
            out.defects.append(f"trial {trial}: ingest_totals says {state.ingest_totals}, events holds {state.rows}")
        if state.distinct < stored:
            out.defects.append(f"trial {trial}: stored events went down from {stored} to {state.distinct}")
        stored = state.distinct
        out.stored_after_kill.append(stored)
        print(
            f"[kill] trial {trial:2}: stored grew after {grew:5.1f}s (exporter up {up:4.1f}s); "
            f"killed at ~{last:,}; file holds {state.distinct:,} distinct / {state.rows:,} rows",
            flush=True,
        )

    # The last run drains the topic and stops cleanly.
    proc, url = runner.start()
    try:
        wait_for(
            lambda: not proc.alive() or ingested(url) == len(expected),
            args.restart_timeout + 300,
            f"the final run to store all {len(expected)} events",
        )
        if not proc.alive():
            out.defects.append(f"the final run exited with code {proc.popen.returncode}; see {proc.log}")
    except HangError as exc:
        out.defects.append(f"final run: {exc} (it holds {ingested(url)})")
    try:
        out.clean_exit = proc.alive() and proc.terminate() == 0
    except HangError as exc:
        out.defects.append(str(exc))
    if "Traceback" in proc.text():
        out.defects.append(f"a traceback in {proc.log}")
    out.produced = len(expected)
    final = read_store(runner.db, topic)
    out.final = final
    out.lost = len(expected - final.ids)
    out.unexpected = len(final.ids - expected)
    out.duplicated = final.rows - final.distinct
    out.offsets_ok = final.offsets == end_offsets(bootstrap, topic)
    if not out.offsets_ok:
        out.defects.append(f"stored offsets {final.offsets} are not the topic's ends {end_offsets(bootstrap, topic)}")
    if final.rejected:
        out.defects.append(f"{final.rejected} events rejected (all were valid)")
    return out


# -- the gateway ----------------------------------------------------------------------------------


class Load:
    """Client threads, one device each, posting batches of unique events and retrying until 202."""

    def __init__(self, url: str, tokens: dict[str, str], batch: int, pause_s: float) -> None:
        self.url, self.tokens, self.batch, self.pause_s = url, tokens, batch, pause_s
        self.acked: list[str] = []  # event_ids answered 202
        self.statuses: Counter[str] = Counter()
        self.partial: int = 0  # 202s that accepted fewer events than sent (the events are all valid)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(d,), daemon=True) for d in tokens]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self, timeout: float = 60.0) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=timeout)
            if t.is_alive():
                raise HangError(f"a load client did not finish its batch within {timeout:.0f}s")

    def _run(self, device: str) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[device]}", "Content-Type": "application/json"}
        n = 0
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as http:
            while not self.stopping.is_set():
                start = datetime.now(UTC) - timedelta(minutes=30)
                items = [
                    {
                        "event_id": f"{device}-{n + i}",
                        "kind": "focus",
                        "device_id": device,
                        "user": f"user{(n + i) % 40}@corp.example",
                        "app": ("excel.exe", "teams.exe", "sap.exe", "code.exe")[(n + i) % 4],
                        "start": (start + timedelta(milliseconds=n + i)).isoformat(),
                        "duration_s": 30.0,
                        "source": "agent",
                    }
                    for i in range(self.batch)
                ]
                body = json.dumps(items).encode()
                # An agent retries the same batch until it is answered 202 (a lost answer makes a Kafka duplicate).
                while True:
                    try:
                        response = http.post("/v1/events", content=body)
                        status = str(response.status_code)
                    except httpx.HTTPError as exc:
                        response, status = None, type(exc).__name__
                    with self._lock:
                        self.statuses[status] += 1
                    if response is not None and response.status_code == 202:
                        accepted = int(response.json().get("accepted", 0))
                        with self._lock:
                            if accepted == len(items):
                                self.acked.extend(f"{device}-{n + i}" for i in range(self.batch))
                            else:
                                self.partial += 1
                        break
                    if self.stopping.wait(0.2):
                        break  # not answered 202: not counted either way
                n += self.batch
                self.stopping.wait(self.pause_s)


@dataclass
class OutageResults:
    outages: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    acked: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    in_kafka_distinct: int = 0
    in_kafka_copies: int = 0
    lost_in_kafka: int = 0
    dup_in_kafka: int = 0
    unacked_in_kafka: int = 0
    stored_rows: int = 0
    stored_distinct: int = 0
    lost_in_store: int = 0
    dup_in_store: int = 0
    recover_s: list[float] = field(default_factory=list)
    gateway_restart_s: list[float] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


KINDS = ("broker stopped", "broker kill -9", "gateway kill -9", "gateway kill -9 while broker down")


def outages(run: Run, stack: Any) -> OutageResults:
    from alignmon.stack.kafka import ensure_topics  # noqa: PLC0415
    from alignmon.stack.process import ServiceError, free_port  # noqa: PLC0415

    args, rng, work, procs = run.args, run.rng, run.work, run.procs
    out = OutageResults()
    bootstrap = stack.kafka_bootstrap
    broker = stack.kafka()
    topic = f"chaos.gateway.{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: 3, f"{topic}.dlq": 1})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "ALIGNMON_KAFKA_BOOTSTRAP": bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_TOKEN_DB": str(work / "tokens.sqlite"),
        "ALIGNMON_SPOOL_DIR": str(work / "spool"),
        "ALIGNMON_PSEUDONYM_SECRET": "chaos-secret-not-for-production",
        "ALIGNMON_RATE_LIMIT_PER_S": "0",
        "ALIGNMON_GATEWAY_HOST": "127.0.0.1",
        "ALIGNMON_GATEWAY_PORT": str(port),
    }
    tokens = {}
    for i in range(args.gw_clients):
        device = f"chaos-device-{i}"
        issued = subprocess.run(
            [sys.executable, "-m", "alignmon.cli", "tokens", "issue", device],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        tokens[device] = issued.stdout.strip()
    gateways = 0

    def start_gateway() -> Proc:
        nonlocal gateways
        gateways += 1
        proc = procs.start(["gateway"], env, work / f"gateway-{gateways}.log")
        wait_for(lambda: healthz(url) is not None or not proc.alive(), 60, "the gateway to answer /healthz")
        if not proc.alive():
            raise HangError(f"the gateway exited with code {proc.popen.returncode}; see {proc.log}")
        out.gateway_restart_s.append(time.monotonic() - proc.started)
        return proc

    gateway = start_gateway()
    load = Load(url, tokens, args.gw_batch, args.gw_pause)
    load.start()
    try:
        for k in range(args.outages):
            if time.monotonic() > run.deadline:
                out.defects.append(f"--max-minutes reached: only {k} of {args.outages} outages ran")
                break
            kind = KINDS[k % len(KINDS)]
            down_s = rng.uniform(1.0, args.outage_max_s)
            time.sleep(rng.uniform(0.5, 2.0))  # traffic flows normally first
            try:
                if kind == "broker stopped":
                    broker.stop()
                    time.sleep(down_s)
                    broker.start()
                elif kind == "broker kill -9":
                    kill9_service(broker)
                    time.sleep(down_s)
                    broker.start()
                elif kind == "gateway kill -9":
                    gateway.kill9()
                    time.sleep(min(down_s, 2.0))
                    gateway = start_gateway()
                else:
                    kill9_service(broker)
                    time.sleep(down_s / 2)  # requests answered 202 now are spooled
                    gateway.kill9()
                    gateway = start_gateway()
                    time.sleep(down_s / 2)
                    broker.start()
                back = time.monotonic()
                wait_for(lambda: drained(url), args.restart_timeout, "the gateway's spool to drain into Kafka")
            except (HangError, ServiceError) as exc:
                out.defects.append(f"outage {k + 1} ({kind}): {exc}: {healthz(url)}")
                break
            out.recover_s.append(time.monotonic() - back)
            out.outages, out.kinds[kind] = k + 1, out.kinds[kind] + 1
            print(
                f"[outage] {k + 1:2} {kind:34} down {down_s:4.1f}s, spool drained {out.recover_s[-1]:4.1f}s "
                f"after; {len(load.acked):,} events answered 202 so far",
                flush=True,
            )
        time.sleep(2.0)
    finally:
        try:
            load.stop()
        except HangError as exc:
            out.defects.append(str(exc))
    try:
        wait_for(lambda: drained(url), args.restart_timeout, "the gateway's spool to drain at the end")
    except HangError as exc:
        out.defects.append(f"{exc}: {healthz(url)}")
    try:
        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: -15 is a clean stop too.
        if gateway.terminate() not in {0, -signal.SIGTERM}:
            out.defects.append(f"the gateway's SIGTERM exit code was {gateway.popen.returncode}")
    except HangError as exc:
        out.defects.append(str(exc))
    for log in sorted(work.glob("gateway-[0-9]*.log")):
        if "Traceback" in log.read_text(errors="replace"):
            out.defects.append(f"a traceback in {log}")
    out.acked, out.statuses = len(load.acked), load.statuses
    if load.partial:
        out.defects.append(f"{load.partial} answers 202 accepted fewer events than sent (all were valid)")
    acked = set(load.acked)
    if len(acked) != len(load.acked):
        out.defects.append("an event_id was answered 202 twice (the load should never resend an answered batch)")

    copies = topic_event_ids(bootstrap, topic)
    out.in_kafka_distinct, out.in_kafka_copies = len(copies), sum(copies.values())
    out.lost_in_kafka = len(acked - copies.keys())
    out.dup_in_kafka = out.in_kafka_copies - out.in_kafka_distinct
    out.unacked_in_kafka = len(copies.keys() - acked)  # sent but never answered 202 (at the very end only)
    print(f"[outage] topic holds {out.in_kafka_copies:,} events, {out.in_kafka_distinct:,} distinct", flush=True)

    # What the product stores: a fresh pipeline ingests the whole topic.
    runner = PipelineRunner(run, bootstrap, topic, "gateway-pipeline")
    proc, metrics_url = runner.start()
    try:
        wait_for(
            lambda: ingested(metrics_url) == out.in_kafka_distinct or not proc.alive(),
            args.restart_timeout + 300,
            f"the pipeline to store the topic's {out.in_kafka_distinct} distinct events",
        )
    except HangError as exc:
        out.defects.append(f"{exc} (it holds {ingested(metrics_url)})")
    try:
        if not proc.alive() or proc.terminate() != 0:
            out.defects.append(f"the pipeline did not stop cleanly (exit code {proc.popen.returncode}); see {proc.log}")
    except HangError as exc:
        out.defects.append(str(exc))
    state = read_store(runner.db, topic)
    out.stored_rows, out.stored_distinct = state.rows, state.distinct
    out.lost_in_store = len(acked - state.ids)
    out.dup_in_store = state.rows - state.distinct
    if state.rejected:
        out.defects.append(f"the pipeline rejected {state.rejected} events of the gateway's topic")
    return out


def kill9_service(service: Any) -> None:
    pid = service.pid()
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    from alignmon.stack.process import pid_alive  # noqa: PLC0415

    wait_for(lambda: not pid_alive(pid), 30, f"the killed {service.name} (pid {pid}) to be gone")


def healthz(url: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(f"{url}/healthz", timeout=5)
        return dict(response.json())
    except (httpx.HTTPError, ValueError):
        return None


def drained(url: str) -> bool:
    health = healthz(url)
    return bool(health and health["kafka"]["reachable"] and health["spool"]["depth"] == 0)


# -- main -----------------------------------------------------------------------------------------


def report(args: argparse.Namespace, kills: KillResults | None, gw: OutageResults | None, took: float) -> list[str]:
    """Print the results table; returns the defects."""
    rows: list[tuple[str, str]] = [
        ("command", shlex.join(["python", "bench/chaos.py", *sys.argv[1:]])),
        ("machine", machine()),
        ("code", code_version()),
        ("wall time", f"{took / 60:.1f} min"),
    ]
    defects: list[str] = []
    if kills is not None:
        rows += [
            (
                "kill -9: trials",
                f"{kills.trials} over {kills.produced:,} pre-filled events ({kills.top_ups} top-ups of --events)",
            ),
            ("kill -9: first start", f"{kills.first_start_s:.1f} s until the first events were stored"),
            ("kill -9: restart time", fmt_s(kills.restart_s) + " (process start -> stored count grows)"),
            ("kill -9: exporter up", fmt_s(kills.exporter_up_s)),
            ("kill -9: stored after kills", ", ".join(f"{n:,}" for n in kills.stored_after_kill) or "-"),
            ("kill -9: lost", f"{kills.lost} (events produced - distinct event_ids stored)"),
            ("kill -9: duplicated", f"{kills.duplicated} (rows - distinct event_ids)"),
            (
                "kill -9: end state",
                f"offsets at the topic's ends: {kills.offsets_ok}; SIGTERM exit 0: {kills.clean_exit}",
            ),
        ]
        defects += [f"kill -9: {d}" for d in kills.defects]
        if kills.lost or kills.duplicated or kills.unexpected:
            defects.append(f"kill -9: lost {kills.lost}, duplicated {kills.duplicated}, unknown ids {kills.unexpected}")
    if gw is not None:
        statuses = ", ".join(f"{k} x{v}" for k, v in sorted(gw.statuses.items()))
        rows += [
            ("outages", f"{gw.outages}: " + ", ".join(f"{v} {k}" for k, v in gw.kinds.items())),
            ("outages: answers", statuses),
            ("outages: answered 202", f"{gw.acked:,} events"),
            ("outages: in Kafka", f"{gw.in_kafka_copies:,} events, {gw.in_kafka_distinct:,} distinct"),
            ("outages: lost in Kafka", f"{gw.lost_in_kafka} (answered 202, not in the topic)"),
            ("outages: Kafka duplicates", f"{gw.dup_in_kafka} (allowed: at-least-once into Kafka)"),
            ("outages: stored by pipeline", f"{gw.stored_rows:,} rows, {gw.stored_distinct:,} distinct"),
            ("outages: lost / duplicated", f"{gw.lost_in_store} / {gw.dup_in_store} (in DuckDB)"),
            ("outages: spool drained", fmt_s(gw.recover_s) + " after the restart"),
            ("outages: gateway start", fmt_s(gw.gateway_restart_s) + " (process start -> /healthz)"),
        ]
        defects += [f"outages: {d}" for d in gw.defects]
        if gw.lost_in_kafka or gw.lost_in_store or gw.dup_in_store:
            defects.append(
                f"outages: lost in Kafka {gw.lost_in_kafka}, lost in DuckDB {gw.lost_in_store}, "
                f"duplicated in DuckDB {gw.dup_in_store}"
            )
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(f"{'defects':<{width}}  {len(defects) or 'none'}")
    for d in defects:
        print(f"  - {d}")
    return defects


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    class Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
        pass

    p = argparse.ArgumentParser(prog="bench/chaos.py", description=__doc__, formatter_class=Help)
    p.add_argument("--trials", type=int, default=20, help="kill -9 trials of the pipeline (0 skips them)")
    p.add_argument("--events", type=int, default=200_000, help="events pre-filled for the kill -9 trials")
    p.add_argument("--scale", type=float, default=5.0, help="size of the simulated organisation (users x scale)")
    p.add_argument(
        "--kill-within",
        type=float,
        default=0.5,
        help="kill -9 at a random moment up to this many seconds after a run's stored count first grew",
    )
    p.add_argument(
        "--batch-mib",
        type=float,
        default=0.5,
        help="ALIGNMON_BATCH_MAX_MIB of the pipeline: small batches make many transactions for a kill to hit",
    )
    p.add_argument("--outages", type=int, default=20, help="gateway/broker outages (0 skips them)")
    p.add_argument("--outage-max-s", type=float, default=8.0, help="longest outage; each lasts 1 s to this")
    p.add_argument("--gw-clients", type=int, default=2, help="load clients (threads), one device each")
    p.add_argument("--gw-batch", type=int, default=100, help="events per HTTP request")
    p.add_argument("--gw-pause", type=float, default=0.05, help="seconds a client waits between its requests")
    p.add_argument(
        "--restart-timeout",
        type=float,
        default=180.0,
        help="longest wait for a restarted pipeline to store more, or for the gateway's spool to drain",
    )
    p.add_argument("--max-minutes", type=float, default=60.0, help="no new trial or outage starts after this")
    p.add_argument("--seed", type=int, default=11, help="seeds the simulated fleet, kill moments and outages")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, DuckDB files) even when clean")
    return p.parse_args(argv)


def interrupted(_sig: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sys.path.insert(0, str(ROOT))  # measure the code next to this script, whatever the virtualenv points at
    from alignmon.stack.process import free_port  # noqa: PLC0415
    from alignmon.stack.stack import Stack, StackConfig  # noqa: PLC0415

    # SIGTERM ends the run like Ctrl-C: the finally below still stops everything.
    signal.signal(signal.SIGTERM, interrupted)
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="alignmon-chaos-"))
    print(f"work directory {work}", flush=True)
    stack = Stack(StackConfig(state_dir=work / "stack", kafka_port=free_port(), kafka_controller_port=free_port()))
    procs = Procs()
    run = Run(procs, work, args, random.Random(args.seed), began + args.max_minutes * 60)
    kills = gw = None
    defects: list[str] = ["interrupted"]
    try:
        stack.kafka().start()
        print(f"broker {stack.kafka_bootstrap} ready after {time.monotonic() - began:.1f}s", flush=True)
        if args.trials:
            kills = kill_trials(run, stack.kafka_bootstrap)
        if args.outages:
            gw = outages(run, stack)
        defects = report(args, kills, gw, time.monotonic() - began)
    finally:
        procs.kill_all()
        stack.kafka().stop()
        if defects or args.keep:
            print(f"logs and DuckDB files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
