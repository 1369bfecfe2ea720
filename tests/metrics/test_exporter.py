"""The exporter on a real DuckDB file filled by the simulated fleet: names, lint, k-safety, no stored copies."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from base.settings import Settings
from base.sources import SOURCES
from collectors.simulate import Organisation
from metrics.definitions import BY_NAME, METRICS
from metrics.exporter import PipelineCollector
from pipeline import sql
from pipeline.catalog import CatalogSource
from pipeline.domain.rules import K_ANONYMITY
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


# Rows of intervention_effects as the pipeline publishes them (pipeline.impact.published), in the columns the exporter
# reads: intervention, investment, kind, first and last day, verdict.
INTERVENTIONS = [
    ("crm-training-sales", "inv-crm-rollout", "training", date(2026, 11, 3), date(2026, 11, 4), "effect"),
    ("erp-mail-all", "inv-erp-s4", "communication", date(2026, 10, 20), date(2026, 10, 20), "not_estimable"),
]
_INSERT_EFFECT = (
    "INSERT INTO intervention_effects (intervention, investment, kind, first_day, last_day, verdict) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store, _catalog = stored_fleet(tmp_path_factory.mktemp("exporter"), Organisation.build(7, 1.0, AS_OF), 46, KEY)
    store.con.executemany(_INSERT_EFFECT, INTERVENTIONS)
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


def test_the_renewal_date_is_exported_as_a_label_and_as_a_timestamp(store: Store) -> None:
    """alignmon_investment_renewal_info carries the catalog's date (for tables); it is the timestamp gauge's day."""
    expected = {
        inv: day.isoformat()
        for inv, day in store.con.execute("SELECT investment, renewal_date FROM adoption_current").fetchall()
        if day is not None
    }
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(store.cursor))
    dates, stamps = {}, {}
    for family in registry.collect():
        for s in family.samples:
            if s.name == "alignmon_investment_renewal_info":
                assert s.value == 1
                dates[s.labels["investment"]] = s.labels["renewal_date"]
            elif s.name == "alignmon_investment_renewal_timestamp_seconds":
                stamps[s.labels["investment"]] = datetime.fromtimestamp(s.value, tz=UTC).date().isoformat()
    assert len(expected) == 5  # every investment of the simulated fleet has a renewal date
    assert dates == expected == stamps


def test_shadow_it_growth_is_exported_from_the_pipelines_own_history(store: Store) -> None:
    """alignmon_shadow_it_growth_users: today's exported active users minus those as of the window before, counted
    from DuckDB's daily history (not Prometheus's samples); absent for a window whose earlier day is not known."""
    con = store.cursor()
    try:  # the earlier count, by the pipeline's own query as of AS_OF - 7, on a transaction rolled back
        con.execute("BEGIN")
        con.execute("DELETE FROM application_activity")
        sql.execute(con, "applications", last=AS_OF - timedelta(days=7))
        earlier = dict(con.execute("SELECT application, active_users FROM application_activity").fetchall())
        con.execute("ROLLBACK")
    finally:
        con.close()
    samples = [s for family in text_string_to_metric_families(scrape(store)) for s in family.samples]
    today = {s.labels["application"]: s.value for s in samples if s.name == "alignmon_shadow_it_active_users"}
    growth = {
        (s.labels["application"], s.labels["window"]): s.value
        for s in samples
        if s.name == "alignmon_shadow_it_growth_users"
    }
    assert today == {"notion": 41}  # the simulated fleet's shadow IT
    assert earlier["notion"] >= K_ANONYMITY
    # 46 days stored: the 7-day window's earlier day has its 28 days (AS_OF-34..AS_OF-7); the 28-day one's does not.
    assert growth == {("notion", "7d"): today["notion"] - earlier["notion"]} == {("notion", "7d"): 4}


def _interventions(collector: PipelineCollector) -> dict[str, dict[tuple[str, ...], float]]:
    """family -> (label values in the definition's order) -> value, of the two intervention families."""
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for family in collector.figures():  # raises where a scrape would fail
        if family.name.startswith("alignmon_intervention_"):
            labels = BY_NAME[family.name].labels
            out[family.name] = {tuple(s.labels[k] for k in labels): s.value for s in family.samples}
    return out


def test_each_intervention_is_exported_at_its_first_day_with_its_verdict(store: Store) -> None:
    """One series per intervention of intervention_effects: its first day as the Unix time of that midnight (UTC, as
    the other dates), and its verdict; labels hold catalog data and the verdict only (no department, no person)."""
    assert _interventions(PipelineCollector(store.cursor)) == {
        "alignmon_intervention_start_timestamp_seconds": {
            ("inv-crm-rollout", "crm-training-sales", "training"): datetime(2026, 11, 3, tzinfo=UTC).timestamp(),
            ("inv-erp-s4", "erp-mail-all", "communication"): datetime(2026, 10, 20, tzinfo=UTC).timestamp(),
        },
        "alignmon_intervention_verdict": {
            ("inv-crm-rollout", "crm-training-sales", "effect"): 1.0,
            ("inv-erp-s4", "erp-mail-all", "not_estimable"): 1.0,
        },
    }


def test_without_interventions_or_their_table_nothing_is_exported_and_the_scrape_stands() -> None:
    """No row, no series; a file of an older version without intervention_effects scrapes as before; a second row of
    one intervention never makes a duplicate series (it would fail the whole scrape)."""
    store = Store(":memory:")
    try:
        collector = PipelineCollector(store.cursor)
        empty = {"alignmon_intervention_start_timestamp_seconds": {}, "alignmon_intervention_verdict": {}}
        assert _interventions(collector) == empty
        store.con.executemany(_INSERT_EFFECT, [INTERVENTIONS[0], (*INTERVENTIONS[0][:-1], "no_detectable_effect")])
        counts = {f.name: len(f.samples) for f in collector.figures() if f.name.startswith("alignmon_intervention_")}
        assert counts == {"alignmon_intervention_start_timestamp_seconds": 1, "alignmon_intervention_verdict": 1}
        store.con.execute("DROP TABLE intervention_effects")
        assert _interventions(collector) == empty
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        assert registry.get_sample_value("alignmon_up") == 1.0
    finally:
        store.close()


def _ingested(collector: PipelineCollector) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return {
        (s.labels["source"], s.labels["kind"]): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
        if s.name == "alignmon_events_ingested_total"
    }


def test_the_source_label_is_bounded_to_the_known_sources() -> None:
    """Any string a client sends as `source` is stored, but the label names only alignmon's collectors and the site's
    own (ALIGNMON_EXTRA_SOURCES): every other source is `other`, so clients cannot add series."""
    store = Store(":memory:")
    try:
        store.con.execute(
            "INSERT INTO ingest_totals VALUES ('agent', 'focus', 3), ('osquery', 'launch', 7), "
            "('skeleton', 'focus', 2), ('x-1', 'focus', 4), ('x-2', 'open', 1)"
        )
        assert _ingested(PipelineCollector(store.cursor)) == {
            ("agent", "focus"): 3,
            ("osquery", "launch"): 7,
            ("other", "focus"): 6,
            ("other", "open"): 1,
        }
        site = Settings(extra_sources=" skeleton, ,homegrown")
        assert site.extra_source_names() == ("skeleton", "homegrown")
        assert _ingested(PipelineCollector(store.cursor, sources=(*SOURCES, *site.extra_source_names()))) == {
            ("agent", "focus"): 3,
            ("osquery", "launch"): 7,
            ("skeleton", "focus"): 2,
            ("other", "focus"): 4,
            ("other", "open"): 1,
        }
        # A thousand made-up sources later: still one series per known source and kind, and nothing is lost.
        store.con.execute("INSERT INTO ingest_totals SELECT 'made-up-' || i, 'focus', 1 FROM range(1000) t(i)")
        after = _ingested(PipelineCollector(store.cursor))
        assert set(after) == {("agent", "focus"), ("osquery", "launch"), ("other", "focus"), ("other", "open")}
        assert after[("other", "focus")] == 1006 and sum(after.values()) == 1017
    finally:
        store.close()
