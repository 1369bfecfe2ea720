"""Data-subject access and erasure on a real DuckDB file, through the CLI: stopped pipeline and running one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from kafka import KafkaProducer

from alignmon.stack.process import free_port
from base.directory import parse_directory
from base.pseudonym import DEV_KEY, pseudonymise
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.lake.location import Lake
from pipeline.lake.publisher import offload
from pipeline.lake.publisher import publish as publish_days
from pipeline.refresh import refresh, sync_catalog
from pipeline.requests import RequestFolder
from pipeline.store import Store
from tests.pipeline.test_analyst_access import pipeline_env
from tests.support.events import KEY, focus

AS_OF = date(2026, 11, 20)
CATALOG = """
applications:
  - {id: teams, name: Teams, capability: chat, match: {names: [teams.exe]}}
objectives:
  - id: work
    name: Work
    initiatives:
      - id: comms
        name: Comms
        domain: it_strategy
        perspective: technology_transformation
        investments:
          - id: inv-teams
            name: Teams
            applications: [teams]
            annual_cost: 1000
            currency: EUR
            owner: {name: Owner, email: owner@example.org}
            go_live: 2026-01-01
            target_ratio: 0.8
            target_date: 2026-12-31
"""
PEOPLE = ("alice", "bob", "carol", "dave", "erin")


def _fleet(tmp: Path) -> tuple[Path, Any]:
    """A stopped pipeline's file: five people on Teams for ten days; refreshed."""
    (tmp / "catalog").mkdir()
    (tmp / "catalog" / "catalog.yaml").write_text(CATALOG)
    directory = parse_directory("user,department\n" + "".join(f"{p},Sales\n" for p in PEOPLE), KEY)
    store = Store(tmp / "pipeline.duckdb")
    events = [
        focus(n * 100 + back, who, "teams.exe", AS_OF - timedelta(days=back), 30)
        for n, who in enumerate(PEOPLE)
        for back in range(10)
    ]
    # One record the pipeline rejects (a negative duration): its dead letter holds alice's pseudonym too.
    bad = json.loads(focus(999, "alice", "teams.exe", AS_OF, 30))
    events.append(json.dumps({**bad, "duration_s": -1}).encode())
    produced = int(time.time() * 1000)
    store.write(decode([Record("t", 0, i, produced, e) for i, e in enumerate(events)]))
    catalog = load_catalog(tmp / "catalog", directory)
    sync_catalog(store.con, catalog)
    refresh(store.con, catalog, AS_OF)
    store.close()
    return tmp / "pipeline.duckdb", catalog


def _env(db: Path, tmp: Path) -> dict[str, str]:
    return {
        "ALIGNMON_DUCKDB_PATH": str(db),
        "ALIGNMON_PSEUDONYM_SECRET": KEY.decode(),
        "ALIGNMON_STATE_DIR": str(tmp / "state"),
        "ALIGNMON_AS_OF": AS_OF.isoformat(),
    }


def _count(db: Path, sql: str) -> Any:
    store = Store(db)
    try:
        return store.con.execute(sql).fetchall()
    finally:
        store.close()


