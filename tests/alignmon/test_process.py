"""The pipeline process waits out transient failures and stops on terminal ones (base.errors' split)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import duckdb
import pytest

from alignmon.process import Pipeline, retrying
from base.errors import AlignmonError, DatabaseInUseError
from base.settings import Settings
from pipeline.consumer import Consumer
from pipeline.errors import BrokerUnavailableError, StoreFailedError
from pipeline.requests import RequestFolder
from pipeline.retention import Retention
from pipeline.stats import ConsumerStats
from pipeline.store import Store


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
