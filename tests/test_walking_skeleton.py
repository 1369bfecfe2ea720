"""One event through every hop: gateway -> Kafka -> pipeline -> DuckDB -> /metrics -> Prometheus ->
rule -> Alertmanager -> webhook. Every process is real and started the way a user starts it."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.stack import Stack

pytestmark = pytest.mark.integration


def test_one_event_reaches_every_hop(  # type: ignore[no-untyped-def]
    stack: Stack, ports, alert_inbox, alignmon, wait_for, topic: str, tmp_path: Path
) -> None:
    ensure_topics(stack.kafka_bootstrap, {f"{topic}.dlq": 1})
    env = {
        "ALIGNMON_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_DLQ_TOPIC": f"{topic}.dlq",
        "ALIGNMON_PSEUDONYM_SECRET": "skeleton-secret",
        "ALIGNMON_TOKEN_DB": str(tmp_path / "tokens.sqlite"),
        "ALIGNMON_SPOOL_DIR": str(tmp_path / "spool"),
        "ALIGNMON_GATEWAY_PORT": str(ports.gateway),
        "ALIGNMON_DUCKDB_PATH": str(tmp_path / "alignmon.duckdb"),
        "ALIGNMON_SNAPSHOT_PATH": str(tmp_path / "snapshot.duckdb"),
        "ALIGNMON_SNAPSHOT_INTERVAL_S": "1",
        "ALIGNMON_EXPORTER_PORT": str(ports.exporter),
        "ALIGNMON_CATALOG_DIR": str(Path(__file__).parents[1] / "catalog" / "example"),
        # The skeleton's own source: named, or the exporter counts it as `other` like any source it does not know.
        "ALIGNMON_EXTRA_SOURCES": "skeleton",
    }
    issued = alignmon.run(["tokens", "issue", "skeleton-device"], env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1].split()[-1]

    alignmon.start(["gateway"], env, "gateway")
    pipeline = alignmon.start(["pipeline"], env, "pipeline")
    gateway = f"http://127.0.0.1:{ports.gateway}"
    wait_for(lambda: _ok(f"{gateway}/healthz"), what="gateway /healthz")

    start = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)
    event = {
        "event_id": "skeleton-1",
        "kind": "focus",
        "device_id": "skeleton-device",
        "user": "alice@example.org",
        "app": "ms-teams.exe",
        "start": start.isoformat(),
        "duration_s": 600,
        "source": "skeleton",
        "title": "Quarterly plan - confidential",
    }
    answer = httpx.post(f"{gateway}/v1/events", json=[event], headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 1

    # DuckDB: the analysts' database counts the event (and holds no event row: per-person rows stay private) ...
    snapshot = tmp_path / "snapshot.duckdb"

    def counted() -> list[tuple[object, ...]]:
        if not snapshot.exists():
            return []
        con = duckdb.connect(str(snapshot), read_only=True)
        try:
            return con.execute("SELECT kind, events FROM ingest_totals WHERE source = 'skeleton'").fetchall()
        finally:
            con.close()

    assert wait_for(counted, what="the event in the analysts' database") == [("focus", 1)]
    # The exporter serves it.
    metrics = f"http://127.0.0.1:{ports.exporter}/metrics"

    def exported() -> list[str]:
        return [
            line
            for line in httpx.get(metrics).text.splitlines()
            if line.startswith("alignmon_events_ingested_total{")
            and 'source="skeleton"' in line
            and 'kind="focus"' in line
            and line.endswith(" 1.0")
        ]

    wait_for(exported, what="the event in /metrics")

    # Prometheus scraped it.
    def scraped() -> list[object]:
        q = httpx.get(
            f"{stack.prometheus_url}/api/v1/query",
            params={"query": 'alignmon_events_ingested_total{source="skeleton"}'},
        ).json()
        return q["data"]["result"]  # type: ignore[no-any-return]

    result = wait_for(scraped, what="Prometheus to scrape the exporter")
    assert result[0]["value"][1] == "1"  # type: ignore[index]

    # The rule fired and Alertmanager delivered it to the webhook.
    alerts = wait_for(
        lambda: alert_inbox.alerts("AlignmonSkeletonEventStored"), timeout=90, what="the alert at the webhook"
    )
    assert alerts[0]["labels"]["source"] == "skeleton"  # type: ignore[index]
    assert alerts[0]["annotations"]["summary"] == "1 event(s) from source skeleton stored"  # type: ignore[index]

    # ... and the pipeline's own file holds it, pseudonymised and without its title.
    pipeline.send_signal(signal.SIGTERM)
    assert pipeline.wait(timeout=60) == 0
    con = duckdb.connect(str(tmp_path / "alignmon.duckdb"), read_only=True)
    try:
        rows = con.execute('SELECT event_id, "user", title, app FROM events WHERE source = $1', ["skeleton"]).fetchall()
    finally:
        con.close()
    assert rows == [("skeleton-1", rows[0][1], None, "ms-teams.exe")]
    assert rows[0][1].startswith("u_") and "alice" not in rows[0][1]


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