def test_access_and_erasure_of_one_person_on_a_stopped_pipelines_file(alignmon: Any, tmp_path: Path) -> None:
    db, catalog = _fleet(tmp_path)
    env = _env(db, tmp_path)
    alice = pseudonymise("alice", KEY)

    seen = alignmon.run(["privacy", "subject", "Alice "], env)  # the name as endpoints send it: case, spaces
    assert seen.returncode == 0, seen.stderr
    report = json.loads(seen.stdout)
    assert report["pseudonym"] == alice
    assert len(report["rows"]["events"]) == 10 and len(report["rows"]["usage_user_daily"]) == 10
    assert len(report["rows"]["rejected_events"]) == 1 and alice in report["rows"]["rejected_events"][0]["payload"]
    assert report["rows"]["directory"] == [{"user": alice, "department": "Sales"}]
    # Which device reported on which day, and the collectors' view of her device, are about her too.
    assert len(report["rows"]["device_daily"]) == 10 and len(report["rows"]["collector_devices"]) == 1
    assert {r["user"] for t in ("events", "usage_user_daily", "directory", "device_daily", "collector_devices")
            for r in report["rows"][t]} == {alice}  # fmt: skip

    erased = alignmon.run(["privacy", "erase", "alice"], env)
    assert erased.returncode == 0, erased.stderr
    assert "erased 10 raw events, 10 daily rows, 10 device days and 1 rejected records about alice" in erased.stdout
    assert "gone by 2026-11-27" in erased.stdout  # Kafka's week with the default raw retention
    assert _count(db, f"SELECT count(*) FROM events WHERE \"user\" = '{alice}'") == [(0,)]
    assert _count(db, f"SELECT count(*) FROM usage_user_daily WHERE \"user\" = '{alice}'") == [(0,)]
    for table in ("device_daily", "collector_devices"):
        assert _count(db, f"SELECT count(*) FROM {table} WHERE \"user\" = '{alice}'") == [(0,)]
    assert _count(db, 'SELECT count(DISTINCT "user") FROM usage_user_daily') == [(4,)]  # the others stay
    # The next refresh no longer counts her: 4 of the 5 in Sales are active.
    store = Store(db)
    try:
        refresh(store.con, catalog, AS_OF)
        assert store.con.execute("SELECT mau, active_target FROM adoption_current").fetchall() == [(4, 4)]
        audit = store.con.execute("SELECT action, subject, detail FROM privacy_audit ORDER BY done_at").fetchall()
    finally:
        store.close()
    assert [(a, s) for a, s, _ in audit] == [("access", alice), ("erase", alice)]
    assert json.loads(audit[1][2]) == {
        "events": 10,
        "usage_user_daily": 10,
        "rejected_events": 1,
        "device_daily": 10,
        "collector_devices": 1,
    }
    assert _count(db, "SELECT count(*) FROM rejected_events") == [(0,)]

    # An unknown person, or one already erased: said so, nothing changed, nothing audited.
    for who in ("mallory", "alice"):
        again = alignmon.run(["privacy", "erase", who], env)
        assert again.returncode == 1
        assert "no stored telemetry is about" in again.stderr and "nothing erased" in again.stderr
    assert _count(db, "SELECT count(*) FROM privacy_audit") == [(2,)]
    assert _count(db, "SELECT count(*) FROM events") == [(40,)]


