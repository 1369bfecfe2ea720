"""Gateway throughput: HTTP batches to Kafka-acknowledged, with the gateway's CPU and RSS measured alone.

Run: .venv/bin/python bench/gateway.py [--mode batch|fleet] [--workers N] [--bootstrap HOST:PORT] ...

- `batch` (default): --events 200000 in batches of --batch 500 from --clients 4 processes (one device each), back
  to back. Then, in the same run, the limit: the same packed records (read back from the topic) written by the
  gateway's own producer (collectors.sink.KafkaSink, acks=all), and the ratio of the two.
- `fleet`: agents' real traffic. --devices 10000 device tokens (issued with the TokenStore API), 5-event batches
  (--batch) over --connections keep-alive connections from --procs client processes, each connection cycling
  through its share of the devices; --rate requests/s in all (open loop: latency counts from when a request was due,
  so a slow gateway is not hidden by waiting clients), or as fast as answered with --rate 0 (closed loop).

The gateway runs as `alignmon gateway` in a child process (ALIGNMON_GATEWAY_WORKERS=--workers), so its CPU
(utime + stime of the process and its workers, from /proc) and peak RSS (VmHWM, summed) are its own, not the
clients'. Without --bootstrap a broker is started for the run (alignmon.stack) and stopped after it. Counts are
events: the gateway packs a request's events into records of up to 500 (collectors.record), so the topic is read
back to count them. The clients are a minimal HTTP/1.1 client on asyncio (no HTTP library's per-request cost on
the two cores the gateway also needs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from host import kafka, machine  # bench/host.py: these scripts run from bench/

APPS = ["code.exe", "excel.exe", "outlook.exe", "chrome.exe", "teams.exe", "sap.exe"]
_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


def build_bodies(device: str, events: int, batch: int, use_gzip: bool) -> list[bytes]:
    """Request bodies for one client, serialised before the clock starts."""
    import gzip  # noqa: PLC0415

    start = datetime.now(UTC) - timedelta(hours=1)
    bodies = []
    for first in range(0, events, batch):
        items = [
            {
                "event_id": f"{device}-{n}",
                "kind": "focus",
                "device_id": device,
                "user": f"user{n % 50}@corp.example",
                "app": APPS[n % len(APPS)],
                "start": (start + timedelta(seconds=n % 3000)).isoformat(),
                "duration_s": 30.0,
                "source": "agent",
                "title": "Quarterly report.xlsx",
            }
            for n in range(first, min(first + batch, events))
        ]
        body = json.dumps(items).encode()
        bodies.append(gzip.compress(body, 5) if use_gzip else body)
    return bodies


def agent_template(device: str, user: str, batch: int) -> bytes:
    """An agent's upload of `batch` spans, with `SEQ` where each request puts its sequence number (unique ids)."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    items = [
        {
            "event_id": f"{device}-SEQ-{k}",
            "kind": "focus",
            "device_id": device,
            "user": user,
            "app": APPS[k % len(APPS)],
            "start": (start + timedelta(seconds=30 * k)).isoformat(),
            "duration_s": 30.0,
            "source": "agent",
            "title": "Quarterly report.xlsx",
        }
        for k in range(batch)
    ]
    return json.dumps(items).encode()


def request_bytes(token: str, body: bytes, gzip: bool = False) -> bytes:
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\n{'Content-Encoding: gzip' + chr(13) + chr(10) if gzip else ''}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: send a request, await (status, body)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        match = _LENGTH.search(self.buffer, 0, end + 2)
        length = int(match[1]) if match else 0
        if len(self.buffer) < end + 4 + length:
            return
        status = int(self.buffer[9:12])
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the gateway closed the connection"))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


async def _connect(host: str, port: int) -> Connection:
    _, protocol = await asyncio.get_running_loop().create_connection(Connection, host, port)
    return protocol


def client(job: dict[str, Any], ready: Any, go: Any, start_at: Any, out: Any) -> None:
    """One client process: its connections, each sending its plan of requests; reports one sample per request."""
    try:
        asyncio.run(_client(job, ready, go, start_at, out))
    except BaseException as exc:
        out.put(exc)
        raise


