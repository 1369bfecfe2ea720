"""Every panel's PromQL, run against a real Prometheus scraping the real exporter fed by the simulated fleet.

The module starts its own pipeline (a real `alignmon pipeline` subprocess on `ports.exporter`, which the
session Prometheus scrapes every second), backfills 60 days of the simulated organisation into a fresh
Kafka topic, and runs a real `alignmon gateway` on `ports.gateway` (scraped too) through which agents of a
site send: some today, some that went silent ten days ago, and one broken event. It waits until every event
is stored and scraped, then runs each expression with the Grafana variables set to `.*` and asserts it
returns at least one series.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alignmon.stack.kafka import ensure_topics
from alignmon.stack.stack import Stack
from base.settings import Settings
from collectors.simulate.interventions import SimulatedIntervention
from dashboards.promql import annotation_queries, panel_queries, substitute, variable_queries
from pipeline.domain.impact import Verdict

pytestmark = pytest.mark.integration

SECRET = "dashboards-live-secret"
DAYS = 60
SEED = 7
# Grafana's time macros, as Grafana would fill them for a range of a few hours with 1 s scrapes;
# 5m covers the backfill, so rates over it see the events being stored.
MACROS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600"}
# Agents sending through the gateway: AGENTS devices (one person each) today, as many that stopped ten days ago.
AGENTS = 6
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

    def query_range(self, expr: str, seconds: int, step_s: int) -> list[dict[str, Any]]:
        """A range query over the last `seconds`, as Grafana runs a time series panel or an annotation."""
        end = time.time()
        params = {"query": expr, "start": end - seconds, "end": end, "step": step_s}
        answer = httpx.get(f"{self.prometheus}/api/v1/query_range", params=params, timeout=10).json()
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
    org = Organisation.build(SEED, 1.0, today, interventions=[_placebo(today)])
    (state / "catalog").mkdir()
    org.write_catalog(state / "catalog" / "catalog.yaml")
    org.write_interventions(state / "catalog" / "interventions.yaml")  # for the drill-down's annotation
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


def _placebo(today: date) -> SimulatedIntervention:
    """A training for the CRM's Sales 30 days ago that changes nobody's use (the other tests' figures stay)."""
    return SimulatedIntervention(
        "crm-training-sales", "inv-crm-rollout", ("Sales",), today - timedelta(days=30), points=0.0
    )


def _agent_event(n: int, start: datetime) -> dict[str, Any]:
    return {
        "event_id": f"agent-{n}-{start:%Y%m%d}",
        "kind": "focus",
        "device_id": f"laptop-{n}",
        "user": f"agent-user-{n}@example.org",
        "app": "explorer.exe",
        "start": start.isoformat(),
        "duration_s": 1,  # a second of focus: never active, so no adoption figure changes
        "source": "agent",
    }


def _through_gateway(state: Path, url: str, wait_for: Callable[..., Any]) -> int:
    """Agents send through the gateway: AGENTS devices today, AGENTS others last ten days ago (silent), and one event
    the contract refuses; returns the events accepted."""
    from collectors.gateway.tokens import TokenStore

    wait_for(lambda: _answers(f"{url}/healthz"), timeout=60, what="the gateway's /healthz")
    now = datetime.now(UTC).replace(microsecond=0)
    # Today (in UTC, the pipeline's time zone here), and never after now.
    today = max(now - timedelta(minutes=10), now.replace(hour=0, minute=0, second=0))
    tokens = TokenStore(state / "tokens.sqlite")
    try:
        issued = {n: tokens.issue(f"laptop-{n}") for n in range(2 * AGENTS)}
    finally:
        tokens.close()
    accepted = 0
    for n, token in issued.items():
        start = today if n < AGENTS else (now - timedelta(days=10)).replace(hour=10, minute=0, second=0)
        events = [_agent_event(n, start)]
        if n == 0:
            events.append({**_agent_event(n, start), "event_id": "broken", "duration_s": -1})
        answer = httpx.post(f"{url}/v1/events", json=events, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 202, answer.text
        accepted += answer.json()["accepted"]
    assert accepted == 2 * AGENTS
    return accepted


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


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
    gateway_env = {
        **env,
        "ALIGNMON_TOKEN_DB": str(state / "tokens.sqlite"),
        "ALIGNMON_SPOOL_DIR": str(state / "spool"),
        "ALIGNMON_GATEWAY_PORT": str(ports.gateway),
    }
    gateway = subprocess.Popen(
        [sys.executable, "-m", "alignmon.cli", "gateway"],
        env={**os.environ, **gateway_env},
        stdout=(state / "gateway.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    fleet = Fleet(stack.prometheus_url, events, log)
    try:
        events += _through_gateway(state, f"http://127.0.0.1:{ports.gateway}", wait_for)
        fleet.events = events

        def stored_and_scraped() -> bool:
            assert proc.poll() is None, f"pipeline exited with {proc.returncode}; log {log}"
            stored = fleet.query(f'sum(alignmon_events_ingested_total{{job="alignmon-pipeline"}}) == {events}')
            # The adoption refresh ran after the last batch: statuses exist and lag is gone.
            return bool(stored) and bool(fleet.query("alignmon_investment_status == 1"))

        wait_for(stored_and_scraped, timeout=240, what=f"all {events} events stored and scraped ({log})")
        # A few more scrapes and rule evaluations, so rates have two samples after the last change; the last refresh's
        # shadow-IT growth (60 days stored: the 7-day window's earlier day is known) is scraped.
        wait_for(lambda: fleet.query("job:alignmon_events_ingested:rate5m > 0"), timeout=60, what="ingest rate")
        wait_for(lambda: fleet.query("alignmon_shadow_it_growth_users"), timeout=60, what="shadow IT growth")
        yield fleet
    finally:
        for process in (gateway, proc):
            process.send_signal(signal.SIGTERM)
        for process in (gateway, proc):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _all(dashboard: dict[str, Any]) -> dict[str, str]:
    values = {name: ".*" for name, _ in variable_queries(dashboard)}
    return {**values, **MACROS}


def test_every_panel_expression_returns_data(
    fleet: Fleet, built: dict[str, dict[str, Any]], wait_for: Callable[..., Any]
) -> None:
    queries = [(q, _all(d)) for d in built.values() for q in [*panel_queries(d), *annotation_queries(d)]]
    # Targets (and annotations) per dashboard uid: a new panel is counted here, so this test is known to run its
    # expressions.
    counts = Counter(q.dashboard for q, _ in queries)
    assert counts == {
        "alignmon-portfolio": 30,
        "alignmon-investment": 19,
        "alignmon-applications": 8,
        "alignmon-pipeline": 14,
        "alignmon-collectors": 13,
    }

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


def test_the_portfolio_table_and_calendar_on_the_demo(
    fleet: Fleet, built: dict[str, dict[str, Any]], wait_for: Callable[..., Any]
) -> None:
    """Every investment of the demo is a row of All investments; the calendar holds the demo's renewals of the next
    180 days (Tableau in 45 days, Zoom in 150, Teams in 180; CRM in 240 and ERP in 300 are later), in whole days."""
    portfolio = built["alignmon-portfolio.json"]
    exprs = {(q.panel, q.ref_id): substitute(q.expr, _all(portfolio)) for q in panel_queries(portfolio)}

    def column(panel: str, ref: str, label: str = "") -> dict[str, Any]:
        rows = fleet.query(exprs[(panel, ref)])
        return {r["metric"]["investment"]: r["metric"][label] if label else float(r["value"][1]) for r in rows}

    demo = {"inv-crm-rollout", "inv-erp-s4", "inv-teams", "inv-tableau", "inv-zoom"}
    wait_for(lambda: set(column("All investments", "A", "status")) == demo, timeout=120, what="a row per investment")
    statuses = column("All investments", "A", "status")
    assert statuses["inv-erp-s4"] == "low" and statuses["inv-crm-rollout"] == "on_track"
    assert set(column("All investments", "H")) == demo  # wasted spend of each: the demo has telemetry for all
    calendar = "Renewals in the next 180 days"
    dates = column(calendar, "A", "renewal_date")
    days = column(calendar, "B")
    assert set(dates) == set(days) == {"inv-tableau", "inv-zoom", "inv-teams"}
    today = datetime.now(UTC).date()
    assert days == {inv: (date.fromisoformat(d) - today).days for inv, d in dates.items()}
    # The calendar's figures are the exporter's: utilisation in percent, idle-seat spend as wasted spend.
    utilisation = {r["metric"]["investment"]: float(r["value"][1]) for r in fleet.query(
        "alignmon_investment_licence_utilisation_ratio")}  # fmt: skip
    assert column(calendar, "F") == pytest.approx({inv: utilisation[inv] * 100 for inv in dates}, abs=0.05)
    assert 15 < column(calendar, "F")["inv-tableau"] < 25  # the demo's over-licensed Tableau: about 20 % used
    wasted = {r["metric"]["investment"]: float(r["value"][1]) for r in fleet.query("alignmon_investment_wasted_spend")}
    assert column(calendar, "G") == {inv: wasted[inv] for inv in dates}


def test_the_collectors_dashboard_counts_what_the_agents_sent(
    fleet: Fleet, built: dict[str, dict[str, Any]], wait_for: Callable[..., Any]
) -> None:
    """The Collectors panels show the agents sent through the gateway: AGENTS today, AGENTS more in 28 days and those
    silent, by source only (never a device), and the gateway's requests, events and Kafka state."""
    board = built["alignmon-collectors.json"]
    exprs = {(q.panel, q.ref_id): substitute(q.expr, _all(board)) for q in panel_queries(board)}

    def by(panel: str, label: str, ref: str = "A") -> dict[str, float]:
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in fleet.query(exprs[(panel, ref)])}

    def agent(window: str) -> float | None:
        found = fleet.query(f'alignmon_collector_devices_reporting{{source="agent", window="{window}"}}')
        return float(found[0]["value"][1]) if found else None

    wait_for(lambda: agent("28d") == 2 * AGENTS, timeout=120, what="the agents' devices in the figures")
    assert agent("1d") == agent("7d") == AGENTS  # the simulated fleet's history ends yesterday
    assert by("Silent share by source", "source")["agent"] == 0.5
    assert by("Devices reporting by source", "source")["agent"] == AGENTS
    stored = {
        (r["metric"]["source"], r["metric"]["kind"])
        for r in fleet.query(exprs[("Events stored by source and kind", "A")])
    }
    assert {("agent", "focus"), ("simulator", "focus")} <= stored
    silent = fleet.query("alignmon_collector_devices_silent")
    assert {r["metric"]["source"] for r in silent} <= {"agent", "simulator"}
    # The headline counts are the fleet's, each device once: today only the agents report.
    assert by("Devices reporting today", "")[""] == AGENTS
    assert by("Devices reporting in 28 days", "")[""] > 2 * AGENTS  # the agents and the simulated organisation
    assert by("Silent devices", "")[""] == float(fleet.query("alignmon_collector_fleet_devices_silent")[0]["value"][1])
    assert by("Silent devices", "")[""] >= AGENTS
    labels = {k for r in fleet.series('{__name__=~"alignmon_collector_.*"}') for k in r}
    assert labels == {"__name__", "job", "instance", "source", "window"}  # counts only: no device, no person
    assert by("Gateway requests by status", "code").keys() == {"200", "202"}  # 200: /healthz and the scrapes
    assert fleet.query('alignmon_gateway_http_requests_total{code="202"}')[0]["value"][1] == str(2 * AGENTS)
    assert len(by("Gateway events", "reason", "D")) == 1  # the broken event's reason, e.g. greater_than_equal
    assert fleet.query("sum(alignmon_gateway_events_rejected_total)")[0]["value"][1] == "1"
    assert fleet.query("sum(alignmon_gateway_events_accepted_total)")[0]["value"][1] == str(2 * AGENTS)
    assert by("Kafka reachable", "instance") and set(by("Kafka reachable", "instance").values()) == {1.0}
    assert set(by("Spool depth", "instance").values()) == {0.0}


def test_the_intervention_marker_on_a_real_prometheus_is_one_series_at_its_first_day(
    fleet: Fleet, built: dict[str, dict[str, Any]], wait_for: Callable[..., Any]
) -> None:
    """The annotation as Grafana runs it, a range query whose values it reads as the markers' times in milliseconds:
    the fleet's intervention, recorded in interventions.yaml and published by the pipeline, is one series whose every
    value is its first day's midnight (UTC), with its kind and verdict; another investment has no marker."""
    [annotation] = built["alignmon-investment.json"]["annotations"]["list"]
    item = _placebo(Settings().today())

    def markers(investment: str) -> list[dict[str, Any]]:
        return fleet.query_range(substitute(annotation["expr"], {"investment": investment}), 600, 15)

    wait_for(lambda: markers(item.investment), timeout=120, what="the intervention's series")
    [marker] = markers(item.investment)
    assert {k: marker["metric"][k] for k in ("investment", "intervention", "kind")} == {
        "investment": item.investment, "intervention": item.id, "kind": item.kind,
    }  # fmt: skip
    assert marker["metric"]["verdict"] in set(Verdict)
    midnight_ms = datetime(item.day.year, item.day.month, item.day.day, tzinfo=UTC).timestamp() * 1000
    assert {float(value) for _, value in marker["values"]} == {midnight_ms}
    assert markers("inv-erp-s4") == []


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
