"""Every panel's PromQL, run against a real Prometheus scraping the real exporter fed by the simulated fleet.

The module starts its own pipeline (a real `alignmon pipeline` subprocess on `ports.exporter`, which the
session Prometheus scrapes every second), backfills 60 days of the simulated organisation into a fresh
Kafka topic, waits until every event is stored and scraped, then runs each expression with the Grafana
variables set to `.*` and asserts it returns at least one series.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.stack import Stack
from base.settings import Settings
from dashboards.promql import panel_queries, substitute, variable_queries

pytestmark = pytest.mark.integration

SECRET = "dashboards-live-secret"
DAYS = 60
SEED = 7
# Grafana's time macros, as Grafana would fill them for a range of a few hours with 1 s scrapes;
# 5m covers the backfill, so rates over it see the events being stored.
MACROS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600"}
# Expressions that may legitimately return nothing on this data, with the reason. Keep it tiny.
MAY_BE_EMPTY: dict[tuple[str, str, str], str] = {}


class Fleet:
    """The running pipeline and what was fed to it."""

    def __init__(self, prometheus: str, events: int, log: Path) -> None:
        self.prometheus = prometheus
        self.events = events
        self.log = log

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert answer["status"] == "success", f"{expr}: {answer}"
        return answer["data"]["result"]  # type: ignore[no-any-return]

    def series(self, selector: str) -> list[dict[str, str]]:
        answer = httpx.get(f"{self.prometheus}/api/v1/series", params={"match[]": selector}, timeout=10).json()
        assert answer["status"] == "success", f"{selector}: {answer}"
        return answer["data"]  # type: ignore[no-any-return]


def _produce(bootstrap: str, topic: str, state: Path) -> int:
    """Write the simulated organisation's catalog and directory; backfill DAYS days into Kafka, as the demo does."""
    from base.pseudonym import key_from
    from collectors.publish import publish
    from collectors.simulate import Organisation

    today = Settings().today()
    org = Organisation.build(SEED, 1.0, today)
    (state / "catalog").mkdir()
    org.write_catalog(state / "catalog" / "catalog.yaml")
    org.write_directory(state / "directory.csv", pseudonymise_with=SECRET.encode())  # as the pipeline reads it
    key = key_from(SECRET, False)
    # Up to yesterday: today's working hours may still lie ahead, and the contract refuses events over 5 minutes in
    # the future (a CI run on a weekday morning saw 6,893 of them rejected and the wait for all events time out).
    events = (
        e
        for n in range(DAYS, 0, -1)
        for e in org.dicts_for_day(today - timedelta(days=n), pseudonymise_with=key, with_department=True)
    )
    return publish(bootstrap, topic, events)


@pytest.fixture(scope="module")
def fleet(
    stack: Stack, ports: Any, tmp_path_factory: pytest.TempPathFactory, wait_for: Callable[..., Any]
) -> Iterator[Fleet]:
    state = tmp_path_factory.mktemp("dashboards-live")
    topic = f"dashboards.{uuid.uuid4().hex[:12]}"
    ensure_topics(stack.kafka_bootstrap, {topic: 3, f"{topic}.dlq": 1})
    events = _produce(stack.kafka_bootstrap, topic, state)
    env = {
        "ALIGNMON_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_DLQ_TOPIC": f"{topic}.dlq",
        "ALIGNMON_PSEUDONYM_SECRET": SECRET,
        "ALIGNMON_CATALOG_DIR": str(state / "catalog"),
        "ALIGNMON_DIRECTORY_CSV": str(state / "directory.csv"),
        "ALIGNMON_DUCKDB_PATH": str(state / "alignmon.duckdb"),
        "ALIGNMON_SNAPSHOT_PATH": str(state / "snapshot.duckdb"),
        "ALIGNMON_SNAPSHOT_INTERVAL_S": "2",
        "ALIGNMON_REFRESH_INTERVAL_S": "2",
        "ALIGNMON_EXPORTER_PORT": str(ports.exporter),
    }
    log = state / "pipeline.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignmon.cli", "pipeline"],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    fleet = Fleet(stack.prometheus_url, events, log)
    try:

        def stored_and_scraped() -> bool:
            assert proc.poll() is None, f"pipeline exited with {proc.returncode}; log {log}"
            stored = fleet.query(f'sum(alignmon_events_ingested_total{{job="alignmon-pipeline"}}) == {events}')
            # The adoption refresh ran after the last batch: statuses exist and lag is gone.
            return bool(stored) and bool(fleet.query("alignmon_investment_status == 1"))

        wait_for(stored_and_scraped, timeout=240, what=f"all {events} events stored and scraped ({log})")
        # A few more scrapes and rule evaluations, so rates and deltas have two samples after the last change.
        wait_for(lambda: fleet.query("job:alignmon_events_ingested:rate5m > 0"), timeout=60, what="ingest rate")
        wait_for(lambda: fleet.query("application:alignmon_shadow_it_active_users:delta7d"), timeout=60, what="delta7d")
        yield fleet
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _all(dashboard: dict[str, Any]) -> dict[str, str]:
    values = {name: ".*" for name, _ in variable_queries(dashboard)}
    return {**values, **MACROS}


