"""Pipeline throughput: Kafka -> committed DuckDB rows, the raw DuckDB insert limit, and refresh cost.

Run: .venv/bin/python bench/ingest.py [--bootstrap HOST:PORT] [--events 1000000] [--history 1000000,10000000]
Without --bootstrap a broker is started for the run (alignmon.stack) and stopped after it.

(a) end to end: a topic is pre-filled with simulator events (3 partitions, keyed by device), then the
    real Consumer + Store (poll, decode, validation, dedup, rollup, offsets; one transaction per batch)
    drain it; events/s = rows committed / seconds from the consumer's creation to the last commit.
    Record shapes (--shapes): `packed`, written by collectors.publish exactly as the simulator,
    importers and demo write (runs of one device's events per record, as the gateway packs a request),
    `single`, one event per record as a third-party producer may write, and `upN`, at most N events a
    record (a gateway fed by agents that upload a few events at a time).
    It runs in a fresh child process, so its peak RSS (ru_maxrss) is the pipeline's alone; RSS is
    also sampled as the backlog drains, to show whether memory follows the backlog.
(b) the limit: the same rows (read back from (a)'s DuckDB as one prebuilt Arrow table) inserted into a
    plain table; the ratio (a)/(b) says how much of DuckDB's own speed the pipeline gets.
(c) refresh: the adoption refresh for ONE new day on top of a history of N events (a scale-10 simulated
    organisation, written through Store.write in 500k-event batches, whose cost per event is reported for
    the first and the last batch: it shows whether a write grows with the history), after the history's
    own first full refresh.
(d) the consumer's limit: kafka-python's bare poll loop over the same topic (records/s, nothing done per record),
    in its own child process; the ratio (a)/(d) says how much of it the pipeline keeps.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing as mp
import platform
import pstats
import re
import resource
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from host import kafka, machine  # bench/host.py: these scripts run from bench/

SEED = 11
AS_OF = date(2026, 11, 19)  # a Thursday: the "new day" of (c) has events


def versions() -> dict[str, str]:
    import duckdb  # noqa: PLC0415
    import kafka  # noqa: PLC0415
    import pyarrow  # noqa: PLC0415
    import pydantic  # noqa: PLC0415

    pom = Path(__file__).parents[1] / "alignmon" / "stack" / "pom.xml"
    broker = "?"
    for line in pom.read_text().splitlines():
        if "<kafka.version>" in line:
            broker = line.split(">")[1].split("<")[0]
    try:
        import crc32c  # noqa: F401, PLC0415

        crc = "yes"
    except ImportError:
        crc = "NO (10x slower record decoding)"
    return {
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "kafka-python": kafka.__version__,
        "crc32c": crc,
        "pyarrow": pyarrow.__version__,
        "pydantic": pydantic.__version__,
        "kafka broker": broker,
    }


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def cpu_seconds() -> float:
    """CPU time of this process, all its threads (DuckDB's and pyarrow's too), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def simulated_days(scale: float, newest: date) -> Iterator[tuple[date, list[dict[str, Any]]]]:
    """(day, events) going back in time from `newest`; weekends have none and are skipped."""
    from collectors.simulate import Organisation  # noqa: PLC0415

    org = Organisation.build(SEED, scale, AS_OF)
    day = newest
    while True:
        events = list(org.dicts_for_day(day, with_department=True))
        if events:
            yield day, events
        day -= timedelta(days=1)


# (a) end to end


def prefill(bootstrap: str, topic: str, events: int, shape: str) -> tuple[int, int]:
    """Produce `events` simulator events as `shape` records; returns (events, records)."""
    from collectors.publish import publish  # noqa: PLC0415
    from collectors.record import events_of, records  # noqa: PLC0415

    def fleet() -> Iterator[dict[str, Any]]:
        sent = 0
        for _day, day_events in simulated_days(5.0, AS_OF):
            yield from day_events[: events - sent]
            sent += min(len(day_events), events - sent)
            if sent >= events:
                return

    def pairs() -> Iterator[tuple[bytes, bytes]]:
        return ((e["device_id"].encode(), json.dumps(e, separators=(",", ":")).encode()) for e in fleet())

    if shape == "packed":
        # The number of records publish() makes: the same packing, counted on the same events.
        return publish(bootstrap, topic, fleet()), sum(1 for _ in records(pairs()))
    from kafka import KafkaProducer  # noqa: PLC0415

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=1024 * 1024, max_request_size=4 * 1024**2
    )
    most = 1 if shape == "single" else int(shape.removeprefix("up"))
    sent = made = 0
    for record in records(pairs(), max_events=most):
        producer.send(topic, key=record.key, value=record.value)
        sent += 1 if most == 1 else len(events_of(record.value))
        made += 1
    producer.flush(timeout=300)
    producer.close()
    return sent, made


