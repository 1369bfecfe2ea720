"""The Prometheus exporter: a custom collector that reads the pipeline's DuckDB through its own cursor.

`collect()` reads everything now (for a registry: tests, tools). The pipeline serves `figures()` rendered once per
refresh and `health()` at every scrape (metrics.exposition), so what Prometheus sees is what the database held at the
last refresh, and the pipeline's health as it is (see docs/metrics.md).
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import duckdb
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from base.sources import OTHER_SOURCE, SOURCES
from metrics import exposition
from metrics.definitions import BY_NAME
from metrics.exposition import Exposition
from pipeline.database import has_table
from pipeline.figures import fleet
from pipeline.figures.current import COLUMN_NAMES, read_current
from pipeline.stats import ConsumerStats

if TYPE_CHECKING:
    from metrics.health import Probe
    from pipeline.catalog import CatalogSource

log = logging.getLogger(__name__)

CursorFactory = Callable[[], duckdb.DuckDBPyConnection]


def family(name: str) -> Any:
    """A fresh, empty metric family for a name of metrics.definitions (suffix _total handled)."""
    d = BY_NAME[name]
    if d.kind == "counter":
        return CounterMetricFamily(d.name.removesuffix("_total"), d.help, labels=d.labels)
    if d.kind == "summary":
        return SummaryMetricFamily(d.name, d.help, labels=d.labels)
    return GaugeMetricFamily(d.name, d.help, labels=d.labels)


STATUSES = ("not_started", "unknown", "low", "on_track")

# adoption_current column (a field of InvestmentFigures; a date as its Unix time) -> metric; rows with NULL are
# not exported (absent, never a fake 0).
_INVESTMENT_VALUES = {
    "adoption_ratio": "alignmon_investment_adoption_ratio",
    "planned_ratio": "alignmon_investment_planned_ratio",
    "gap": "alignmon_investment_gap_ratio",
    "population": "alignmon_investment_target_population",
    "coverage": "alignmon_investment_coverage_ratio",
    "licence_utilisation": "alignmon_investment_licence_utilisation_ratio",
    "seats": "alignmon_investment_seats",
    "annual_cost": "alignmon_investment_annual_cost",
    "wasted_spend": "alignmon_investment_wasted_spend",
    "cost_per_active_user": "alignmon_investment_cost_per_active_user",
    "stickiness": "alignmon_investment_stickiness_ratio",
    "trend": "alignmon_investment_trend_ratio_per_day",
    "at_risk": "alignmon_investment_at_risk",
    "forecast_date": "alignmon_investment_forecast_target_timestamp_seconds",
    "target_date": "alignmon_investment_target_timestamp_seconds",
    "renewal_date": "alignmon_investment_renewal_timestamp_seconds",
}
assert set(_INVESTMENT_VALUES) <= set(COLUMN_NAMES), "every exported column is one of adoption_current's"
_EPOCH = date(1970, 1, 1)


class PipelineCollector(Collector):
    """Adoption figures and pipeline health, read from DuckDB when asked."""

    def __init__(
        self,
        cursor: CursorFactory,
        stats: ConsumerStats | None = None,
        clock: Callable[[], float] = time.time,
        catalog: Callable[[], CatalogSource | None] | None = None,
        sources: Sequence[str] = SOURCES,
    ) -> None:
        self.cursor = cursor
        self.stats = stats
        self.clock = clock
        self.catalog = catalog  # a callable: the pipeline finds its catalog only once the folder exists
        # The `source` label values: any other source a client sends is counted as `other` (bounded cardinality).
        self.sources = frozenset(sources)

    def describe(self) -> list[Metric]:
        return []  # families are built per scrape; nothing to pre-register

    def collect(self) -> Iterator[Metric]:
        """Every family, read now (for a registry: tests, tools); the pipeline serves `figures` and `health` apart."""
        began = time.perf_counter()
        up, families = self._read(
            lambda con: [
                *self._adoption(con),
                *self._interventions(con),
                *self._strategy(con),
                *self._collectors(con),
                *self._health(con),
            ]
        )
        yield up
        yield from families
        yield from self._process(began)

    def figures(self) -> list[Metric]:
        """The adoption, strategy and collectors' families: they change only when a refresh writes. Raises
        duckdb.Error."""
        con = self.cursor()
        try:
            return [*self._adoption(con), *self._interventions(con), *self._strategy(con), *self._collectors(con)]
        finally:
            con.close()

    def health(self) -> Iterator[Metric]:
        """The pipeline's health families, read now: they change with every batch."""
        began = time.perf_counter()
        up, families = self._read(lambda con: list(self._health(con)))
        yield up
        yield from families
        yield from self._process(began)

    def _read(self, read: Callable[[duckdb.DuckDBPyConnection], list[Metric]]) -> tuple[Metric, list[Metric]]:
        """alignmon_up and what `read` returns from a new cursor; up 0 and nothing when DuckDB fails."""
        up = family("alignmon_up")
        try:
            con = self.cursor()
            try:
                families = read(con)
            finally:
                con.close()
        except duckdb.Error:
            log.exception("scrape failed")
            up.add_metric([], 0)
            return up, []
        up.add_metric([], 1)
        return up, families

    def _process(self, began: float) -> Iterator[Metric]:
        yield from self._from_stats()
        yield from self._catalog()
        took = family("alignmon_exporter_scrape_duration_seconds")
        took.add_metric([], time.perf_counter() - began)
        yield took

    def _adoption(self, con: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        info = family("alignmon_investment_info")
        active = family("alignmon_investment_active_users")
        state = family("alignmon_investment_status")
        reason = family("alignmon_investment_status_reason")
        renewal = family("alignmon_investment_renewal_info")
        values = {col: family(metric) for col, metric in _INVESTMENT_VALUES.items()}
        for f in read_current(con):
            key = [f.investment, f.initiative or "", f.objective or ""]
            names = [f.name, f.initiative_name or "", f.objective_name or ""]
            info.add_metric([*key, *names, f.owner, f.owner_email, f.currency], 1)
            for window, users in (("1d", f.dau), ("7d", f.wau), ("28d", f.mau)):
                if users is not None:  # absent for a population under k, or without data (docs/metrics.md)
                    active.add_metric([*key, window], users)
            for st in STATUSES:
                state.add_metric([*key, st], 1 if f.status == st else 0)
            if f.status_reason is not None:
                reason.add_metric([*key, f.status_reason], 1)
            if f.renewal_date is not None:  # the date itself, for tables (a timestamp needs a unit per column)
                renewal.add_metric([*key, f.renewal_date.isoformat()], 1)
            for col, fam in values.items():
                value = getattr(f, col)
                if value is not None:
                    fam.add_metric(key, _number(value))
        yield info
        yield active
        yield state
        yield reason
        yield renewal
        yield from values.values()

    def _interventions(self, con: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        start = family("alignmon_intervention_start_timestamp_seconds")
        verdict = family("alignmon_intervention_verdict")
        # Only these columns: the estimator's others may change. Grouped by intervention (the table holds one row
        # each) so that no second row could ever export a duplicate series, which would fail the whole scrape.
        rows = (
            _rows(
                con,
                "SELECT intervention, min(investment), min(kind), min(first_day), min(verdict) "
                "FROM intervention_effects WHERE first_day IS NOT NULL GROUP BY intervention ORDER BY intervention",
            )
            if has_table(con, "intervention_effects")  # absent from a file of an older version
            else []
        )
        for intervention, investment, kind, first_day, said in rows:
            start.add_metric([investment, intervention, kind], _number(first_day))
            if said is not None:
                verdict.add_metric([investment, intervention, said], 1)
        yield start
        yield verdict

    def _strategy(self, con: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        dept = family("alignmon_department_adoption_ratio")
        for inv, ini, obj, department, ratio in _rows(
            con,
            """
            SELECT d.investment, coalesce(i.initiative, ''), coalesce(i.objective, ''), d.department, d.adoption_ratio
            FROM department_adoption d JOIN catalog_investments i USING (investment)
            WHERE d.adoption_ratio IS NOT NULL ORDER BY ALL""",
        ):
            dept.add_metric([inv, ini, obj, department], ratio)
        yield dept
        ini_att = family("alignmon_initiative_attainment_ratio")
        for ini, obj, att in _rows(
            con,
            "SELECT initiative, objective, attainment FROM initiative_attainment "
            "WHERE attainment IS NOT NULL ORDER BY ALL",
        ):
            ini_att.add_metric([ini, obj], att)
        yield ini_att
        obj_att = family("alignmon_objective_attainment_ratio")
        for obj, att in _rows(
            con, "SELECT objective, attainment FROM objective_attainment WHERE attainment IS NOT NULL ORDER BY ALL"
        ):
            obj_att.add_metric([obj], att)
        yield obj_att
        shadow = family("alignmon_shadow_it_active_users")
        for app, users in _rows(con, "SELECT application, active_users FROM shadow_it ORDER BY ALL"):
            shadow.add_metric([app], users)
        yield shadow
        # Only for the applications exported above: the growth's rows are k-safe beside their published count.
        growth = family("alignmon_shadow_it_growth_users")
        for app, days, users in _rows(
            con,
            "SELECT g.application, g.window_days, g.growth FROM shadow_it_growth g "
            "WHERE g.application IN (SELECT application FROM shadow_it) ORDER BY ALL",
        ):
            growth.add_metric([app, f"{days}d"], users)
        yield growth
        apps = family("alignmon_application_active_users")
        for app, cap, users in _rows(
            con,
            """
            SELECT application, capability, active_users FROM application_activity
            WHERE in_catalog AND active_users >= (SELECT k FROM refresh_state) ORDER BY ALL""",
        ):
            apps.add_metric([app, cap or ""], users)
        yield apps

    def _collectors(self, con: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        counts = fleet.counts(con, sorted(self.sources))
        reporting = family("alignmon_collector_devices_reporting")
        for (source, window), n in counts.reporting.items():
            reporting.add_metric([source, window], n)
        yield reporting
        silent = family("alignmon_collector_devices_silent")
        for source, n in counts.silent.items():
            silent.add_metric([source], n)
        yield silent
        fleet_reporting = family("alignmon_collector_fleet_devices_reporting")
        for window, n in counts.fleet_reporting.items():
            fleet_reporting.add_metric([window], n)
        yield fleet_reporting
        fleet_silent = family("alignmon_collector_fleet_devices_silent")
        if counts.fleet_silent is not None:
            fleet_silent.add_metric([], counts.fleet_silent)
        yield fleet_silent

    def _health(self, con: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        stored: dict[tuple[str, str], float] = {}
        for source, kind, n in _rows(con, "SELECT source, kind, events FROM ingest_totals ORDER BY ALL"):
            key = (source if source in self.sources else OTHER_SOURCE, kind)
            stored[key] = stored.get(key, 0) + n
        events = family("alignmon_events_ingested_total")
        for (source, kind), n in sorted(stored.items()):
            events.add_metric([source, kind], n)
        yield events
        rejected = family("alignmon_events_rejected_total")
        rejected.add_metric([], _scalar(con, "SELECT count(*) FROM rejected_events"))
        yield rejected
        deleted = family("alignmon_retention_deleted_rows_total")
        last_run = family("alignmon_retention_last_run_timestamp_seconds")
        for events, daily, device_days, at in _rows(
            con,
            "SELECT sum(events_deleted), sum(daily_deleted), sum(device_days_deleted), epoch(max(run_at)) "
            "FROM retention_runs",
        ):
            deleted.add_metric(["events"], events or 0)
            deleted.add_metric(["usage_user_daily"], daily or 0)
            deleted.add_metric(["device_daily"], device_days or 0)
            if at is not None:
                last_run.add_metric([], float(at))
        yield deleted
        yield last_run
        lag = family("alignmon_consumer_lag_records")
        last = family("alignmon_pipeline_last_commit_timestamp_seconds")
        newest = 0.0
        for topic, part, nxt, hw, updated in _rows(
            con, 'SELECT topic, "partition", next_offset, high_watermark, epoch(updated_at) FROM kafka_offsets'
        ):
            if hw is not None:
                lag.add_metric([topic, str(part)], max(hw - nxt, 0))
            newest = max(newest, float(updated))
        if newest:
            last.add_metric([], newest)
        yield lag
        yield last

    def _catalog(self) -> Iterator[Metric]:
        if self.catalog is None:
            return
        # Attributes only: current() would reload the files and take the watcher's lock on the scrape thread.
        source = self.catalog()
        valid = family("alignmon_catalog_valid")
        valid.add_metric([], 1.0 if source is not None and source.valid else 0.0)
        yield valid
        errors = family("alignmon_catalog_load_errors_total")
        errors.add_metric([], source.load_errors if source is not None else 0)
        yield errors

    def _from_stats(self) -> Iterator[Metric]:
        if self.stats is None:
            return
        s = self.stats
        batch = family("alignmon_pipeline_batch_duration_seconds")
        batch.add_metric([], count_value=s.batches, sum_value=s.batch_seconds_total)
        yield batch
        oor = family("alignmon_pipeline_offsets_out_of_range_total")
        oor.add_metric([], s.out_of_range)
        yield oor
        rollup = family("alignmon_pipeline_rollup_duration_seconds")
        rollup.add_metric([], s.last_refresh_s)
        yield rollup
        if s.snapshot_at:
            age = family("alignmon_snapshot_age_seconds")
            age.add_metric([], max(self.clock() - s.snapshot_at, 0.0))
            yield age
        writer = family("alignmon_pipeline_writer")
        writer.add_metric([], 1)
        yield writer
        if s.lake_checked_at:
            behind = family("alignmon_lake_unwritten_days")
            behind.add_metric([], s.lake_unwritten_days)
            yield behind


def _number(value: float | date) -> float:
    """A figure as a sample value: a date as the Unix time of its midnight (UTC)."""
    if isinstance(value, date):
        return float((value - _EPOCH).days * 86_400)
    return float(value)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    row = con.execute(sql).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


class StandbyCollector(Collector):
    """What a waiting standby pipeline exports: that it waits (it holds no database; the writer exports the
    figures), so Prometheus scrapes it as up and `sum(alignmon_pipeline_writer)` says how many write."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        writer = family("alignmon_pipeline_writer")
        writer.add_metric([], 0)
        yield writer


def serve(
    source: Collector | Exposition, host: str, port: int, probes: Mapping[str, Callable[[], Probe]] | None = None
) -> ThreadingHTTPServer:
    """Serve /metrics: an Exposition's bytes, or a collector's families read at each scrape from a fresh registry
    (never the global one), and the probes (/healthz, /readyz); returns the HTTP server."""
    if isinstance(source, Exposition):
        return exposition.serve(source.body, host, port, probes)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(source)

    def body(gzipped: bool) -> bytes:
        data = generate_latest(registry)
        return gzip.compress(data, compresslevel=1) if gzipped else data

    return exposition.serve(body, host, port, probes)