def test_every_panel_expression_returns_data(
    fleet: Fleet, built: dict[str, dict[str, Any]], wait_for: Callable[..., Any]
) -> None:
    queries = [(q, _all(d)) for d in built.values() for q in panel_queries(d)]
    assert len(queries) == 49  # 11 portfolio + 16 investment + 8 applications + 14 pipeline targets

    def empty() -> list[str]:
        return [
            f"{q.dashboard} / {q.panel} / {q.ref_id}: {q.expr}"
            for q, values in queries
            if (q.dashboard, q.panel, q.ref_id) not in MAY_BE_EMPTY and not fleet.query(substitute(q.expr, values))
        ]

    # The exporter renders the figures after each refresh and Prometheus scrapes them after that: the last refresh's
    # figures (the attainment of the whole fleet among them) arrive a scrape or two after the last batch.
    wait_for(lambda: not empty(), timeout=120, what=lambda: f"every panel to return data; empty: {empty()}")


def test_attention_table_lists_the_stalled_rollout(
    fleet: Fleet, built: dict[str, dict[str, Any]], wait_for: Callable[..., Any]
) -> None:
    # The simulated ERP rollout plateaus at 30% against an 80% target (story stalled_rollout): status low.
    portfolio = built["alignmon-portfolio.json"]
    [status] = [q for q in panel_queries(portfolio) if q.panel == "Low and at-risk investments" and q.ref_id == "A"]

    def flagged_rows() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = fleet.query(substitute(status.expr, _all(portfolio)))
        return rows

    # The figures of the last refresh (the whole fleet) reach Prometheus a scrape or two after the last batch.
    erp = [("inv-erp-s4", "low", "below_plan")]
    wait_for(
        lambda: [(r["metric"]["investment"], r["metric"]["status"], r["metric"].get("reason")) for r in flagged_rows()
                 if r["metric"]["investment"] == "inv-erp-s4"] == erp,
        timeout=120,
        what="the ERP row, low and below plan",
    )  # fmt: skip
    rows = flagged_rows()
    flagged = {r["metric"]["investment"]: (r["metric"]["status"], r["metric"].get("reason")) for r in rows}
    assert len(flagged) == len(rows)  # one row per investment, with or without a reason
    assert flagged.get("inv-erp-s4") == ("low", "below_plan")  # the status reason joins in as a column
    assert all(set(r["metric"]) <= {"investment", "name", "owner", "currency", "status", "reason"} for r in rows)


def test_variables_chain_to_concrete_values(fleet: Fleet, built: dict[str, dict[str, Any]]) -> None:
    """Each variable, given the values picked for the ones before it, offers at least one value."""
    for dashboard in built.values():
        picked: dict[str, str] = {}
        for name, query in variable_queries(dashboard):
            selector, label = query.removeprefix("label_values(").removesuffix(")").rsplit(",", 1)
            series = fleet.series(substitute(selector, picked))
            options = sorted({s[label.strip()] for s in series if s.get(label.strip())})
            assert options, f"{dashboard['uid']}: variable {name} offers nothing for {picked}"
            picked[name] = options[0]
