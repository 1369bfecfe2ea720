"""The exporter on a real DuckDB file filled by the simulated fleet: names, lint, k-safety, no stored copies."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collectors.simulate import Organisation
from metrics.definitions import METRICS
from metrics.exporter import PipelineCollector
from pipeline.catalog import CatalogSource
from pipeline.stats import ConsumerStats
from pipeline.store import Store
from tests.support.fleet import stored_fleet

KEY = b"exporter-test-key"
AS_OF = date(2026, 11, 20)
# Present only in some states: no investment has a forecast that reaches its target in this fleet, and
# the process statistics belong to a running consumer.
OPTIONAL = {
    "alignmon_investment_forecast_target_timestamp_seconds",
    "alignmon_pipeline_batch_duration_seconds",
    "alignmon_pipeline_rollup_duration_seconds",
    "alignmon_pipeline_offsets_out_of_range_total",
    "alignmon_snapshot_age_seconds",
    "alignmon_consumer_lag_records",
    "alignmon_catalog_valid",  # the pipeline process passes its catalog; see test_the_catalog_state_is_exported
    "alignmon_catalog_load_errors_total",
    "alignmon_retention_last_run_timestamp_seconds",  # the pipeline process runs retention; see test_retention.py
    "alignmon_lake_unwritten_days",  # only with a lake; see test_the_lake_backlog_is_exported
    "alignmon_pipeline_writer",  # the pipeline process passes its stats; see tests/pipeline/test_standby.py
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store, _catalog = stored_fleet(tmp_path_factory.mktemp("exporter"), Organisation.build(7, 1.0, AS_OF), 46, KEY)
    return store


def scrape(store: Store) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(store.cursor))
    return generate_latest(registry).decode()


def test_exports_exactly_the_defined_metrics(store: Store) -> None:
    names = set()
    for family in text_string_to_metric_families(scrape(store)):
        for sample in family.samples:
            names.add(family.name + ("_total" if family.type == "counter" else ""))
            assert sample.name.startswith("alignmon_")
    defined = {m.name for m in METRICS}
    assert names <= defined, names - defined
    assert defined - names <= OPTIONAL, defined - names - OPTIONAL


def test_labels_never_carry_people_devices_or_titles(store: Store) -> None:
    text = scrape(store)
    users = [r[0] for r in store.con.execute('SELECT DISTINCT "user" FROM events').fetchall()]
    devices = [r[0] for r in store.con.execute("SELECT DISTINCT device_id FROM events").fetchall()]
    assert not any(u in text for u in users)
    assert not any(f'"{d}"' in text for d in devices)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert not {"user", "device", "device_id", "title"} & set(sample.labels)


def test_department_breakdown_is_k_safe(store: Store) -> None:
    # Legal has 4 people in the simulated organisation: it must never appear as a department label.
    text = scrape(store)
    assert 'department="Legal"' not in text
    assert 'department="Sales"' in text


def test_values_are_read_from_the_database_at_scrape_time(store: Store) -> None:
    before = scrape(store)
    store.con.execute("UPDATE adoption_current SET seats = seats + 1 WHERE seats IS NOT NULL")
    after = scrape(store)
    store.con.execute("UPDATE adoption_current SET seats = seats - 1 WHERE seats IS NOT NULL")
    assert before != after


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_promtool_accepts_a_real_scrape(store: Store, tmp_path: Path) -> None:
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=scrape(store), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_lake_backlog_is_exported(store: Store) -> None:
    stats = ConsumerStats()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(store.cursor, stats))
    assert registry.get_sample_value("alignmon_lake_unwritten_days") is None  # no lake: no series
    stats.lake_checked_at, stats.lake_unwritten_days = 1.0, 3
    assert registry.get_sample_value("alignmon_lake_unwritten_days") == 3.0


def test_the_catalog_state_is_exported(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "live-catalog"
    folder.mkdir()
    source = CatalogSource(folder, None, KEY, check_interval_s=0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(store.cursor, catalog=lambda: source))
    assert registry.get_sample_value("alignmon_catalog_valid") == 0.0  # nothing loaded yet
    Organisation.build(7, 1.0, AS_OF).write_catalog(folder / "catalog.yaml")
    source.current()
    assert registry.get_sample_value("alignmon_catalog_valid") == 1.0
    (folder / "catalog.yaml").write_text("# emptied by a bad deploy\n")
    source.current()  # keeps the last good catalog
    assert registry.get_sample_value("alignmon_catalog_valid") == 0.0
    assert registry.get_sample_value("alignmon_catalog_load_errors_total") == 1.0
    empty = CollectorRegistry(auto_describe=False)
    empty.register(PipelineCollector(store.cursor, catalog=lambda: None))
    assert empty.get_sample_value("alignmon_catalog_valid") == 0.0


def test_the_exporter_exports_the_status_reason(store: Store) -> None:
    """One series per investment not on_track, carrying adoption_current's reason; none for on_track ones."""
    expected = {
        inv: reason
        for inv, reason in store.con.execute("SELECT investment, status_reason FROM adoption_current").fetchall()
    }
    exported = {
        s.labels["investment"]: s.labels["reason"]
        for family in text_string_to_metric_families(scrape(store))
        if family.name == "alignmon_investment_status_reason"
        for s in family.samples
        if s.value == 1
    }
    assert exported == {inv: reason for inv, reason in expected.items() if reason is not None}
    assert "below_plan" in exported.values()  # the fleet's ERP is low: the test sees a reason, not an empty family
    statuses = dict(store.con.execute("SELECT investment, status FROM adoption_current").fetchall())
    assert all(statuses[inv] != "on_track" for inv in exported)
