"""The running pipeline estimates the interventions' effects once a day, when interventions.yaml changes, and when
days an estimate lacked arrive.

The bootstrap takes seconds per intervention: a refresh after each batch must not run it again. Rows with figures are
then kept as first published (tests/pipeline/test_impact.py), so the daily run only estimates the others.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

import alignmon.process
from alignmon.process import Pipeline
from base.settings import Settings
from collectors.simulate import Organisation
from collectors.simulate.interventions import parse_intervention, with_unique_ids
from collectors.simulate.population import DEPARTMENTS
from collectors.simulate.stories import STORIES
from pipeline.batch import Record, decode
from tests.alignmon.test_process import idle_pipeline
from tests.support.fleet import store_days

AS_OF = date(2026, 11, 20)
KEY = b"schedule-key"


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[tuple[Pipeline, Organisation]]:
    names = [d.name for d in DEPARTMENTS]
    # 40 days back, its windows over; 5 days of telemetry stored: its windows lack known days.
    items = with_unique_ids([parse_intervention("inv-erp-s4:Sales:-40:20:training", AS_OF, STORIES, names)])
    org = Organisation.build(7, 1.0, AS_OF, interventions=items)
    (tmp_path / "catalog").mkdir()
    org.write_catalog(tmp_path / "catalog" / "catalog.yaml")
    org.write_interventions(tmp_path / "catalog" / "interventions.yaml")
    org.write_directory(tmp_path / "directory.csv", pseudonymise_with=KEY)
    settings = Settings(
        exporter_port=0, catalog_dir=tmp_path / "catalog", directory_csv=tmp_path / "directory.csv", as_of=AS_OF
    )
    store = alignmon.process.open_store(settings.model_copy(update={"duckdb_path": tmp_path / "pipeline.duckdb"}))
    store_days(store, org, 5, KEY)
    yield idle_pipeline(settings, store, tmp_path), org
    store.close()


def test_effects_are_estimated_once_a_day_and_when_the_interventions_change(
    pipeline: tuple[Pipeline, Organisation], monkeypatch: pytest.MonkeyPatch
) -> None:
    estimated: list[date] = []
    real = alignmon.process.write_effects

    frozen: list[bool] = []

    def counting(con: Any, interventions: Any, as_of: date, options: Any, *, freeze: bool) -> Any:
        estimated.append(as_of)
        frozen.append(freeze)
        return real(con, interventions, as_of, options, freeze=freeze)

    monkeypatch.setattr(alignmon.process, "write_effects", counting)
    p, org = pipeline
    rows = "SELECT intervention, reason, as_of FROM intervention_effects"
    assert p.refresh()
    assert estimated == [AS_OF]
    assert p.store.con.execute(rows).fetchall() == [("inv-erp-s4-training-sales", "unknown_days", AS_OF)]
    p.consumer.stats.batches += 1  # a batch arrived: the figures are refreshed, the effects are not estimated again
    assert p.refresh()
    assert estimated == [AS_OF]
    # Events of a day in its windows arrive (a backfill, a laptop back online): estimated again the same day.
    old = list(org.dicts_for_day(AS_OF - timedelta(days=50), pseudonymise_with=KEY, with_department=True))
    offset = p.store.con.execute("SELECT max(next_offset) FROM kafka_offsets").fetchone()
    first, now = offset[0] if offset else 0, int(time.time() * 1000)
    records = [Record("t", 0, first + i, now, json.dumps(r).encode()) for i, r in enumerate(old)]
    p.store.write(decode(records))
    p.consumer.stats.batches += 1
    assert p.refresh()
    assert estimated == [AS_OF, AS_OF]
    p.settings = p.settings.model_copy(update={"as_of": AS_OF + timedelta(days=1)})  # the next day
    assert p.refresh()
    assert estimated == [AS_OF, AS_OF, AS_OF + timedelta(days=1)]
    assert p.store.con.execute(rows).fetchall()[0][2] == AS_OF + timedelta(days=1)
    path = p.settings.catalog_dir / "interventions.yaml"
    path.write_text(path.read_text() + "# edited the same day\n")
    p.consumer.stats.batches += 1
    assert p.refresh()
    assert estimated == [AS_OF, AS_OF, AS_OF + timedelta(days=1), AS_OF + timedelta(days=1)]
    path.write_text("interventions:\n  - id: x\n")  # an invalid edit: logged, nothing estimated, the rows stay
    p.consumer.stats.batches += 1
    assert p.refresh()
    assert len(estimated) == 4 and len(p.store.con.execute(rows).fetchall()) == 1
    assert frozen == [True] * 4
    # Behind on Kafka (a backlog: days may still be missing), the day's estimate is made but not frozen.
    p.store.con.execute("UPDATE kafka_offsets SET high_watermark = next_offset + 50000")
    p.settings = p.settings.model_copy(update={"as_of": AS_OF + timedelta(days=2)})
    path.write_text("interventions: []\n")
    assert p.refresh()
    assert (estimated[-1], frozen[-1]) == (AS_OF + timedelta(days=2), False)
