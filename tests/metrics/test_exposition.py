"""/metrics as the pipeline serves it: the figures of the last refresh, the health of now, the same series as a
collector read at scrape time, plain or gzipped (one gzip member, which every client reads whole)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from alignmon.stack.process import free_port
from collectors.simulate import Organisation
from metrics.exporter import PipelineCollector, serve
from metrics.exposition import Exposition
from pipeline.stats import ConsumerStats
from pipeline.store import Store
from tests.support.fleet import stored_fleet

AS_OF = date(2026, 11, 20)
TIMING = {"alignmon_exporter_scrape_duration_seconds"}  # differs between any two readings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if f.name not in TIMING
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Store, ConsumerStats, str, PipelineCollector]]:
    store, _ = stored_fleet(tmp_path, Organisation.build(7, 0.5, AS_OF), 30, b"exposition-key")
    stats = ConsumerStats()
    collector = PipelineCollector(store.cursor, stats)
    exposition = Exposition(collector, version=lambda: stats.refreshes)
    port = free_port()
    server = serve(exposition, "127.0.0.1", port)
    try:
        yield store, stats, f"http://127.0.0.1:{port}/metrics", collector
    finally:
        server.shutdown()
        server.server_close()
        exposition.close()
        store.close()


def test_the_served_series_are_the_collectors_plain_and_gzipped(served: Any) -> None:
    _, _, url, collector = served
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    now = samples(generate_latest(registry).decode())
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    zipped = httpx.get(url)  # httpx asks for gzip and decodes the first gzip member only
    assert zipped.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert samples(plain.text) == now
    assert samples(zipped.text) == now  # the health families after the figures arrived too
    assert len(now) > 100 and any(name == "alignmon_up" for name, _ in now)


def test_figures_are_those_of_the_last_refresh_and_health_is_current(served: Any, wait_for: Callable[..., Any]) -> None:
    store, stats, url, _ = served
    ratio = "alignmon_investment_adoption_ratio"

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return samples(httpx.get(url).text)

    before = scrape()
    investment = next(dict(labels)["investment"] for name, labels in before if name == ratio)

    def shown(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
        return next(
            v for (name, labels), v in scraped.items() if name == ratio and ("investment", investment) in labels
        )

    store.con.execute("UPDATE adoption_current SET adoption_ratio = 0.123 WHERE investment = ?", [investment])
    store.con.execute("UPDATE ingest_totals SET events = events + 5")
    after = scrape()
    assert shown(after) == shown(before) != 0.123  # figures: as of the last refresh
    ingested = {k: v for k, v in before.items() if k[0] == "alignmon_events_ingested_total"}
    assert ingested and all(after[k] == v + 5 for k, v in ingested.items())  # health: read at the scrape

    stats.refreshes += 1  # what Pipeline.refresh does after it wrote figures
    wait_for(lambda: shown(scrape()) == 0.123, timeout=30, what="the figures rendered again after the refresh")
