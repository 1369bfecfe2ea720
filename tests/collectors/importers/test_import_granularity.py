"""`alignmon import ... --to-kafka` coarsens times as the gateway does (ALIGNMON_TIME_GRANULARITY)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.record import events_of

pytestmark = pytest.mark.integration


def test_import_to_kafka_truncates_starts_to_the_local_day(
    kafka_bootstrap: str, topic: str, alignmon: Any, read_topic: Any, tmp_path: Path
) -> None:
    now = int(time.time())
    rows = [
        {"name": "pack_apps", "hostIdentifier": "mac-3", "unixTime": now, "action": "added",
         "columns": {"name": f"App{i}.app", "path": f"/Applications/App{i}.app",
                     "last_opened_time": str(now - 86400 * i - 3 * 3600 - 7 * 60)}}
        for i in range(3)
    ]  # fmt: skip
    log = tmp_path / "osquery.log"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {
        "ALIGNMON_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_PSEUDONYM_SECRET": "import-granularity-secret",
        "ALIGNMON_TIME_GRANULARITY": "day",
        "ALIGNMON_TIMEZONE": "America/New_York",
    }
    result = alignmon.run(["import", "osquery", str(log), "--user", "ann", "--to-kafka"], env)
    assert result.returncode == 0, result.stderr
    starts = [
        datetime.fromisoformat(e["start"]) for r in read_topic(kafka_bootstrap, topic) for e in events_of(r.value)
    ]
    assert len(starts) == 3
    local = [s.astimezone(ZoneInfo("America/New_York")) for s in starts]
    assert {(s.hour, s.minute, s.second, s.microsecond) for s in local} == {(0, 0, 0, 0)}
    assert len({s.date() for s in local}) == 3  # each launch stays on its own local day