async def _client(job: dict[str, Any], ready: Any, go: Any, start_at: Any, out: Any) -> None:
    host, port = job["host"], job["port"]
    connections = [await _connect(host, port) for _ in job["lanes"]]
    ready.put(len(connections))
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    begin = start_at.value
    await asyncio.sleep(max(0.0, begin - time.time()))  # every client starts at the same moment
    samples: list[tuple[float, float, int, int]] = []  # (done, latency, status, accepted)
    reconnects = 0

    async def lane(conn: Connection, plan: dict[str, Any]) -> None:
        nonlocal reconnects
        interval = plan.get("interval", 0.0)
        due = begin + plan.get("phase", 0.0)
        until = begin + job.get("seconds", float("inf"))
        seq = 0
        while True:
            if plan.get("bodies") is not None:  # batch mode: a fixed list of requests
                if seq >= len(plan["bodies"]):
                    return
                data = plan["bodies"][seq]
            else:
                token, template = plan["devices"][seq % len(plan["devices"])]
                data = request_bytes(token, template.replace(b"SEQ", b"%d" % seq))
            if interval:
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent = time.time()
            if sent >= until:
                return
            try:
                status, body = await conn.request(data)
            except ConnectionError:
                reconnects += 1
                conn = await _connect(host, port)
                continue
            done = time.time()
            accepted = json.loads(body).get("accepted", 0) if status == 202 else 0
            samples.append((done, done - (due if interval else sent), status, accepted))
            seq += 1
            due += interval

    await asyncio.gather(*(lane(c, p) for c, p in zip(connections, job["lanes"], strict=True)))
    for conn in connections:
        if conn.transport is not None:
            conn.transport.close()
    out.put((samples, reconnects))


# -- the gateway process ---------------------------------------------------------------------------


def _tree(root: int) -> list[int]:
    """The pid and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def cpu_seconds(root: int) -> float:
    """utime + stime of a process and its descendants (live ones; workers live as long as the gateway)."""
    total = 0
    for pid in _tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (idle and iowait are not busy)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - fields[3] - fields[4]) / tick, sum(fields) / tick


def produce_ms(port: int) -> float | None:
    """The gateway's mean produce round-trip (its alignmon_gateway_produce_duration_seconds histogram)."""
    import httpx  # noqa: PLC0415

    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    values = {}
    for line in text.splitlines():
        for name in ("_sum", "_count"):
            if line.startswith(f"alignmon_gateway_produce_duration_seconds{name} "):
                values[name] = float(line.split()[1])
    return values["_sum"] / values["_count"] * 1000 if values.get("_count") else None


def peak_rss_mib(root: int) -> tuple[float, int]:
    """Summed VmHWM of a process and its descendants, and how many processes that is."""
    total, count = 0, 0
    for pid in _tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            total += int(match[1])
            count += 1
    return total / 1024, count


