"""`alignmon demo`: the whole flow on a simulated fleet, on the real local stack.

1. starts Kafka, Prometheus and Alertmanager (`alignmon stack up`);
2. writes the simulated organisation's catalog and directory;
3. starts the real gateway and pipeline as child processes;
4. backfills the older days straight into Kafka (the bulk path), replays the most recent working
   day through the gateway at a visible pace (the device path), then follows the fleet live;
5. prints what flows every few seconds: events stored, investment statuses, alerts delivered.
Ctrl-C, SIGTERM or --seconds stops everything and leaves no process behind.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import httpx

from base.errors import AlignmonError
from base.settings import Settings
from metrics.inbox import AlertInbox

BACKFILL_DAYS = 60
SEED = 7


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole flow on a simulated fleet (stack, gateway, pipeline, alerts)",
        description="Starts the local stack, the gateway and the pipeline, feeds them a simulated organisation "
        "(60 days of history, then live use) and prints where to look. Ctrl-C stops everything.",
    )
    p.add_argument("--seconds", type=float, default=0, help="stop by itself after this many seconds (0 = until Ctrl-C)")
    p.add_argument(
        "--replay-seconds",
        type=float,
        default=30,
        help="how long the most recent working day takes to replay through the gateway (default 30)",
    )
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    settings = Settings()
    stopping = threading.Event()

    def stop(_sig: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if args.seconds:
        threading.Timer(args.seconds, stopping.set).start()
    Demo(settings, stopping, args.replay_seconds).run()
    return 0


class Demo:
    def __init__(self, settings: Settings, stopping: threading.Event, replay_seconds: float) -> None:
        self.settings, self.stopping, self.replay_seconds = settings, stopping, replay_seconds
        self.state = settings.state_dir.resolve() / "demo"
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.sent_via_gateway = 0

    def say(self, text: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {text}", flush=True)

    def run(self) -> None:
        from alignmon.stack.stack import Stack, StackConfig  # noqa: PLC0415

        stack = Stack(StackConfig.from_settings(self.settings))
        try:
            self.say("starting Kafka, Prometheus and Alertmanager (first run fetches Kafka's jars from Maven Central)")
            stack.up()
            url = urlparse(self.settings.alert_webhook_url)
            inbox = AlertInbox(url.hostname or "127.0.0.1", url.port or 80)
            try:
                self._run(stack, inbox)
            finally:
                inbox.close()
        finally:
            self.say("stopping gateway, pipeline and the stack")
            for _name, child in self.children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for _name, child in self.children:
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            stack.down()
            self.say("stopped; nothing left running")

    def _run(self, stack: Any, inbox: AlertInbox) -> None:
        from base.pseudonym import key_from  # noqa: PLC0415
        from collectors.simulate import Organisation  # noqa: PLC0415

        s = self.settings
        self.state.mkdir(parents=True, exist_ok=True)
        key_file = self.state / "pseudonym.key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(32))
            key_file.chmod(0o600)
        secret = key_file.read_text().strip()
        today = s.today()
        org = Organisation.build(SEED, 1.0, today)
        catalog_dir = self.state / "catalog"
        catalog_dir.mkdir(exist_ok=True)
        org.write_catalog(catalog_dir / "catalog.yaml")
        # The pseudonymised directory, as `alignmon directory pseudonymise` writes it: the pipeline reads no real name.
        org.write_directory(self.state / "directory.csv", pseudonymise_with=secret.encode())
        env = {
            "ALIGNMON_PSEUDONYM_SECRET": secret,
            "ALIGNMON_DEV_MODE": "0",
            "ALIGNMON_CATALOG_DIR": str(catalog_dir),
            "ALIGNMON_DIRECTORY_CSV": str(self.state / "directory.csv"),
            "ALIGNMON_DUCKDB_PATH": str(self.state / "alignmon.duckdb"),
            "ALIGNMON_SNAPSHOT_PATH": str(self.state / "alignmon-snapshot.duckdb"),
            "ALIGNMON_TOKEN_DB": str(self.state / "tokens.sqlite"),
            "ALIGNMON_SPOOL_DIR": str(self.state / "spool"),
            "ALIGNMON_SNAPSHOT_INTERVAL_S": "10",
            "ALIGNMON_REFRESH_INTERVAL_S": "5",
        }
        gateway = f"http://{s.gateway_host}:{s.gateway_port}"
        self.say(
            f"organisation: {len(org.users)} people in {len(org.departments)} departments, catalog in {catalog_dir}"
        )
        self._start(["pipeline"], env, "pipeline")
        self._start(["gateway"], env, "gateway")
        self._wait_http(f"{gateway}/healthz", "gateway")
        self._wait_http(f"http://{s.exporter_host}:{s.exporter_port}/metrics", "pipeline exporter")
        self._where_to_look(stack, gateway)

        key = key_from(secret, False)
        replay = _last_weekday_before(today)
        self._backfill(org, key, today, replay)
        if self.stopping.is_set():
            return
        reporter = threading.Thread(target=self._report, args=(stack, inbox), daemon=True)
        reporter.start()
        self._through_gateway(org, gateway, env["ALIGNMON_TOKEN_DB"], replay)
        self.stopping.wait()

    def _start(self, args: list[str], env: dict[str, str], name: str) -> None:
        log = self.state / f"{name}.log"
        child = subprocess.Popen(
            [sys.executable, "-m", "alignmon.cli", *args],
            env={**os.environ, **env},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.children.append((name, child))
        self.say(f"started {name} (log {log})")

    def _wait_http(self, url: str, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            for name, child in self.children:
                if child.poll() is not None:
                    raise AlignmonError(f"{name} exited with {child.returncode}; see {self.state / name}.log")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        if not self.stopping.is_set():
            raise AlignmonError(f"{what} did not answer at {url} within {timeout:.0f}s; see the logs in {self.state}")

    def _where_to_look(self, stack: Any, gateway: str) -> None:
        s = self.settings
        print(
            f"""
  where to look
    gateway          {gateway}/healthz          (devices POST to /v1/events)
    metrics          http://{s.exporter_host}:{s.exporter_port}/metrics
    Prometheus       {stack.prometheus_url}/alerts   (try: alignmon_investment_status == 1)
    Alertmanager     {stack.alertmanager_url}/#/alerts
    analysts' DuckDB {self.state / "alignmon-snapshot.duckdb"}
                     alignmon sql --database {self.state / "alignmon-snapshot.duckdb"} "SELECT * FROM adoption_current"
    logs             {self.state}/*.log and {stack.state / "run"}/*.log
""",
            flush=True,
        )

    def _backfill(self, org: Any, key: bytes, today: date, replay: date) -> None:
        from collectors.granularity import coarsen_rows  # noqa: PLC0415
        from collectors.publish import publish  # noqa: PLC0415

        total, tz = 0, ZoneInfo(self.settings.timezone)
        day = today - timedelta(days=BACKFILL_DAYS)
        while day < replay and not self.stopping.is_set():
            events = org.dicts_for_day(day, pseudonymise_with=key, with_department=True)
            coarse = coarsen_rows(events, self.settings.time_granularity, tz)
            total += publish(self.settings.kafka_bootstrap, self.settings.topic, coarse)
            if day.day in (1, 15) or day == replay - timedelta(days=1):
                self.say(f"backfill straight into Kafka: up to {day}, {total:,} events")
            day += timedelta(days=1)

    def _through_gateway(self, org: Any, gateway: str, token_db: str, replay: date) -> None:
        """The most recent working day through the real gateway, as devices would send it, then live use."""
        from collectors.gateway.tokens import TokenStore  # noqa: PLC0415

        tokens = TokenStore(Path(token_db))
        issued: dict[str, str] = {}
        events = list(org.dicts_for_day(replay))
        self.say(
            f"replaying {replay} through the gateway: {len(events):,} events from "
            f"{len({e['device_id'] for e in events})} devices over {self.replay_seconds:.0f}s"
        )
        with httpx.Client(timeout=30) as http:
            chunk = max(len(events) // max(int(self.replay_seconds), 1), 1)
            for i in range(0, len(events), chunk):
                if self.stopping.is_set():
                    return
                self._post(http, gateway, tokens, issued, events[i : i + chunk])
                self.stopping.wait(1.0)
            self.say(f"{replay} replayed; now following the fleet live (events appear as simulated people work)")
            try:
                for batch in _batches(org.live(sleep=self._sleep), self.stopping):
                    self._post(
                        http, gateway, tokens, issued, [e.model_dump(mode="json", exclude_none=True) for e in batch]
                    )
            except _StoppedError:
                return

    def _sleep(self, seconds: float) -> None:
        """The live feed's sleep: a stop ends the feed (a plain early return would make it spin)."""
        if self.stopping.wait(seconds):
            raise _StoppedError

    def _post(
        self, http: httpx.Client, gateway: str, tokens: Any, issued: dict[str, str], events: list[dict[str, Any]]
    ) -> None:
        by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in events:
            by_device[e["device_id"]].append(e)
        for device, batch in by_device.items():
            if device not in issued:
                issued[device] = tokens.issue(device)
            answer = http.post(
                f"{gateway}/v1/events", json=batch, headers={"Authorization": f"Bearer {issued[device]}"}
            )
            if answer.status_code != 202:
                self.say(f"gateway answered {answer.status_code} for {device}: {answer.text[:200]}")
            else:
                self.sent_via_gateway += answer.json()["accepted"]

    def _report(self, stack: Any, inbox: AlertInbox) -> None:
        while not self.stopping.wait(10):
            try:
                events = _query(stack.prometheus_url, "sum(alignmon_events_ingested_total)")
                states = _query(stack.prometheus_url, "count by (status) (alignmon_investment_status == 1)", "status")
                alerts = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": "ALERTS"}, timeout=5)
                pending_or_firing = {
                    f"{r['metric']['alertname']} ({r['metric']['alertstate']})" for r in alerts.json()["data"]["result"]
                }
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                self.say(f"(Prometheus not answering yet: {exc})")
                continue
            stored = int(events.get("", 0))
            status = ", ".join(f"{k} {int(v)}" for k, v in sorted(states.items())) or "not computed yet"
            firing = ", ".join(sorted(pending_or_firing)) or "none"
            self.say(
                f"stored {stored:,} events ({self.sent_via_gateway:,} via the gateway) | investments: {status} "
                f"| alerts in Prometheus: {firing} | delivered to the webhook: "
                f"{', '.join(_names(inbox.alerts())) or 'none yet'}"
            )


class _StoppedError(Exception):
    """Raised inside the live feed when the demo stops."""


def _query(prometheus: str, expr: str, label: str | None = None) -> dict[str, float]:
    result = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()["data"]["result"]
    return {(r["metric"].get(label, "") if label else ""): float(r["value"][1]) for r in result}


def _names(alerts: list[dict[str, Any]]) -> list[str]:
    labels = [a["labels"] for a in alerts]
    return sorted({f"{x.get('alertname')}({x.get('investment') or x.get('application') or ''})" for x in labels})


def _last_weekday_before(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _batches(events: Iterator[Any], stopping: threading.Event, every_s: float = 2.0) -> Iterator[list[Any]]:
    """Group a live event stream into batches of about `every_s` seconds (or 500 events)."""
    batch: list[Any] = []
    started = time.monotonic()
    for event in events:
        if stopping.is_set():
            return
        batch.append(event)
        if len(batch) >= 500 or time.monotonic() - started >= every_s:
            yield batch
            batch, started = [], time.monotonic()
    if batch:
        yield batch
