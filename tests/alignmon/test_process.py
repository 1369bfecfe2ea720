"""The pipeline process waits out transient failures and stops on terminal ones (base.errors' split)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from alignmon.process import Pipeline, exporter, retrying
from alignmon.stack.process import free_port
from base.errors import AlignmonError, DatabaseInUseError
from base.settings import Settings
from metrics.exporter import StandbyCollector
from pipeline.catalog import CatalogSource
from pipeline.consumer import Consumer
from pipeline.errors import BrokerUnavailableError, StoreFailedError
from pipeline.requests import RequestFolder
from pipeline.retention import Retention
from pipeline.stats import ConsumerStats
from pipeline.store import Store
from pipeline.working_copy import CopyRequests, working_copies


def test_transient_failures_are_retried_and_each_kind_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    failures: list[Exception] = [
        DatabaseInUseError("/x.duckdb", 42, "wait"),
        DatabaseInUseError("/x.duckdb", 42, "wait"),
        BrokerUnavailableError("127.0.0.1:9", "refused"),
        BrokerUnavailableError("127.0.0.1:9", "refused"),
    ]

    def start() -> str:
        if failures:
            raise failures.pop(0)
        return "started"

    with caplog.at_level(logging.WARNING, logger="alignmon.process"):
        assert retrying(start, threading.Event(), first_backoff_s=0.001) == "started"
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2  # once per kind within the minute, not once per attempt
    assert "in use by another process (pid 42)" in logged[0]
    assert "Kafka at 127.0.0.1:9 is not reachable (refused)" in logged[1]


def test_a_terminal_failure_is_not_retried() -> None:
    calls = 0

    def start() -> None:
        nonlocal calls
        calls += 1
        raise AlignmonError("bad configuration")

    with pytest.raises(AlignmonError, match="bad configuration"):
        retrying(start, threading.Event(), first_backoff_s=0.001)
    assert calls == 1


def test_a_stop_while_waiting_ends_the_wait() -> None:
    stopping = threading.Event()

    def start() -> None:
        stopping.set()  # as SIGTERM would, during the first attempt
        raise BrokerUnavailableError("127.0.0.1:9", "refused")

    assert retrying(start, stopping, first_backoff_s=30) is None  # returns at once, not after 30 s


def test_an_unreachable_broker_is_transient_at_once_and_leaves_no_thread(tmp_path: Path) -> None:
    """kafka-python's own check blocks 30 s and leaves an I/O thread per failed attempt; the pre-check does not."""
    store = Store(tmp_path / "x.duckdb")
    before = threading.active_count()
    try:
        for _ in range(2):
            with pytest.raises(BrokerUnavailableError, match=r"127\.0\.0\.1:9 is not reachable"):
                Consumer(store, "127.0.0.1:9", "t", "t.dlq")  # nothing listens on the discard port
    finally:
        store.close()
    assert threading.active_count() == before


class FailingConsumer:
    """A consumer whose database DuckDB invalidated: every step fails terminally."""

    def __init__(self) -> None:
        self.stats = ConsumerStats()
        self.stopping = threading.Event()
        self.closed = False
        self.failed = False

    def step(self) -> int:
        self.failed = True
        raise StoreFailedError("/x.duckdb", "FATAL Error: database has been invalidated")

    def flush(self) -> None:  # the start (retention, refresh) flushes before the first step: that is fine
        if self.failed:
            raise AssertionError("nothing may be flushed or copied from a failed database")

    def close(self) -> None:
        self.closed = True


def test_a_terminal_failure_while_running_stops_with_it_and_closes_everything(tmp_path: Path) -> None:
    settings = Settings(
        exporter_port=0, catalog_dir=tmp_path / "no-catalog", snapshot_path=tmp_path / "snapshot.duckdb"
    )
    store, consumer = Store(tmp_path / "x.duckdb"), FailingConsumer()
    retention = Retention(settings.raw_retention_days, settings.daily_retention_days)
    pipeline = Pipeline(settings, store, consumer, retention, RequestFolder(tmp_path / "requests"))  # type: ignore[arg-type]
    with pytest.raises(StoreFailedError, match="refuses further writes"):
        pipeline.run()
    assert consumer.closed and not (tmp_path / "snapshot.duckdb").exists()
    with pytest.raises(duckdb.ConnectionException):
        store.con.execute("SELECT 1")  # closed