def start_gateway(work: Path, bootstrap: str, topic: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        ALIGNMON_PSEUDONYM_SECRET="bench-secret-not-for-production",
        ALIGNMON_TOKEN_DB=str(work / "tokens.sqlite"),
        ALIGNMON_SPOOL_DIR=str(work / "spool"),
        ALIGNMON_KAFKA_BOOTSTRAP=bootstrap,
        ALIGNMON_TOPIC=topic,
        ALIGNMON_RATE_LIMIT_PER_S="0",  # a load test, not a rate-limit test
        ALIGNMON_GATEWAY_WORKERS=str(workers),
        ALIGNMON_DEV_MODE="0",
    )
    log = (work / "gateway.log").open("ab")
    argv = [sys.executable, "-m", "alignmon.cli", "gateway", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    import httpx  # noqa: PLC0415

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited {proc.returncode}: see {work / 'gateway.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code in (200, 503):
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        raise RuntimeError("the gateway did not answer /healthz within 60 s")
    time.sleep(0.5 * workers)  # every worker's listener up (each binds the port itself)
    return proc


def stop_gateway(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def spool_depth(port: int) -> int | None:
    import httpx  # noqa: PLC0415

    try:
        depth = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["spool"]["depth"]
    except (httpx.HTTPError, KeyError, ValueError):
        return None
    return int(depth)


def topic_records(bootstrap: str, topic: str, skip_key: bytes | None = None) -> list[tuple[bytes, bytes]]:
    """Every (key, value) in the topic but `skip_key`'s."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        found: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 300
        while any(consumer.position(tp) < end[tp] for tp in parts) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                found += [(r.key, r.value) for r in batch if r.key != skip_key]
        return found
    finally:
        consumer.close()


def count_events(records: list[tuple[bytes, bytes]]) -> int:
    from collectors.record import events_of  # noqa: PLC0415

    return sum(len(events_of(value)) for _, value in records)


def producer_limit(bootstrap: str, records: list[tuple[bytes, bytes]], events: int) -> float:
    """Events/s of the gateway's producer writing the same packed records to a fresh topic (acks=all)."""
    from alignmon.stack.kafka import ensure_topics  # noqa: PLC0415
    from collectors.record import Record  # noqa: PLC0415
    from collectors.sink import KafkaSink  # noqa: PLC0415

    topic = f"bench.limit.{uuid.uuid4().hex[:10]}"
    ensure_topics(bootstrap, {topic: 3})
    sink = KafkaSink(bootstrap, topic, timeout_s=30)
    try:
        sink.send([Record(b"warm-up", b"{}")])
        batch = [Record(k, v) for k, v in records]
        began = time.perf_counter()
        acked = sink.send(batch)
        elapsed = time.perf_counter() - began
    finally:
        sink.close()
    assert acked == len(batch), f"the producer acknowledged {acked} of {len(batch)} records"
    return events / elapsed


# -- the two modes ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="alignmon-bench-"))
    try:
        with kafka(args.bootstrap, work) as bootstrap:
            return measure(args, work, bootstrap)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path, bootstrap: str) -> dict[str, Any]:
    from alignmon.stack.kafka import ensure_topics  # noqa: PLC0415
    from alignmon.stack.process import free_port  # noqa: PLC0415
    from collectors.gateway.tokens import TokenStore  # noqa: PLC0415

    topic = f"bench.{uuid.uuid4().hex[:10]}"
    ensure_topics(bootstrap, {topic: 3})
    result: dict[str, Any] = {"bootstrap": bootstrap if args.bootstrap else f"{bootstrap} (started for the run)"}
    store = TokenStore(work / "tokens.sqlite")
    began = time.perf_counter()
    if args.mode == "fleet":
        devices = [f"fleet-{i:05d}" for i in range(args.devices)]
    else:
        devices = [f"bench-device-{i}" for i in range(args.clients)]
    tokens = {d: store.issue(d) for d in [*devices, "bench-warmup"]}
    store.close()
    result["tokens_s"] = time.perf_counter() - began
    port = free_port()
    gateway = start_gateway(work, bootstrap, topic, port, args.workers)
    try:
        warm = request_bytes(tokens["bench-warmup"], build_bodies("bench-warmup", args.batch, args.batch, False)[0])

        async def warm_up() -> int:
            conn = await _connect("127.0.0.1", port)
            statuses = [(await conn.request(warm))[0] for _ in range(4 * args.workers)]
            assert conn.transport is not None
            conn.transport.close()
            return max(statuses)

        assert asyncio.run(warm_up()) == 202, "the warm-up request was not accepted"
        jobs = plan_batch(args, tokens, port) if args.mode == "batch" else plan_fleet(args, tokens, port)
        result.update(drive(args, jobs, gateway.pid))
        result["spooled_at_end"] = spool_depth(port)
        result["produce_ms"] = produce_ms(port)
        result["peak_rss_mib"], result["processes"] = peak_rss_mib(gateway.pid)
    finally:
        result["gateway_exit"] = stop_gateway(gateway)
    records = topic_records(bootstrap, topic, skip_key=None)
    warm_keys = {k for k, v in records if b"bench-warmup" in v}  # the warm-up's events (device pseudonymised)
    records = [(k, v) for k, v in records if k not in warm_keys]
    result["records"] = len(records)
    result["in_topic"] = count_events(records)
    if args.mode == "batch":
        result["limit_events_per_s"] = producer_limit(bootstrap, records, result["in_topic"])
    return result


def plan_batch(args: argparse.Namespace, tokens: dict[str, str], port: int) -> list[dict[str, Any]]:
    per_client = args.events // args.clients
    jobs = []
    for i in range(args.clients):
        device = f"bench-device-{i}"
        made = build_bodies(device, per_client, args.batch, args.gzip)
        bodies = [request_bytes(tokens[device], body, args.gzip) for body in made]
        jobs.append({"host": "127.0.0.1", "port": port, "lanes": [{"bodies": bodies}]})
    return jobs


def plan_fleet(args: argparse.Namespace, tokens: dict[str, str], port: int) -> list[dict[str, Any]]:
    devices = [f"fleet-{i:05d}" for i in range(args.devices)]
    lanes: list[dict[str, Any]] = [{"devices": []} for _ in range(args.connections)]
    for i, device in enumerate(devices):
        template = agent_template(device, f"user{i}@corp.example", args.batch)
        lanes[i % args.connections]["devices"].append((tokens[device], template))
    rng = random.Random(16)
    for plane in lanes:
        if args.rate > 0:
            plane["interval"] = args.connections / args.rate
            plane["phase"] = rng.uniform(0, plane["interval"])
    seconds = args.warmup + args.seconds
    return [
        {"host": "127.0.0.1", "port": port, "seconds": seconds, "lanes": lanes[p :: args.procs]}
        for p in range(args.procs)
    ]


def drive(args: argparse.Namespace, jobs: list[dict[str, Any]], gateway_pid: int) -> dict[str, Any]:
    """Start the client processes, measure the gateway's CPU over the window, gather the samples."""
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    start_at = ctx.Value("d", 0.0)
    procs = [ctx.Process(target=client, args=(job, ready, go, start_at, out)) for job in jobs]
    for p in procs:
        p.start()
    connections = sum(ready.get(timeout=120) for _ in procs)
    begin = time.time() + 0.5
    start_at.value = begin
    go.set()
    if args.mode == "fleet":
        window = (begin + args.warmup, begin + args.warmup + args.seconds)
        time.sleep(max(0.0, window[0] - time.time()))
        cpu0, machine0 = cpu_seconds(gateway_pid), machine_busy()
        time.sleep(max(0.0, window[1] - time.time()))
        cpu1, machine1 = cpu_seconds(gateway_pid), machine_busy()
        gathered = [out.get(timeout=120) for _ in procs]
    else:
        time.sleep(max(0.0, begin - time.time()))
        cpu0, machine0 = cpu_seconds(gateway_pid), machine_busy()
        gathered = [out.get(timeout=600) for _ in procs]
        cpu1, machine1 = cpu_seconds(gateway_pid), machine_busy()
        window = (begin, max(s[0] for samples, _ in gathered for s in samples))
    for p in procs:
        p.join()
    for got in gathered:
        if isinstance(got, BaseException):
            raise RuntimeError("a client process failed") from got
    samples = [s for got, _ in gathered for s in got if window[0] <= s[0] <= window[1]]
    latencies = sorted(s[1] for s in samples)
    elapsed = window[1] - window[0]
    ok = [s for s in samples if s[2] == 202]
    statuses: dict[int, int] = {}
    for s in samples:
        statuses[s[2]] = statuses.get(s[2], 0) + 1
    return {
        "connections": connections,
        "elapsed_s": elapsed,
        "requests": len(samples),
        "statuses": statuses,
        "reconnects": sum(r for _, r in gathered),
        "accepted": sum(s[3] for s in ok),
        "accepted_all": sum(s[3] for got, _ in gathered for s in got if s[2] == 202),
        "requests_per_s": len(ok) / elapsed,
        "events_per_s": sum(s[3] for s in ok) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "max_ms": latencies[-1] * 1000,
        "gateway_cpu_s": cpu1 - cpu0,
        "cpu_ms_per_request": (cpu1 - cpu0) / max(1, len(samples)) * 1000,
        "gateway_cores": (cpu1 - cpu0) / elapsed,
        "machine_cores": (machine1[0] - machine0[0]) / elapsed,
        "machine_cpus": (machine1[1] - machine0[1]) / elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["batch", "fleet"], default="batch")
    parser.add_argument("--bootstrap", help="Kafka bootstrap (default: start a broker for the run)")
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes (default 1)")
    parser.add_argument("--batch", type=int, help="events per request (default: 500 batch, 5 fleet)")
    parser.add_argument("--events", type=int, default=200_000, help="batch: events in all (default 200000)")
    parser.add_argument("--clients", type=int, default=4, help="batch: client processes, one device each")
    parser.add_argument("--gzip", action="store_true", help="batch: gzip the request bodies")
    parser.add_argument("--devices", type=int, default=10_000, help="fleet: devices, each with its token")
    parser.add_argument("--connections", type=int, default=400, help="fleet: keep-alive connections in all")
    parser.add_argument("--procs", type=int, default=2, help="fleet: client processes")
    parser.add_argument("--rate", type=float, default=0, help="fleet: requests/s in all; 0: as fast as answered")
    parser.add_argument("--seconds", type=float, default=20, help="fleet: measured seconds")
    parser.add_argument("--warmup", type=float, default=3, help="fleet: seconds of load before measuring")
    args = parser.parse_args()
    if args.batch is None:
        args.batch = 500 if args.mode == "batch" else 5
    result = run(args)
    import kafka  # noqa: PLC0415

    if args.mode == "batch":
        shape = f"{args.batch} events/request, {args.clients} clients, gzip={'yes' if args.gzip else 'no'}"
    else:
        rate = f"{args.rate:,.0f} requests/s offered" if args.rate else "closed loop"
        shape = (
            f"{args.batch} events/request, {args.devices:,} devices, {result['connections']} connections "
            f"from {args.procs} processes, {rate}, {args.warmup:g} s warm-up + {args.seconds:g} s measured"
        )
    r = result
    tokens = (args.devices if args.mode == "fleet" else args.clients) + 1
    rows = [
        ("machine", machine()),
        ("python / kafka-python", f"{platform.python_version()} / {kafka.__version__}"),
        ("command", shlex.join([sys.executable, *sys.argv])),
        ("broker", r["bootstrap"]),
        ("gateway", f"{args.workers} worker(s), {r['processes']} process(es)"),
        ("requests", shape),
        ("tokens issued", f"{tokens} in {r['tokens_s']:.1f} s"),
        ("answers", f"{r['requests']} in {r['elapsed_s']:.2f} s: {r['statuses']}, reconnects {r['reconnects']}"),
        ("events accepted (202)", f"{r['accepted']} in the window, {r['accepted_all']} in all"),
        ("events in the topic", f"{r['in_topic']} in {r['records']} records (spool at end: {r['spooled_at_end']})"),
        ("throughput", f"{r['requests_per_s']:,.0f} requests/s, {r['events_per_s']:,.0f} events/s (202 = durable)"),
        ("request latency", f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms"),
        (
            "gateway CPU",
            f"{r['gateway_cpu_s']:.1f} s: {r['cpu_ms_per_request']:.3f} ms a request, {r['gateway_cores']:.2f} cores",
        ),
        (
            "machine CPU",
            f"{r['machine_cores']:.2f} of {r['machine_cpus']:.2f} cores busy (gateway, clients, broker, anything else)",
        ),
        ("produce round-trip", "n/a" if r["produce_ms"] is None else f"{r['produce_ms']:.1f} ms mean (the gateway's)"),
        ("gateway peak RSS", f"{r['peak_rss_mib']:.0f} MiB (VmHWM summed over its processes)"),
    ]
    if "limit_events_per_s" in r:
        limit = r["limit_events_per_s"]
        ratio = r["events_per_s"] / limit
        rows.append(("limit (producer alone)", f"{limit:,.0f} events/s, same records; gateway / limit {ratio:.3f}"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    failed = sum(n for status, n in result["statuses"].items() if status != 202)
    ok = failed == 0 and result["in_topic"] + (result["spooled_at_end"] or 0) >= result["accepted_all"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
