"""The analysts' database published from a copy of the last one equals one published whole, whatever changed.

The pipeline republishes only the days of the daily objects that can have changed since its last publication
(pipeline.snapshot.HISTORY); every other object is copied whole. Each step below changes the pipeline's file the way
the running process does, publishes the pipeline's way, and compares every table with a whole publication made from
the same file at the same moment.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

import alignmon.process
from alignmon.analysts import ANALYSTS_OBJECTS
from base.settings import Settings
from collectors.simulate import Organisation
from pipeline.batch import Record, decode
from pipeline.catalog import CatalogSource
from pipeline.snapshot import publish
from pipeline.subject import erase
from tests.alignmon.test_process import idle_pipeline
from tests.support.fleet import store_days

AS_OF = date(2026, 11, 20)
KEY = b"publication-key"


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {name: con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall() for name in ANALYSTS_OBJECTS}


@pytest.fixture
def pipeline(tmp_path: Path) -> Any:
    org = Organisation.build(7, 0.3, AS_OF)
    (tmp_path / "catalog").mkdir()
    org.write_catalog(tmp_path / "catalog" / "catalog.yaml")
    org.write_directory(tmp_path / "directory.csv", pseudonymise_with=KEY)
    settings = Settings(
        exporter_port=0,
        catalog_dir=tmp_path / "catalog",
        directory_csv=tmp_path / "directory.csv",
        snapshot_path=tmp_path / "analysts.duckdb",
        as_of=AS_OF,
        daily_retention_days=35,
    )
    store = alignmon.process.open_store(settings.model_copy(update={"duckdb_path": tmp_path / "pipeline.duckdb"}))
    store_days(store, org, 40, KEY)
    yield idle_pipeline(settings, store, tmp_path), org
    store.close()


def late_and_new_events(org: Organisation, days_ago: tuple[int, ...], first_offset: int) -> list[Record]:
    """Events of the given past days with new event ids (late arrivals), as new Kafka records."""
    rows = []
    for n in days_ago:
        for row in list(org.dicts_for_day(AS_OF - timedelta(days=n), pseudonymise_with=KEY, with_department=True))[:60]:
            rows.append({**row, "event_id": f"late-{n}-{row['event_id']}"})
    produced = int(time.time() * 1000)
    return [Record("t", 0, first_offset + i, produced, json.dumps(r).encode()) for i, r in enumerate(rows)]


def test_a_publication_from_the_last_one_equals_a_whole_one_after_every_kind_of_change(
    pipeline: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, org = pipeline
    used: list[date | None] = []

    def recording(con: Any, target: Path, objects: Any, since: date | None = None) -> Path:
        used.append(since)
        return publish(con, target, objects, since)

    monkeypatch.setattr(alignmon.process, "publish", recording)

    def check(expected_since: date | None) -> None:
        p.snapshot()
        assert used[-1] == expected_since
        whole = publish(p.store.cursor(), tmp_path / "whole.duckdb", ANALYSTS_OBJECTS)
        got, want = tables(p.settings.snapshot_path), tables(whole)
        for name in ANALYSTS_OBJECTS:
            assert got[name] == want[name], name
        assert len(want["usage_daily"]) > 100 and len(want["adoption_daily"]) > 20

    p.refresh()
    check(None)  # the first publication of a process is whole
    p.refresh()
    check(date.max)  # nothing changed: no day is republished, every other object is

    offset = p.store.con.execute("SELECT max(next_offset) FROM kafka_offsets").fetchone()[0]
    p.store.write(decode(late_and_new_events(org, (0, 11), offset)))  # today's events and a late day's
    p.consumer.stats.batches += 1
    assert p.refresh()
    check(AS_OF - timedelta(days=11))

    offset = p.store.con.execute("SELECT max(next_offset) FROM kafka_offsets").fetchone()[0]
    p.store.write(decode(late_and_new_events(org, (4,), offset)))  # stored, not refreshed yet: usage_daily is live
    check(AS_OF - timedelta(days=4))

    person, first = p.store.con.execute(  # a data-subject erasure: their days are recomputed
        'SELECT "user", min(day) FROM usage_user_daily GROUP BY ALL ORDER BY count(*) DESC, "user" LIMIT 1'
    ).fetchone()
    erase(p.store.con, person, "dpo")
    check(first)

    p.settings = p.settings.model_copy(update={"as_of": AS_OF + timedelta(days=10)})  # retention drops old days
    p.retain()
    p.consumer.stats.batches += 1
    assert p.refresh()
    # The refresh recomputes the adoption series from the day the erasure marked, then the new days; the days
    # retention dropped are gone from the copy too.
    check(first)

    catalog = p.settings.catalog_dir / "catalog.yaml"  # a catalog edit can change every day's figures
    catalog.write_text(catalog.read_text().replace("target_ratio: 0.", "target_ratio: 0.0", 1))
    generation = p.catalog.generation
    p.catalog = CatalogSource(p.settings.catalog_dir, p.settings.directory_csv)
    p.catalog.generation = generation  # the running watcher's count goes on: this is its next generation
    assert p.refresh()
    check(None)