def consume(bootstrap: str, topic: str, events: int, db: str, batch_mib: float, *, profile: bool) -> dict[str, Any]:
    """Child process: drain the topic through the real pipeline code; timings, stage split and RSS."""
    import pipeline.consumer as consumer_module  # noqa: PLC0415
    from base.settings import Settings  # noqa: PLC0415
    from pipeline.batch import Batch  # noqa: PLC0415
    from pipeline.consumer import Consumer  # noqa: PLC0415
    from pipeline.store import Store  # noqa: PLC0415

    spent = {"decode": 0.0, "write": 0.0}

    class TimedStore(Store):
        def write(
            self, b: Batch, high_watermarks: dict[tuple[str, int], int] | None = None, *, dry_run: bool = False
        ) -> int:
            began = time.perf_counter()
            try:
                return super().write(b, high_watermarks, dry_run=dry_run)
            finally:
                spent["write"] += time.perf_counter() - began

    def timed_decode(records: Any, **kwargs: Any) -> Batch:
        began = time.perf_counter()
        try:
            return decode(records, **kwargs)
        finally:
            spent["decode"] += time.perf_counter() - began

    decode = consumer_module.decode  # type: ignore[attr-defined]
    consumer_module.decode = timed_decode  # type: ignore[attr-defined,assignment]  # the stopwatch only
    rss_before = peak_rss_mib()
    cpu_before = cpu_seconds()
    store = TimedStore(db, "UTC", Settings().duckdb_memory_limit)  # as the pipeline runs it
    began = time.perf_counter()
    consumer = Consumer(
        store,
        bootstrap,
        topic,
        f"{topic}.dlq",
        max_batch_bytes=int(batch_mib * 1024 * 1024),
        event_bounds=Settings().event_bounds(),
    )
    prof = cProfile.Profile() if profile else None
    handled, first_at, first_rows, step_s = 0, 0.0, 0, 0.0
    rss_track: list[tuple[int, float]] = []  # (events handed over, current RSS MiB) at each quarter
    if prof:
        prof.enable()
    deadline = time.monotonic() + 1800
    while handled < events and time.monotonic() < deadline:
        t = time.perf_counter()
        n = consumer.step()
        step_s += time.perf_counter() - t
        if n and not first_at:
            first_at, first_rows = time.perf_counter(), n
        handled += n
        if handled >= (len(rss_track) + 1) * events / 4:
            rss_track.append((handled, current_rss_mib()))
    consumer.flush()
    done = time.perf_counter()
    cpu_s = cpu_seconds() - cpu_before
    if prof:
        prof.disable()
    stats = consumer.stats
    consumer.close()
    rows = store.con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
    store.close()
    out: dict[str, Any] = {
        "handled": handled,
        "rows": rows,
        "duplicates": stats.duplicates,
        "rejected": stats.rejected,
        "batches": stats.batches,
        "total_s": done - began,
        "first_commit_s": first_at - began if first_at else 0.0,
        "steady_s": done - first_at if first_at else 0.0,
        "steady_rows": handled - first_rows,
        "write_s": spent["write"],
        "decode_s": spent["decode"],
        "main_s": step_s,
        "cpu_s": cpu_s,
        "peak_rss_mib": peak_rss_mib(),
        "rss_at_start_mib": rss_before,
        "rss_track": rss_track,
        "settings": f"batch {batch_mib:g} MiB, DuckDB memory limit {Settings().duckdb_memory_limit}",
    }
    if prof:
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(18)
        out["profile"] = text.getvalue()
    return out


def bare_poll(bootstrap: str, topic: str, records: int) -> dict[str, float]:
    """Child process: kafka-python reading the topic with nothing done per record (the consumer's own limit)."""
    from kafka import KafkaConsumer, TopicPartition  # noqa: PLC0415

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=20_000,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )  # the pipeline consumer's fetch settings
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    began, seen = time.perf_counter(), 0
    while seen < records and time.perf_counter() - began < 600:
        seen += sum(len(part) for part in consumer.poll(timeout_ms=1000).values())
    took = time.perf_counter() - began
    consumer.close()
    return {"records": seen, "seconds": took}


