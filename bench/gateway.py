"""Gateway throughput: events/s from HTTP batches to Kafka-acknowledged, and the gateway's peak RSS.

Run: .venv/bin/python bench/gateway.py [--bootstrap HOST:PORT] [--events N] [--batch 500] [--clients 4]
Without --bootstrap a broker is started for the run (alignmon.stack) and stopped after it.
The gateway runs in this process (uvicorn in a thread); clients are separate processes, so the peak
RSS reported (getrusage of this process) is the gateway's, not the clients'. A 202 from the gateway
means Kafka acknowledged the batch (acks=all) unless it was spooled; the spool depth is reported too.
Counts are events: the gateway packs a request's events into records of up to 500 (collectors.record),
so the topic is read back to count the events in it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from host import machine  # bench/host.py: these scripts run from bench/


def build_bodies(device: str, events: int, batch: int, use_gzip: bool) -> list[bytes]:
    """Request bodies for one client, serialised before the clock starts."""
    import gzip  # noqa: PLC0415

    start = datetime.now(UTC) - timedelta(hours=1)
    apps = ["code.exe", "excel.exe", "outlook.exe", "chrome.exe", "teams.exe", "sap.exe"]
    bodies = []
    for first in range(0, events, batch):
        items = [
            {
                "event_id": f"{device}-{n}",
                "kind": "focus",
                "device_id": device,
                "user": f"user{n % 50}@corp.example",
                "app": apps[n % len(apps)],
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


def client(job: tuple[str, str, list[bytes], bool], go: Any, out: Any) -> None:
    """One device posting its batches back to back; reports accepted events and request latencies."""
    import httpx  # noqa: PLC0415

    url, token, bodies, use_gzip = job
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    latencies, accepted, failures = [], 0, 0
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        go.wait()
        for body in bodies:
            began = time.perf_counter()
            response = http.post("/v1/events", content=body)
            latencies.append(time.perf_counter() - began)
            if response.status_code == 202:
                accepted += response.json()["accepted"]
            else:
                failures += 1
    out.put((accepted, failures, latencies))


def topic_events(bootstrap: str, topic: str, skip_key: bytes) -> tuple[int, int]:
    """Events and records in the topic but `skip_key`'s; records are packed (collectors.record), so read them."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    from collectors.record import events_of  # noqa: PLC0415

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        events = records = 0
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < end[tp] for tp in parts) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                ours = [r for r in batch if r.key != skip_key]
                records += len(ours)
                events += sum(len(events_of(r.value)) for r in ours)
        return events, records
    finally:
        consumer.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from alignmon.stack.kafka import ensure_topics  # noqa: PLC0415
    from base.settings import Settings  # noqa: PLC0415
    from collectors.gateway.app import create_app  # noqa: PLC0415
    from collectors.gateway.server import BackgroundServer  # noqa: PLC0415
    from collectors.gateway.service import GatewayService  # noqa: PLC0415

    work = Path(tempfile.mkdtemp(prefix="alignmon-bench-"))
    stack = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        from alignmon.stack.process import free_port  # noqa: PLC0415
        from alignmon.stack.stack import Stack, StackConfig  # noqa: PLC0415

        stack = Stack(StackConfig(state_dir=work / "stack", kafka_port=free_port(), kafka_controller_port=free_port()))
        stack.kafka().start()
        bootstrap = stack.kafka_bootstrap
    topic = f"bench.{uuid.uuid4().hex[:10]}"
    ensure_topics(bootstrap, {topic: 3})

    ctx = mp.get_context("spawn")
    devices = [f"bench-device-{i}" for i in range(args.clients)]
    per_client = args.events // args.clients
    settings = Settings(
        pseudonym_secret="bench-secret-not-for-production",
        token_db=work / "tokens.sqlite",
        spool_dir=work / "spool",
        kafka_bootstrap=bootstrap,
        topic=topic,
        rate_limit_per_s=0,  # a load test, not a rate-limit test
        dev_mode=False,
    )
    service = GatewayService.from_settings(settings)
    tokens = {d: service.tokens.issue(d) for d in devices}
    server = BackgroundServer(create_app(service)).start()
    try:
        warm = build_bodies("bench-warmup", args.batch, args.batch, args.gzip)[0]
        import httpx  # noqa: PLC0415

        token = service.tokens.issue("bench-warmup")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if args.gzip:
            headers["Content-Encoding"] = "gzip"
        assert httpx.post(f"{server.url}/v1/events", content=warm, headers=headers, timeout=60).status_code == 202

        go, out = ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(
                target=client,
                args=((server.url, tokens[d], build_bodies(d, per_client, args.batch, args.gzip), args.gzip), go, out),
            )
            for d in devices
        ]
        for p in procs:
            p.start()
        time.sleep(2.0)  # let the clients connect and sit at the start line
        began = time.perf_counter()
        go.set()
        results = [out.get() for _ in procs]
        elapsed = time.perf_counter() - began
        for p in procs:
            p.join()
        spooled = service.spool.depth
    finally:
        server.stop()
    in_topic, records = topic_events(bootstrap, topic, skip_key=b"bench-warmup")
    if stack is not None:
        stack.kafka().stop()
    shutil.rmtree(work, ignore_errors=True)
    accepted = sum(r[0] for r in results)
    latencies = sorted(x for r in results for x in r[2])
    return {
        "accepted": accepted,
        "failed_requests": sum(r[1] for r in results),
        "elapsed_s": elapsed,
        "events_per_s": accepted / elapsed,
        "in_topic": in_topic,
        "records": records,
        "spooled_at_end": spooled,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bootstrap": bootstrap if args.bootstrap else f"{bootstrap} (started for the run)",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="Kafka bootstrap (default: start a broker for the run)")
    parser.add_argument("--events", type=int, default=200_000, help="events in all (default 200000)")
    parser.add_argument("--batch", type=int, default=500, help="events per HTTP request (default 500)")
    parser.add_argument("--clients", type=int, default=4, help="client processes, one device each (default 4)")
    parser.add_argument("--gzip", action="store_true", help="gzip the request bodies")
    args = parser.parse_args()
    result = run(args)
    import kafka  # noqa: PLC0415

    rows = [
        ("machine", machine()),
        ("python / kafka-python", f"{platform.python_version()} / {kafka.__version__}"),
        ("command", shlex.join([sys.executable, *sys.argv])),
        ("broker", result["bootstrap"]),
        ("batches", f"{args.batch} events/request, {args.clients} clients, gzip={'yes' if args.gzip else 'no'}"),
        ("events accepted (202)", f"{result['accepted']} in {result['elapsed_s']:.2f} s"),
        (
            "events in the topic",
            f"{result['in_topic']} in {result['records']} records (spool at end: {result['spooled_at_end']})",
        ),
        ("failed requests", str(result["failed_requests"])),
        ("throughput", f"{result['events_per_s']:,.0f} events/s (HTTP in -> Kafka-acknowledged)"),
        ("request latency", f"p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms"),
        ("gateway peak RSS", f"{result['peak_rss_mib']:.0f} MiB (getrusage of the gateway process)"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    ok = result["failed_requests"] == 0 and result["in_topic"] + result["spooled_at_end"] >= result["accepted"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