class IdleConsumer:
    """A consumer with nothing to read."""

    def __init__(self) -> None:
        self.stats = ConsumerStats()
        self.stopping = threading.Event()

    def step(self) -> int:
        return 0

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def idle_pipeline(settings: Settings, store: Store, folder: Path) -> Pipeline:
    """A pipeline over `store` with nothing to consume, reading the catalog and directory the settings name."""
    retention = Retention(settings.raw_retention_days, settings.daily_retention_days)
    p = Pipeline(settings, store, IdleConsumer(), retention, RequestFolder(folder / "requests"))  # type: ignore[arg-type]
    p.catalog = CatalogSource(settings.catalog_dir, settings.directory_csv)
    return p


@pytest.mark.integration
def test_the_pipeline_writes_closed_days_to_the_lake_after_an_unreachable_store(
    tmp_path: Path, stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from collectors.simulate import Organisation
    from pipeline.lake.location import Lake
    from tests.support.fleet import stored_fleet

    as_of = date(2026, 11, 20)
    store, _catalog = stored_fleet(tmp_path, Organisation.build(7, 0.2, as_of), 12, b"lake-key")
    c = stack.config
    settings = Settings(exporter_port=0, catalog_dir=tmp_path / "catalog", as_of=as_of, lake_url="s3://x")
    retention = Retention(settings.raw_retention_days, settings.daily_retention_days)
    pipeline = Pipeline(settings, store, IdleConsumer(), retention, RequestFolder(tmp_path / "requests"))  # type: ignore[arg-type]
    try:
        down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        pipeline.lake = Lake.open(f"s3://{c.s3_bucket}/p", endpoint=down, access_key="a", secret_key="b")
        pipeline.to_lake()  # logged, not raised: the days stay in the pipeline's file
        assert "the lake s3://x is not reachable, days not written yet" in caplog.text
        assert store.con.execute("SELECT count(*) FROM lake_days").fetchone() == (0,)
        assert pipeline.consumer.stats.lake_unwritten_days == 12 - 3  # exported: alignmon_lake_unwritten_days
        lake = Lake.open(
            f"s3://{c.s3_bucket}/p", endpoint=stack.s3_endpoint, access_key=c.s3_access_key, secret_key=c.s3_secret_key
        )
        pipeline.lake = lake
        pipeline.to_lake()
        days = store.con.execute("SELECT count(*), max(day) FROM lake_days").fetchone()
        assert days == (12 - 3, as_of - timedelta(days=3))  # every closed day; the last three stay open
        assert len(lake.files("_manifests")) == 12 - 3
        assert pipeline.consumer.stats.lake_unwritten_days == 0
    finally:
        store.close()


def test_the_lake_waits_for_a_backlog_not_for_a_quiet_stream(tmp_path: Path) -> None:
    """A steady stream never leaves a step idle: being nearly caught up is what lets closed days go to the lake."""
    settings = Settings(exporter_port=0, catalog_dir=tmp_path / "no-catalog")
    store = Store(tmp_path / "x.duckdb")
    retention = Retention(settings.raw_retention_days, settings.daily_retention_days)
    pipeline = Pipeline(settings, store, IdleConsumer(), retention, RequestFolder(tmp_path / "requests"))  # type: ignore[arg-type]
    try:
        position = "INSERT OR REPLACE INTO kafka_offsets VALUES ('t', 0, 1000, ?, now())"
        store.con.execute(position, [1000 + 50_000])  # a backlog: days that look closed may still be in Kafka
        assert not pipeline.caught_up()
        store.con.execute(position, [1000 + 40])  # a few seconds of a steady stream behind the head
        assert pipeline.caught_up()
    finally:
        store.close()


class OneStepConsumer(IdleConsumer):
    """A consumer with nothing to read that stops the pipeline after its first step: one round of the loop."""

    def step(self) -> int:
        self.stopping.set()
        return 0

    def check_lag(self) -> int | None:
        return 0


def test_the_running_pipeline_deletes_what_a_killed_backfill_left_without_a_new_request(tmp_path: Path) -> None:
    """A working copy holds per-person rows: one a killed `alignmon metrics backfill` left goes once it is 6 hours
    old, though no other backfill ever asks for a copy."""
    from alignment import views

    settings = Settings(
        exporter_port=0,
        catalog_dir=tmp_path / "no-catalog",
        state_dir=tmp_path / "state",
        snapshot_path=tmp_path / "snapshot.duckdb",
    )
    store = Store(tmp_path / "x.duckdb")
    views.install(store.con)  # what the round's publication copies
    retention = Retention(settings.raw_retention_days, settings.daily_retention_days)
    pipeline = Pipeline(settings, store, OneStepConsumer(), retention, RequestFolder(tmp_path / "requests"))  # type: ignore[arg-type]
    now = [time.time()]
    pipeline.copies = CopyRequests(working_copies(settings.state_dir), clock=lambda: now[0])
    folder = pipeline.copies.folder
    folder.mkdir(mode=0o700, parents=True)
    left = ["a.duckdb", "a.duckdb.wal", "b.answer.json", "c.taken.json"]  # and no request pending
    for name in left:
        (folder / name).write_bytes(b"x")
    now[0] += 7 * 3600  # the run that left them was killed 7 hours ago
    (folder / "fresh.duckdb").write_bytes(b"x")  # a run that is still going (its mtime: now)
    os.utime(folder / "fresh.duckdb", (now[0], now[0]))
    try:
        assert pipeline._loop() is True  # one round, then stopped
    finally:
        store.close()
    assert sorted(p.name for p in folder.iterdir()) == ["fresh.duckdb"]


def test_standby_mode_without_a_lake_is_refused_with_the_reason() -> None:
    """A standby takes over from the lake: without one there is nothing to take over from, so the start fails at
    once (a terminal error, not retried) instead of waiting for a lease."""
    from alignmon.process import open_lease

    with pytest.raises(AlignmonError, match="ALIGNMON_STANDBY needs ALIGNMON_LAKE_URL"):
        retrying(lambda: open_lease(Settings(standby=True)), threading.Event())


def test_an_exporter_port_in_use_is_one_error_saying_what_to_do() -> None:
    with socket.socket() as holder:  # another pipeline on the port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(AlignmonError, match=r"choose another ALIGNMON_EXPORTER_PORT") as refused:
            exporter(StandbyCollector(), Settings(exporter_host="127.0.0.1", exporter_port=port))
    assert f"cannot serve /metrics on 127.0.0.1:{port} (Address already in use)" in str(refused.value)
    with pytest.raises(AlignmonError, match=r"on port 70000: choose one from 1 to 65535"):
        exporter(StandbyCollector(), Settings(exporter_host="127.0.0.1", exporter_port=70000))


def test_a_pipeline_whose_port_is_taken_stops_before_it_creates_anything(alignmon: Any, tmp_path: Path) -> None:
    with socket.socket() as holder:  # another pipeline on the port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = alignmon.run(
            ["pipeline"], {"ALIGNMON_STATE_DIR": str(tmp_path / "state"), "ALIGNMON_EXPORTER_PORT": str(port)}
        )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"alignmon: error: cannot serve /metrics on 127.0.0.1:{port} (Address already in use): stop what listens "
        "there (another pipeline?), or choose another ALIGNMON_EXPORTER_PORT (ALIGNMON_EXPORTER_HOST: an address of "
        "this machine)"
    ]
    assert not (tmp_path / "state" / "alignmon.duckdb").exists()  # was left behind, new and empty