# (b) the limit


def raw_insert(db: str, work: Path) -> dict[str, float]:
    """Insert (a)'s rows, prebuilt as one Arrow table, into a plain table: all at once, and per 20k batch."""
    import duckdb  # noqa: PLC0415

    src = duckdb.connect(db, read_only=True)
    table = src.sql("SELECT * FROM events ORDER BY kafka_partition, kafka_offset").to_arrow_table()
    src.close()
    out: dict[str, float] = {"rows": table.num_rows}
    for label, step in (("one_insert", table.num_rows), ("per_20k", 20000)):
        path = work / f"raw-{label}.duckdb"
        con = duckdb.connect(str(path))
        con.register("arrow_rows", table.slice(0, 0))
        con.execute("CREATE TABLE plain AS SELECT * FROM arrow_rows")
        con.unregister("arrow_rows")
        began = time.perf_counter()
        for first in range(0, table.num_rows, step):
            con.register("arrow_rows", table.slice(first, step))
            con.execute("INSERT INTO plain SELECT * FROM arrow_rows")
            con.unregister("arrow_rows")
        out[f"{label}_s"] = time.perf_counter() - began
        con.close()
    return out


# (c) refresh cost


def history_table(events: list[dict[str, Any]], offset: int) -> Any:
    """Rows in the pipeline's column layout, as the consumer would have decoded them."""
    from datetime import UTC, datetime  # noqa: PLC0415

    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    from pipeline.batch import COLUMNS  # noqa: PLC0415

    n = len(events)
    cols: dict[str, Any] = {
        name: [e[name] for e in events]
        for name in ("event_id", "kind", "device_id", "user", "app", "duration_s", "source", "department")
    }
    cols["start"] = pc.cast(pa.array([e["start"] for e in events]), pa.timestamp("us", tz="UTC"))
    cols["title"] = pa.nulls(n, pa.string())
    cols["schema_version"] = pa.array([1] * n, pa.int32())
    cols["kafka_topic"] = ["history"] * n
    cols["kafka_partition"] = pa.array([0] * n, pa.int32())
    cols["kafka_offset"] = pa.array(range(offset, offset + n), pa.int64())
    cols["ingested_at"] = pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC"))
    return pa.Table.from_arrays([pa.array(cols[f.name], f.type) for f in COLUMNS], schema=COLUMNS)


def refresh_cost(history: int, work: Path) -> dict[str, Any]:
    """Child process: load `history` events (days before AS_OF), refresh once fully, add AS_OF, refresh."""
    import pyarrow as pa  # noqa: PLC0415

    from base.directory import load_directory  # noqa: PLC0415
    from base.pseudonym import DEV_KEY  # noqa: PLC0415
    from collectors.simulate import Organisation  # noqa: PLC0415
    from pipeline.batch import Batch  # noqa: PLC0415
    from pipeline.catalog import load_catalog  # noqa: PLC0415
    from pipeline.refresh import refresh, sync_catalog  # noqa: PLC0415
    from pipeline.store import Store  # noqa: PLC0415

    scale = 10.0
    org = Organisation.build(SEED, scale, AS_OF)
    (work / "catalog").mkdir(parents=True, exist_ok=True)
    org.write_catalog(work / "catalog" / "catalog.yaml")
    org.write_directory(work / "directory.csv")
    catalog = load_catalog(work / "catalog", load_directory(work / "directory.csv", DEV_KEY))
    store = Store(work / f"history-{history}.duckdb")

    began = time.perf_counter()
    pending: list[dict[str, Any]] = []
    write_us: list[float] = []  # Store.write per event, batch by batch, as the history grows
    loaded, oldest = 0, AS_OF
    day = AS_OF - timedelta(days=1)
    while loaded < history:
        if day.weekday() < 5:
            day_events = list(org.dicts_for_day(day, pseudonymise_with=DEV_KEY, with_department=True))
            day_events = day_events[: history - loaded]
            pending.extend(day_events)
            loaded += len(day_events)
            oldest = day
        day -= timedelta(days=1)
        if len(pending) >= 500_000 or loaded >= history:
            # Oldest days last is fine: the store's rollup is additive and order-free.
            rows = history_table(pending, loaded - len(pending))
            t = time.perf_counter()
            store.write(Batch(rows, next_offsets={("history", 0): loaded}))
            write_us.append((time.perf_counter() - t) / len(pending) * 1e6)
            pending = []
    load_s = time.perf_counter() - began
    udaily = store.con.execute("SELECT count(*) FROM usage_user_daily").fetchone()[0]  # type: ignore[index]

    sync_catalog(store.con, catalog)
    full_s = refresh(store.con, catalog, AS_OF - timedelta(days=1))

    today = list(org.dicts_for_day(AS_OF, pseudonymise_with=DEV_KEY, with_department=True))
    t = time.perf_counter()
    store.write(Batch(history_table(today, loaded), next_offsets={("history", 0): loaded + len(today)}))
    write_day_s = time.perf_counter() - t
    one_day_s = refresh(store.con, catalog, AS_OF)
    # The running pipeline refreshes every ALIGNMON_REFRESH_INTERVAL_S: later ones recompute the same day.
    again = [refresh(store.con, catalog, AS_OF) for _ in range(3)]
    size = (work / f"history-{history}.duckdb").stat().st_size
    store.close()
    return {
        "history": loaded,
        "days": (AS_OF - oldest).days,
        "users": len(org.users),
        "usage_user_daily_rows": udaily,
        "load_s": load_s,
        "write_us_first": write_us[0],
        "write_us_last": write_us[-1],
        "full_refresh_s": full_s,
        "new_day_events": len(today),
        "write_new_day_s": write_day_s,
        "refresh_one_day_s": one_day_s,
        "refresh_again_median_s": statistics.median(again),
        "db_mib": size / 1024**2,
        "peak_rss_mib": peak_rss_mib(),
        "arrow_pool_mib": pa.total_allocated_bytes() / 1024**2,
    }


