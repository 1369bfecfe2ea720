"""`alignmon simulate --to-kafka` coarsens times as the gateway would (ALIGNMON_TIME_GRANULARITY), so simulated
history in Kafka carries no time of day either when the works council asked for `day`."""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.record import events_of

pytestmark = pytest.mark.integration

AMS = ZoneInfo("Europe/Amsterdam")


def test_simulated_history_in_kafka_has_no_time_of_day_at_day_granularity(
    kafka_bootstrap: str, topic: str, alignmon: Any, read_topic: Any, tmp_path: Path
) -> None:
    env = {
        "ALIGNMON_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_PSEUDONYM_SECRET": "simulate-granularity-secret",
        "ALIGNMON_TIME_GRANULARITY": "day",
        "ALIGNMON_TIMEZONE": "Europe/Amsterdam",
    }
    args = ["simulate", "--seed", "3", "--scale", "0.05", "--days", "2", "--as-of", "2026-11-19"]
    result = alignmon.run([*args, "--out-dir", str(tmp_path), "--to-kafka"], env)
    assert result.returncode == 0, result.stderr
    got = [e for r in read_topic(kafka_bootstrap, topic) for e in events_of(r.value)]
    assert len(got) > 100
    starts = [datetime.fromisoformat(e["start"]) for e in got]
    assert all(s == datetime.combine(s.astimezone(AMS).date(), time(), tzinfo=AMS) for s in starts)
    days = {s.astimezone(AMS).date().isoformat() for s in starts}
    assert {"2026-11-18", "2026-11-19"} <= days <= {"2026-11-18", "2026-11-19", "2026-11-20"}  # late spans split
    assert all(e["user"].startswith("u_") and e["device_id"].startswith("d_") for e in got)
    # Every second is still there: the same simulation at exact precision adds up to the same use.
    exact = alignmon.run(
        [*args, "--out-dir", str(tmp_path), "--pseudonymise", "--ndjson", str(tmp_path / "e.json")], env
    )
    assert exact.returncode == 0, exact.stderr
    rows = [json.loads(line) for line in (tmp_path / "e.json").read_text().splitlines()]
    assert sum(e["duration_s"] for e in got) == pytest.approx(sum(e["duration_s"] for e in rows))
    assert len(got) >= len(rows)
