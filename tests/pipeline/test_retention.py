"""Retention on a real DuckDB file: per-person rows past their horizon go, the k-safe daily figures stay."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.stack import StackConfig
from base.errors import AlignmonError
from base.settings import Settings
from collectors.simulate import Organisation
from metrics.exporter import PipelineCollector
from pipeline.catalog import Catalog
from pipeline.refresh import refresh, sync_catalog
from pipeline.retention import Retention, enforce
from pipeline.store import Store
from tests.support.fleet import stored_fleet
from tests.support.wait import wait_until

KEY = b"retention-test-key"
AS_OF = date(2026, 11, 20)
TZ = "Europe/Amsterdam"
DAYS = 70
RETENTION = Retention(raw_days=30, daily_days=40)


def _fleet(tmp: Path) -> tuple[Store, Catalog]:
    return stored_fleet(tmp, Organisation.build(7, 0.2, AS_OF), DAYS, KEY, timezone=TZ, name="pipeline.duckdb")


def _all(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return store.con.execute(sql).fetchall()


def test_retention_deletes_per_person_rows_and_keeps_the_daily_figures(tmp_path: Path) -> None:
    store, catalog = _fleet(tmp_path)
    try:
        series = _all(store, "SELECT * FROM adoption_series ORDER BY ALL")
        current = _all(store, "SELECT * EXCLUDE (as_of) FROM adoption_current ORDER BY investment")
        raw_from, daily_from = AS_OF - timedelta(days=29), AS_OF - timedelta(days=39)
        local_day = f"timezone('{TZ}', start)::DATE"
        old_events = _all(store, f"SELECT count(*) FROM events WHERE {local_day} < DATE '{raw_from}'")[0][0]
        kept_events = _all(store, f"SELECT count(*) FROM events WHERE {local_day} >= DATE '{raw_from}'")[0][0]
        old_daily = _all(store, f"SELECT count(*) FROM usage_user_daily WHERE day < DATE '{daily_from}'")[0][0]
        kept_daily = _all(store, f"SELECT * FROM usage_user_daily WHERE day >= DATE '{daily_from}' ORDER BY ALL")
        assert old_events > 0 and kept_events > 0 and old_daily > 0  # the fleet spans both sides of each horizon
        device_days = _all(store, f"SELECT * FROM device_daily WHERE day >= DATE '{raw_from}' ORDER BY ALL")
        old_device_days = _all(store, f"SELECT count(*) FROM device_daily WHERE day < DATE '{raw_from}'")[0][0]
        assert old_device_days > 0

        assert enforce(store.con, RETENTION, AS_OF, TZ) == (old_events, old_daily, old_device_days)

        assert _all(store, f"SELECT min({local_day}), count(*) FROM events") == [(raw_from, kept_events)]
        assert _all(store, "SELECT * FROM usage_user_daily ORDER BY ALL") == kept_daily  # newer rows untouched
        # Which device reported on which day is as personal as the raw events: it goes at their horizon.
        assert _all(store, "SELECT * FROM device_daily ORDER BY ALL") == device_days
        runs = "SELECT raw_from, daily_from, events_deleted, daily_deleted, device_days_deleted FROM retention_runs"
        assert _all(store, runs) == [(raw_from, daily_from, old_events, old_daily, old_device_days)]
        assert enforce(store.con, RETENTION, AS_OF, TZ) == (0, 0, 0)  # repeatable: nothing left to delete

        # The daily figures outlive the rollups: a refresh, and even a catalog edit that rebuilds the series,
        # keep the days they can no longer recompute, and recompute the others to the same values.
        refresh(store.con, catalog, AS_OF)
        assert _all(store, "SELECT * FROM adoption_series ORDER BY ALL") == series
        sync_catalog(store.con, catalog)
        refresh(store.con, catalog, AS_OF)
        assert _all(store, "SELECT * FROM adoption_series ORDER BY ALL") == series
        assert _all(store, "SELECT * EXCLUDE (as_of) FROM adoption_current ORDER BY investment") == current

        registry = CollectorRegistry(auto_describe=False)
        registry.register(PipelineCollector(store.cursor))
        samples = {
            (s.name, s.labels.get("table")): s.value
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for s in family.samples
            if s.name.startswith("alignmon_retention_")
        }
        assert samples[("alignmon_retention_deleted_rows_total", "events")] == old_events
        assert samples[("alignmon_retention_deleted_rows_total", "usage_user_daily")] == old_daily
        assert samples[("alignmon_retention_deleted_rows_total", "device_daily")] == old_device_days
        assert samples[("alignmon_retention_last_run_timestamp_seconds", None)] > 0
    finally:
        store.close()


def test_a_file_of_an_earlier_version_gets_the_devices_days_column(tmp_path: Path) -> None:
    """retention_runs from before device_days_deleted: the column is added on opening, its old runs count 0."""
    store = Store(tmp_path / "p.duckdb")
    store.con.execute("ALTER TABLE retention_runs DROP COLUMN device_days_deleted")
    store.con.execute("INSERT INTO retention_runs VALUES (now(), DATE '2026-01-01', DATE '2025-01-01', 3, 4)")
    store.close()
    store = Store(tmp_path / "p.duckdb")
    try:
        assert enforce(store.con, RETENTION, AS_OF, TZ) == (0, 0, 0)
        assert _all(store, "SELECT events_deleted, device_days_deleted FROM retention_runs ORDER BY ALL") == [
            (0, 0),
            (3, 0),
        ]
    finally:
        store.close()


def test_retention_below_the_28_day_window_is_refused() -> None:
    with pytest.raises(AlignmonError, match="below the 28-day window"):
        Retention(raw_days=90, daily_days=27)
    with pytest.raises(AlignmonError, match="ALIGNMON_RAW_RETENTION_DAYS=0"):
        Retention(raw_days=0, daily_days=400)
    assert Retention(raw_days=1, daily_days=28).daily_from(AS_OF) == AS_OF - timedelta(days=27)


def test_the_pipeline_refuses_a_short_retention_at_start(alignmon: Any, tmp_path: Path) -> None:
    """Before it opens anything: no broker is needed to be told."""
    env = {"ALIGNMON_DAILY_RETENTION_DAYS": "10", "ALIGNMON_DUCKDB_PATH": str(tmp_path / "p.duckdb")}
    result = alignmon.run(["pipeline"], env)
    assert result.returncode == 1
    assert "ALIGNMON_DAILY_RETENTION_DAYS=10 is below the 28-day window" in result.stderr
    assert not (tmp_path / "p.duckdb").exists()


def test_the_local_stack_keeps_kafka_records_no_longer_than_the_store(kafka_bootstrap: str) -> None:
    week, day = 7 * 86_400_000, 86_400_000
    assert StackConfig.from_settings(Settings(raw_retention_days=90)).topic_retention_ms == week
    assert StackConfig.from_settings(Settings(raw_retention_days=3)).topic_retention_ms == 3 * day
    name = f"test.{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)

    def retention_ms() -> str | None:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        return described["topic"].get(name, {}).get("retention.ms", {}).get("value")  # type: ignore[no-any-return]

    try:
        ensure_topics(kafka_bootstrap, {name: 1}, 3 * day)  # created with it
        wait_until(lambda: retention_ms() == str(3 * day), timeout=30, what="the new topic's retention.ms")
        ensure_topics(kafka_bootstrap, {name: 1}, 2 * day)  # and changed on an existing topic
        assert retention_ms() == str(2 * day)
    finally:
        admin.close()


def test_alignment_figures_of_a_day_whose_rollups_retention_deleted_are_refused(tmp_path: Path) -> None:
    from alignment.reader import read_facts, strategy_from_catalog

    store, catalog = _fleet(tmp_path)
    try:
        enforce(store.con, RETENTION, AS_OF, TZ)
        strategy = strategy_from_catalog(catalog)
        lost = AS_OF - timedelta(days=RETENTION.daily_days - 1) + timedelta(days=26)  # the last window cut short
        with pytest.raises(
            AlignmonError, match=f"retention has deleted per-person rollups of the 28 days up to {lost}"
        ):
            read_facts(store.con, strategy, lost)
        assert read_facts(store.con, strategy, lost + timedelta(days=1)).usage.active_people > 0
    finally:
        store.close()