def in_child(fn: Any, *args: Any) -> Any:
    """Run fn in a fresh (spawned) process, so its peak RSS is its own."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    p.add_argument("--events", type=int, default=1_000_000, help="events pre-filled for (a) (default 1,000,000)")
    p.add_argument(
        "--shapes",
        default="packed,single",
        help="record shapes for (a), comma-separated: packed (as collectors.publish writes), single (one event a "
        "record), upN (at most N events of a device a record, e.g. up5 for small agent uploads); default packed,single",
    )
    p.add_argument(
        "--batch-mib", type=float, help="consumer batch bound in MiB (default: the pipeline's ALIGNMON_BATCH_MAX_MIB)"
    )
    p.add_argument("--history", default="1000000,10000000", help="history sizes for (c), comma-separated ('' to skip)")
    p.add_argument("--profile", action="store_true", help="cProfile the consumer in (a) and print the top functions")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args(argv)
    if args.batch_mib is None:
        from base.settings import Settings  # noqa: PLC0415

        args.batch_mib = Settings().batch_max_mib
    shapes = [s for s in args.shapes.split(",") if s]
    if not shapes or any(s not in ("packed", "single") and not re.fullmatch(r"up[1-9][0-9]*", s) for s in shapes):
        p.error("--shapes takes packed, single and upN (N >= 1), comma-separated")

    work = Path(tempfile.mkdtemp(prefix="alignmon-bench-ingest-"))
    try:
        with kafka(args.bootstrap, work) as bootstrap:
            from alignmon.stack.kafka import ensure_topics  # noqa: PLC0415

            runs: dict[str, dict[str, Any]] = {}
            for shape in shapes:
                topic = f"bench.ingest.{shape}.{uuid.uuid4().hex[:8]}"
                ensure_topics(bootstrap, {topic: 3, f"{topic}.dlq": 1})
                t = time.perf_counter()
                sent, records = prefill(bootstrap, topic, args.events, shape)
                print(
                    f"pre-filled {topic}: {sent:,} events in {records:,} records, {time.perf_counter() - t:.1f}s",
                    flush=True,
                )
                db = str(work / f"pipeline-{shape}.duckdb")
                runs[shape] = in_child(
                    partial(consume, profile=args.profile), bootstrap, topic, sent, db, args.batch_mib
                )
                runs[shape] |= {"sent": sent, "records": records, "db": db}
                runs[shape]["bare"] = in_child(bare_poll, bootstrap, topic, records)
                print(f"  drained at {runs[shape]['rows'] / runs[shape]['total_s']:,.0f} events/s", flush=True)
            b = raw_insert(runs[shapes[0]]["db"], work)
            c = [in_child(refresh_cost, int(h), work / f"h{h}") for h in filter(None, args.history.split(","))]
            report(argv, runs, b, c)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def report(argv: list[str], runs: dict[str, dict[str, Any]], b: dict[str, float], c: list[dict[str, Any]]) -> None:
    raw_one = b["rows"] / b["one_insert_s"]
    raw_batched = b["rows"] / b["per_20k_s"]
    lines = [
        "",
        f"command: .venv/bin/python bench/ingest.py {shlex.join(argv)}".rstrip(),
        f"machine: {machine()}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        "",
        "(a) Kafka -> committed DuckDB rows (Consumer + decode/validate + Store.write incl. rollup and offsets)",
    ]
    for shape, a in runs.items():
        e2e = a["rows"] / a["total_s"]
        steady = a["steady_rows"] / a["steady_s"] if a["steady_s"] else 0.0
        bare = a["bare"]["records"] / a["bare"]["seconds"]
        track = ", ".join(f"{n / 1e6:.2f}M: {rss:,.0f}" for n, rss in a["rss_track"])
        lines += [
            f"  [{shape}] {a['sent']:,} events in {a['records']:,} records ({a['sent'] / a['records']:.1f} per record);"
            f" rows committed {a['rows']:,}; batches {a['batches']}; rejected {a['rejected']};"
            f" duplicates {a['duplicates']}; {a['settings']}",
            f"  end to end   {e2e:>12,.0f} events/s  ({a['total_s']:.1f}s from the consumer's creation to the last"
            f" commit; the first commit after {a['first_commit_s']:.1f}s)",
            f"  steady state {steady:>12,.0f} events/s  (first commit to last commit)",
            f"  time split   main thread {a['main_s']:.1f}s of which validate + Arrow {a['decode_s']:.1f}s"
            f" (the rest: Kafka fetch + record decode) | writer thread Store.write {a['write_s']:.1f}s"
            f" | CPU of the process {a['cpu_s'] / a['rows'] * 1e6:.1f} us an event",
            f"  peak RSS     {a['peak_rss_mib']:,.0f} MiB (child process; {a['rss_at_start_mib']:,.0f} MiB after"
            f" imports); RSS MiB as the backlog drained: {track}",
            f"  ratio to (b): end to end / one INSERT = {e2e / raw_one:.3f}; end to end / per 20k = "
            f"{e2e / raw_batched:.3f}",
            f"  bare poll    kafka-python alone read the topic's {a['bare']['records']:,} records at {bare:,.0f}/s"
            f" ({bare * a['sent'] / a['records']:,.0f} events/s); end to end / bare poll = "
            f"{e2e / (bare * a['sent'] / a['records']):.3f}",
            "",
        ]
    lines += [
        f"(b) DuckDB limit: the same rows ([{next(iter(runs))}] run's) from a prebuilt Arrow table into a plain table",
        f"  one INSERT   {raw_one:>12,.0f} rows/s     per 20k batch {raw_batched:>12,.0f} rows/s",
        "",
        "(c) adoption refresh for one new day (scale-10 simulated organisation)",
        f"  {'history':>11} {'days':>5} {'users':>6} {'user-days':>10} {'load s':>7} {'full s':>7} "
        f"{'write us/ev':>12} {'new day':>8} {'write s':>8} {'refresh s':>10} {'again s':>8} {'db MiB':>7} "
        f"{'RSS MiB':>8}",
    ]
    for r in c:
        lines.append(
            f"  {r['history']:>11,} {r['days']:>5} {r['users']:>6} {r['usage_user_daily_rows']:>10,} "
            f"{r['load_s']:>7.1f} {r['full_refresh_s']:>7.2f} "
            f"{r['write_us_first']:>5.1f}-{r['write_us_last']:<6.1f} "
            f"{r['new_day_events']:>8,} {r['write_new_day_s']:>8.2f} "
            f"{r['refresh_one_day_s']:>10.3f} {r['refresh_again_median_s']:>8.3f} {r['db_mib']:>7.0f} "
            f"{r['peak_rss_mib']:>8.0f}"
        )
    print("\n".join(lines))
    for shape, a in runs.items():
        if "profile" in a:
            print(f"\nprofile of (a) [{shape}], by own time:\n" + a["profile"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
