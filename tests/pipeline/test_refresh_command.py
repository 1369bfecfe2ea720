"""`alignmon refresh --as-of` is reproducible, and an older database file is upgraded in place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from collectors.simulate import Organisation
from pipeline.batch import Record, decode
from pipeline.errors import NewerSchemaError
from pipeline.store import Store
from tests.support.fleet import store_days

KEY = "refresh-command-key"
AS_OF = date(2026, 11, 20)


@pytest.fixture
def fleet_db(tmp_path: Path) -> dict[str, str]:
    org = Organisation.build(3, 0.5, AS_OF)
    (tmp_path / "catalog").mkdir()
    org.write_catalog(tmp_path / "catalog" / "catalog.yaml")
    org.write_directory(tmp_path / "directory.csv", pseudonymise_with=KEY.encode())  # the pipeline reads pseudonyms
    store = Store(tmp_path / "a.duckdb")
    store_days(store, org, 41, KEY.encode(), with_department=False)
    store.close()
    return {
        "ALIGNMON_DUCKDB_PATH": str(tmp_path / "a.duckdb"),
        "ALIGNMON_SNAPSHOT_PATH": str(tmp_path / "snap.duckdb"),
        "ALIGNMON_CATALOG_DIR": str(tmp_path / "catalog"),
        "ALIGNMON_DIRECTORY_CSV": str(tmp_path / "directory.csv"),
        "ALIGNMON_PSEUDONYM_SECRET": KEY,
    }


def figures(path: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute("SELECT * EXCLUDE (as_of) FROM adoption_current ORDER BY investment").fetchall()
    finally:
        con.close()


def test_refresh_as_of_a_day_is_reproducible(fleet_db: dict[str, str], alignmon: Any) -> None:
    first = alignmon.run(["refresh", "--as-of", "2026-11-13"], fleet_db)
    assert first.returncode == 0, first.stderr
    assert "figures as of 2026-11-13" in first.stdout
    earlier = figures(fleet_db["ALIGNMON_SNAPSHOT_PATH"])
    later_run = alignmon.run(["refresh", "--as-of", "2026-11-20"], fleet_db)
    assert later_run.returncode == 0, later_run.stderr
    assert figures(fleet_db["ALIGNMON_SNAPSHOT_PATH"]) != earlier
    again = alignmon.run(["refresh", "--as-of", "2026-11-13"], fleet_db)
    assert again.returncode == 0, again.stderr
    assert figures(fleet_db["ALIGNMON_SNAPSHOT_PATH"]) == earlier
    assert any(row[0] == "inv-erp-s4" and "low" in row for row in earlier)


def test_refresh_refuses_a_database_the_pipeline_holds(fleet_db: dict[str, str], alignmon: Any) -> None:
    holder = duckdb.connect(fleet_db["ALIGNMON_DUCKDB_PATH"])  # another process would hold this lock
    try:
        result = subprocess.run(
            [sys.executable, "-m", "alignmon.cli", "refresh"],
            capture_output=True,
            text=True,
            env={**os.environ, **fleet_db},
            check=False,
            timeout=60,
        )
    finally:
        holder.close()
    assert result.returncode == 1
    assert "is the pipeline running?" in result.stderr


def test_an_older_database_is_upgraded_and_keeps_its_raw_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "old.duckdb")
    rows = [
        json.dumps(
            {
                "event_id": f"e{i}",
                "kind": "focus",
                "device_id": "d",
                "user": "u",
                "app": "a.exe",
                "start": "2026-11-19T10:00:00+00:00",
                "duration_s": 60,
                "source": "test",
            }
        ).encode()
        for i in range(3)
    ]
    store.write(decode([Record("t", 0, i, int(time.time() * 1000), r) for i, r in enumerate(rows)]))
    # Make it look like a file from schema version 1: an older derived-table shape, no ingest totals yet.
    store.con.execute("DROP TABLE catalog_investments")
    store.con.execute("CREATE TABLE catalog_investments (investment VARCHAR)")
    store.con.execute("DELETE FROM ingest_totals")
    store.con.execute("UPDATE schema_info SET version = 1")
    store.close()

    upgraded = Store(tmp_path / "old.duckdb")
    columns = [d[0] for d in upgraded.con.execute("SELECT * FROM catalog_investments LIMIT 0").description]
    assert "tolerance" in columns and "min_coverage" in columns
    assert upgraded.con.execute("SELECT count(*) FROM events").fetchone() == (3,)
    assert upgraded.con.execute("SELECT source, kind, events FROM ingest_totals").fetchall() == [("test", "focus", 3)]
    assert upgraded.con.execute("SELECT dirty_from FROM refresh_state").fetchone() == (date(2026, 11, 19),)
    upgraded.close()


def test_a_database_of_a_newer_version_is_refused_with_what_to_do_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "newer.duckdb"
    store = Store(path)
    store.con.execute("UPDATE schema_info SET version = version + 1")  # as a later alignmon would leave it
    store.close()
    before = path.read_bytes()
    with pytest.raises(NewerSchemaError, match=r"newer\.duckdb was written by a newer alignmon \(schema version"):
        Store(path)
    assert path.read_bytes() == before  # not migrated down, not even opened for writing
    env = {**os.environ, "ALIGNMON_DUCKDB_PATH": str(path), "ALIGNMON_DEV_MODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "alignmon.cli", "refresh"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith("or restore the backup taken before the upgrade")
    assert "Traceback" not in result.stderr
