"""The pipeline process waits out transient failures and stops on terminal ones (base.errors' split)."""

from __future__ import annotations

import logging
import threading

import pytest

from alignmon.process import retrying
from base.errors import DatabaseInUseError, TerminalError
from pipeline.errors import BrokerUnavailableError


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
        raise TerminalError("bad configuration")

    with pytest.raises(TerminalError, match="bad configuration"):
        retrying(start, threading.Event(), first_backoff_s=0.001)
    assert calls == 1


def test_a_stop_while_waiting_ends_the_wait() -> None:
    stopping = threading.Event()

    def start() -> None:
        stopping.set()  # as SIGTERM would, during the first attempt
        raise BrokerUnavailableError("127.0.0.1:9", "refused")

    assert retrying(start, stopping, first_backoff_s=30) is None  # returns at once, not after 30 s
