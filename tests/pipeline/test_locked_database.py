"""A DuckDB file another process holds gives a one-line error naming that process, never a traceback.

Issue 11, finding 13: `alignmon sql --database <live file>` and a pipeline start beside a running one
printed DuckDB's raw traceback. One-shot commands stop with the holder named; the pipeline process treats the
lock as transient (issue 12): it logs the holder once a minute and starts when the file is free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from base.errors import DatabaseInUseError
from pipeline.store import Store

EXAMPLE = Path(__file__).resolve().parents[2] / "catalog" / "example"
HOLD = "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); time.sleep(120)"


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A DuckDB file opened for writing by another process (as the running pipeline does); (path, pid)."""
    path = tmp_path / "live.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        yield path, holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_sql_on_a_held_file_says_who_holds_it(held: tuple[Path, int], alignmon: Any) -> None:
    path, pid = held
    result = alignmon.run(["sql", "--database", str(path), "SELECT 1"], {})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"alignmon: error: the database {path} is in use by another process (pid {pid}): "
        "stop it or use the analysts' snapshot (leave out --database, or ALIGNMON_SNAPSHOT_PATH)\n"
    )


def _writer_env(path: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "ALIGNMON_DUCKDB_PATH": str(path),
        "ALIGNMON_SNAPSHOT_PATH": str(tmp_path / "snapshot.duckdb"),
        "ALIGNMON_CATALOG_DIR": str(EXAMPLE),
        "ALIGNMON_KAFKA_BOOTSTRAP": "127.0.0.1:9",  # nothing listens: reached only once the store is open
    }


def test_refresh_on_a_held_file_says_who_holds_it(held: tuple[Path, int], tmp_path: Path, alignmon: Any) -> None:
    path, pid = held
    result = alignmon.run(["refresh"], _writer_env(path, tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"alignmon: error: the database {path} is in use by another process (pid {pid}): "
        "stop it (is the pipeline running?) or query the analysts' snapshot with `alignmon sql`"
    ]


def test_the_pipeline_waits_for_a_held_file_then_for_kafka_and_stops_on_sigterm(
    held: tuple[Path, int], tmp_path: Path, alignmon: Any, wait_for: Any
) -> None:
    """A busy lock and an absent broker are transient: the process says so, retries, and is still stoppable."""
    path, pid = held
    proc = alignmon.start(["pipeline"], _writer_env(path, tmp_path), "pipeline")
    log = tmp_path / "pipeline.log"
    wait_for(lambda: f"in use by another process (pid {pid})" in log.read_text(), 60, "the lock's holder logged")
    assert proc.poll() is None, log.read_text()
    os.kill(pid, signal.SIGKILL)  # the holder goes away: the next attempt opens the file, then needs Kafka
    wait_for(lambda: "Kafka at 127.0.0.1:9 is not reachable" in log.read_text(), 90, "the broker's absence logged")
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def test_store_raises_a_typed_error_for_a_held_file(held: tuple[Path, int]) -> None:
    path, pid = held
    with pytest.raises(DatabaseInUseError) as caught:
        Store(path)
    assert (caught.value.path, caught.value.pid) == (str(path), pid)
    assert caught.value.__cause__ is not None  # DuckDB's own exception stays chained for debugging


def test_other_open_failures_are_not_reported_as_a_lock(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-database.duckdb"
    bad.write_text("plain text, not DuckDB")
    with pytest.raises(duckdb.Error) as caught:
        Store(bad)
    assert not isinstance(caught.value, DatabaseInUseError)
