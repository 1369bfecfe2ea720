"""Lose the pipeline's file, lose nothing: the real `alignmon pipeline` rebuilds it from the lake plus Kafka.

Sixty days of a simulated organisation go through real Kafka into the pipeline, which writes the closed days to the
lake; the analysts' database is read; the pipeline is stopped and its file deleted; started again, it rebuilds the
file from the lake, reads Kafka again from where the lake ends, and publishes the same figures, value for value.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from alignmon.stack.process import free_port
from pipeline.schema import ANALYST_VIEWS
from tests.pipeline.test_analyst_access import pipeline_env

pytestmark = pytest.mark.integration

AS_OF = "2026-11-20"
DAYS = 60


def published(path: Path, events: int) -> dict[str, list[tuple[Any, ...]]] | None:
    """Every adoption view of the analysts' database once it holds `events` events and figures as of AS_OF."""
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        stored = con.execute("SELECT coalesce(sum(events), 0) FROM ingest_totals").fetchone()
        state = con.execute("SELECT as_of, computed_to, dirty_from FROM refresh_state").fetchone()
        # Every event stored, and refreshed since the last of them (no day left dirty) as of AS_OF.
        if stored != (events,) or state is None or (str(state[0]), str(state[1]), state[2]) != (AS_OF, AS_OF, None):
            return None
        return {view: con.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall() for view in ANALYST_VIEWS}


def test_the_real_pipeline_rebuilds_a_deleted_file_from_the_lake_and_kafka(
    alignmon: Any, kafka_bootstrap: str, topic: str, tmp_path: Path, wait_for: Callable[..., Any]
) -> None:
    env = pipeline_env(kafka_bootstrap, topic, tmp_path, free_port(), 0.5)
    env |= {
        "ALIGNMON_AS_OF": AS_OF,
        "ALIGNMON_PSEUDONYM_SECRET": "lake-rebuild-secret",
        "ALIGNMON_DEV_MODE": "0",
        "ALIGNMON_CATALOG_DIR": str(tmp_path / "sim"),
        "ALIGNMON_DIRECTORY_CSV": str(tmp_path / "sim" / "directory.csv"),
        "ALIGNMON_LAKE_URL": str(tmp_path / "lake"),
        "ALIGNMON_LAKE_INTERVAL_S": "1",
        "ALIGNMON_REFRESH_INTERVAL_S": "1",
    }
    args = ["simulate", "--seed", "5", "--scale", "0.1", "--days", str(DAYS), "--as-of", AS_OF]
    sent = alignmon.run([*args, "--out-dir", str(tmp_path / "sim"), "--pseudonymise", "--to-kafka"], env)
    assert sent.returncode == 0, sent.stderr
    events = int(re.findall(r"([\d,]+) events acknowledged", sent.stderr)[-1].replace(",", ""))
    snapshot = tmp_path / "snapshot.duckdb"
    manifests = tmp_path / "lake" / "_manifests"

    first = alignmon.start(["pipeline"], env, "pipeline-first")
    wait_for(lambda: manifests.exists() and len(list(manifests.iterdir())) == DAYS - 3, timeout=180, what="the lake")
    before = wait_for(lambda: published(snapshot, events), timeout=120, what="the first analysts' database")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0

    (tmp_path / "pipeline.duckdb").unlink()  # the machine's disk is lost; the lake and Kafka are not
    snapshot.unlink()
    second = alignmon.start(["pipeline"], env, "pipeline-second")
    after = wait_for(lambda: published(snapshot, events), timeout=180, what="the rebuilt analysts' database")
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0
    for view in ANALYST_VIEWS:
        assert after[view] == before[view], view
    assert sum(len(rows) for rows in before.values()) > 1000
    log = (alignmon.tmp / "pipeline-second.log").read_text(errors="replace")
    assert f"rebuilt from the lake: {DAYS - 3} closed days" in log
