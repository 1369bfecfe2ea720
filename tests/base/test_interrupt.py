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
def handlers() -> Iterator[list[threading.Timer]]:
    """The handlers and the memory of a signal as they were afterwards (pytest's own Ctrl-C handling comes back), and
    no signal still on its way to a later test."""
    before = {each: signal.getsignal(each) for each in (signal.SIGINT, signal.SIGTERM)}
    timers: list[threading.Timer] = []
    yield timers
    for timer in timers:
        timer.cancel()
    for each, handler in before.items():
        signal.signal(each, handler)
    interrupt.reset()


def _signal_soon(timers: list[threading.Timer], signum: signal.Signals) -> None:
    """`signum` to this process in a second: the query has begun by then (the imports are done before)."""
    timers.append(threading.Timer(1.0, os.kill, (os.getpid(), signum)))
    timers[-1].start()


def test_duckdb_reports_an_interrupt_as_its_own_error(handlers: list[threading.Timer]) -> None:
    """Why the module exists: the KeyboardInterrupt does not come out of DuckDB."""
    interrupt.install(signal.SIGTERM)
    _signal_soon(handlers, signal.SIGTERM)
    with pytest.raises(RuntimeError, match="interrupted"):
        duckdb.connect().sql(LONG).fetchall()
    assert interrupt.received()


def test_ctrl_c_during_a_query_exits_130_without_a_traceback(
    handlers: list[threading.Timer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "analysts.duckdb"
    duckdb.connect(str(database)).close()
    assert main(["sql", "--database", str(database), "SELECT 1"]) == 0  # every import done: the query starts at once
    _signal_soon(handlers, signal.SIGINT)
    assert main(["sql", "--database", str(database), LONG]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_a_signal_ignored_at_start_stays_ignored(handlers: list[threading.Timer]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    interrupt.install()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    interrupt.install(signal.SIGTERM)  # asked for by name: installed
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL


def test_only_the_first_signal_raises_so_a_second_cannot_cut_the_cleanup_short(
    handlers: list[threading.Timer],
) -> None:
    interrupt.install(signal.SIGTERM)
    cleaned = False
    with pytest.raises(KeyboardInterrupt):
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs as soon as os.kill returns
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the demo's SIGTERM after the terminal's Ctrl-C: only recorded
            cleaned = True
    assert cleaned and interrupt.received()