def test_a_running_pipeline_answers_the_request_between_batches(tmp_path: Path) -> None:
    """The CLI cannot open the file the pipeline holds: it leaves a request, the pipeline performs and answers it."""
    db, _catalog = _fleet(tmp_path)
    env = _env(db, tmp_path)
    store = Store(db)  # this process holds the file, as the pipeline does
    folder = RequestFolder(tmp_path / "state" / "privacy-requests")
    stop = threading.Event()

    def pipeline() -> None:  # what alignmon.process.Pipeline._loop does with the writer's connection
        while not stop.is_set():
            folder.answer_all(store.con)
            stop.wait(0.1)

    server = threading.Thread(target=pipeline, daemon=True)
    server.start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "alignmon.cli", "privacy", "erase", "bob"],
            env={**__import__("os").environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "asking the running pipeline" in result.stderr
        assert "erased 10 raw events, 10 daily rows, 10 device days and 0 rejected records about bob" in result.stdout
        bob = pseudonymise("bob", KEY)
        stop.set()
        server.join(timeout=10)
        assert store.con.execute(f"SELECT count(*) FROM events WHERE \"user\" = '{bob}'").fetchall() == [(0,)]
        assert store.con.execute("SELECT action, subject FROM privacy_audit").fetchall() == [("erase", bob)]
        assert folder.pending() == [] and not list(folder.path.glob("*.answer.json"))  # nothing left behind
    finally:
        stop.set()
        store.close()


def test_a_pipeline_that_does_not_answer_withdraws_the_request(tmp_path: Path) -> None:
    folder = RequestFolder(tmp_path / "requests")
    with pytest.raises(Exception, match="did not answer within 0 s"):
        folder.ask("erase", "u_x", "me", timeout_s=0.0)
    assert folder.pending() == []


@pytest.mark.integration
def test_the_real_pipeline_process_erases_between_batches(
    alignmon: Any, kafka_bootstrap: str, topic: str, tmp_path: Path, wait_for: Any, ingested: Any
) -> None:
    """`alignmon privacy erase` against a running `alignmon pipeline` (real Kafka): its loop takes the request up."""
    port = free_port()
    env = {**pipeline_env(kafka_bootstrap, topic, tmp_path, port, interval_s=1), "ALIGNMON_STATE_DIR": str(tmp_path)}
    alice = pseudonymise("alice", DEV_KEY)  # the pipeline_env runs in dev mode: the CLI pseudonymises with DEV_KEY
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for i in range(50):
        event = json.loads(focus(i, "someone", "teams.exe", AS_OF - timedelta(days=i % 5), 30))
        producer.send(topic, key=b"d", value=json.dumps({**event, "user": alice if i < 10 else f"u_{i:032x}"}).encode())
    producer.flush(timeout=60)
    producer.close()
    proc = alignmon.start(["pipeline"], env, "pipeline")
    wait_for(lambda: ingested(f"http://127.0.0.1:{port}/metrics") == 50, timeout=120, what="50 events stored")

    result = alignmon.run(["privacy", "erase", "alice"], env)
    assert result.returncode == 0, result.stderr
    assert "asking the running pipeline" in result.stderr
    assert "erased 10 raw events" in result.stdout
    assert proc.poll() is None  # the pipeline carried it out and runs on

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert _count(tmp_path / "pipeline.duckdb", f"SELECT count(*) FROM events WHERE \"user\" = '{alice}'") == [(0,)]
    assert _count(tmp_path / "pipeline.duckdb", "SELECT count(*) FROM events") == [(40,)]
    assert _count(tmp_path / "pipeline.duckdb", "SELECT action, subject FROM privacy_audit") == [("erase", alice)]


def test_with_a_lake_the_commands_reach_it_and_refuse_to_run_without_it(alignmon: Any, tmp_path: Path) -> None:
    """A stopped pipeline's file that wrote its closed days to a lake and left the older raw events there: access
    and erasure without ALIGNMON_LAKE_URL would miss them, so they refuse; with it they find and erase them."""
    db, _ = _fleet(tmp_path)
    lake = Lake.open(str(tmp_path / "lake"))
    store = Store(db)
    try:
        publish_days(store.con, lake, AS_OF, "UTC")
        assert offload(store.con, AS_OF - timedelta(days=2), "UTC") > 0  # the file keeps the last three days
    finally:
        store.close()
    env = _env(db, tmp_path)
    for action in ("subject", "erase"):
        refused = alignmon.run(["privacy", action, "alice"], env)
        assert refused.returncode == 1
        assert "writes its older raw events to a lake, but ALIGNMON_LAKE_URL is not set" in refused.stderr

    env |= {"ALIGNMON_LAKE_URL": str(tmp_path / "lake")}
    seen = alignmon.run(["privacy", "subject", "alice"], env)
    assert seen.returncode == 0, seen.stderr
    assert len(json.loads(seen.stdout)["rows"]["events"]) == 10  # 3 from the file, 7 from the lake
    erased = alignmon.run(["privacy", "erase", "alice"], env)
    assert erased.returncode == 0, erased.stderr
    assert "erased 3 raw events, 10 daily rows, 10 device days and 1 rejected records" in erased.stdout
    assert "the lake's copies: 7 raw events" in erased.stdout  # the closed days' events and rollups there
    alice = pseudonymise("alice", KEY)
    lake_events = pq.read_table(str(tmp_path / "lake" / "private" / "events")).column("user").to_pylist()
    assert lake_events and alice not in lake_events
    # On a standby's machine whose file another pipeline's lake writes have overtaken, the commands refuse: they
    # would answer from, and erase in, a file that is not the writer's.
    manifest = sorted((tmp_path / "lake" / "_manifests").iterdir())[-1]
    document = json.loads(manifest.read_text())
    document["published_at"] = "2026-12-24T00:00:00+00:00"  # what another pipeline's write leaves
    manifest.write_text(json.dumps(document))
    behind = alignmon.run(["privacy", "subject", "bob"], env | {"ALIGNMON_STANDBY": "1"})
    assert behind.returncode == 1
    assert "is behind the lake (another pipeline writes it now): run this on the machine" in behind.stderr
