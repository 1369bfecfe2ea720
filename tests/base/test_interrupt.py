"""Ctrl-C or SIGTERM during a DuckDB query ends a command as an interruption, not with DuckDB's own error."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from alignmon.cli import main
from base import interrupt

# A few seconds of work: DuckDB notices a signal at once or, often, only at the end of the query.
LONG = "SELECT sum(range) FROM range(3000000000)"


@pytest.fixture
def handlers() -> Iterator[None]:
    """The handlers and the memory of a signal as they were: pytest's own Ctrl-C handling comes back."""
    before = {each: signal.getsignal(each) for each in (signal.SIGINT, signal.SIGTERM)}
    yield
    for each, handler in before.items():
        signal.signal(each, handler)
    interrupt._Received.signal = None


def _signal_soon(signum: signal.Signals) -> None:
    """`signum` to this process in a second: the query has begun by then (the imports are done before)."""
    threading.Timer(1.0, os.kill, (os.getpid(), signum)).start()


def test_duckdb_reports_an_interrupt_as_its_own_error(handlers: None) -> None:
    """Why the module exists: the KeyboardInterrupt does not come out of DuckDB."""
    interrupt.install(signal.SIGTERM)
    _signal_soon(signal.SIGTERM)
    with pytest.raises(RuntimeError, match="interrupted"):
        duckdb.connect().sql(LONG).fetchall()
    assert interrupt.received()


def test_ctrl_c_during_a_query_exits_130_without_a_traceback(
    handlers: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "analysts.duckdb"
    duckdb.connect(str(database)).close()
    assert main(["sql", "--database", str(database), "SELECT 1"]) == 0  # every import done: the query starts at once
    _signal_soon(signal.SIGINT)
    assert main(["sql", "--database", str(database), LONG]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_a_signal_ignored_at_start_stays_ignored(handlers: None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    interrupt.install()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    interrupt.install(signal.SIGTERM)  # asked for by name: installed
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
