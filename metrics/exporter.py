"""The Prometheus exporter: a custom collector that reads the pipeline's DuckDB at scrape time.

Nothing here keeps a copy of the numbers: each scrape opens its own cursor and builds fresh
metric families, so what Prometheus sees is what the database holds (see docs/metrics.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from pipeline.consumer import ConsumerStats

log = logging.getLogger(__name__)

CursorFactory = Callable[[], duckdb.DuckDBPyConnection]


class PipelineCollector(Collector):
    """Pipeline health and ingestion figures, read from DuckDB on every scrape."""

    def __init__(self, cursor: CursorFactory, stats: ConsumerStats | None = None) -> None:
        self.cursor = cursor
        self.stats = stats

    def describe(self) -> list[Metric]:
        return []  # families are built per scrape; nothing to pre-register

    def collect(self) -> Iterator[Metric]:
        began = time.perf_counter()
        up = GaugeMetricFamily("alignmon_up", "1 if the exporter could read the pipeline's database, else 0.")
        try:
            con = self.cursor()
            try:
                families = list(self._from_db(con))
            finally:
                con.close()
        except duckdb.Error:
            log.exception("scrape failed")
            up.add_metric([], 0)
            families = []
        else:
            up.add_metric([], 1)
        yield up
        yield from families
        yield from self._from_stats()
        took = GaugeMetricFamily("alignmon_exporter_scrape_duration_seconds", "Time this scrape took to read DuckDB.")
        took.add_metric([], time.perf_counter() - began)
        yield took

    def _from_db(self, con: duckdb.DuckDBPyConnection) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "alignmon_events_ingested",
            "Usage events stored by the pipeline, by source and kind.",
            labels=["source", "kind"],
        )
        for source, kind, n in _rows(con, "SELECT source, kind, count(*) FROM events GROUP BY ALL ORDER BY ALL"):
            events.add_metric([source, kind], n)
        yield events

        rejected = CounterMetricFamily(
            "alignmon_events_rejected", "Events the pipeline rejected (dead-lettered), all reasons."
        )
        rejected.add_metric([], _scalar(con, "SELECT count(*) FROM rejected_events"))
        yield rejected

        lag = GaugeMetricFamily(
            "alignmon_consumer_lag_records",
            "Records in Kafka not yet committed to DuckDB, per partition.",
            labels=["topic", "partition"],
        )
        last = GaugeMetricFamily(
            "alignmon_pipeline_last_commit_timestamp_seconds", "When the pipeline last committed a batch."
        )
        newest = 0.0
        for topic, part, nxt, hw, updated in _rows(
            con,
            'SELECT topic, "partition", next_offset, high_watermark, epoch(updated_at) FROM kafka_offsets',
        ):
            if hw is not None:
                lag.add_metric([topic, str(part)], max(hw - nxt, 0))
            newest = max(newest, float(updated))
        if newest:
            last.add_metric([], newest)
        yield lag
        yield last

    def _from_stats(self) -> Iterator[Metric]:
        if self.stats is None:
            return
        s = self.stats
        batch = SummaryMetricFamily(
            "alignmon_pipeline_batch_duration_seconds",
            "Time to validate and commit one batch (recent batches).",
        )
        batch.add_metric([], count_value=len(s.batch_seconds), sum_value=sum(s.batch_seconds))
        yield batch
        oor = CounterMetricFamily(
            "alignmon_pipeline_offsets_out_of_range",
            "Times a stored offset was outside the topic's retained range (records lost to retention).",
        )
        oor.add_metric([], s.out_of_range)
        yield oor


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    row = con.execute(sql).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def serve(collector: Collector, host: str, port: int) -> Any:
    """Serve /metrics from a fresh registry (never the global one); returns the HTTP server."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    log.info("exporter on http://%s:%d/metrics", host, port)
    return server
