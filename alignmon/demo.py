"""`alignmon demo`: every user's view of alignmon in two minutes, on the real local stack and a simulated fleet.

1. starts a local SMTP server (the owners' inbox: each mail saved as a file), then Kafka, Prometheus and
   Alertmanager (`alignmon stack up`; Grafana too when installed). Prometheus evaluates rules rendered from
   the DEMO thresholds (metrics/demo-thresholds.yml: owners' alerts fire within seconds; never the shipped file),
   and Alertmanager mails the SMTP server through its email receiver, as it mails a site's relay;
2. writes the simulated organisation's catalog and directory and the dashboards' JSON;
3. starts the real gateway and pipeline as child processes;
4. backfills the older days straight into Kafka (the bulk path), then replays the most recent working day
   through the gateway at speed (the device path; a working day in --replay-seconds, whatever the day and
   hour), then what has passed of today, then follows the fleet live;
5. prints what flows every ten seconds, each alert mail as it arrives (recipient, subject, saved file), and
   the steering committee report once the history is in, with the effect it estimates of the simulated
   organisation's one intervention, whose true effect the simulator knows.
Ctrl-C, SIGTERM or --seconds stops everything and leaves no process behind.
"""

from __future__ import annotations

import argparse
import logging
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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import httpx

from alignmon.replay import at_speed, days_to_replay, event_end, speed_for
from base.errors import AlignmonError
from base.settings import Settings
from metrics.config import rule_files
from metrics.inbox import AlertInbox
from metrics.mailbox import Mail, MailBox
from metrics.rulegen import RULES_PATH, render
from metrics.thresholds import THRESHOLDS_PATH, load
from pipeline.domain.rules import EFFECT_WINDOW_DAYS

if TYPE_CHECKING:
    from alignmon.stack.stack import Stack
    from collectors.simulate.interventions import SimulatedIntervention

BACKFILL_DAYS = 64  # the training's windows and the 7 days they settle (demo_intervention)
SEED = 7
# The demo's intervention (collectors/simulate/interventions.py), for the report's "What worked": a training after
# which 30 percentage points more of Sales use the stalled ERP than its plateau alone makes (18 of 60 people), and
# Finance, the ERP's other target department, stays on the plateau to compare with. Dated by demo_intervention().
INTERVENTION = "inv-erp-s4:Sales:{day}:30:training:12000"
# How long the report waits for the pipeline to estimate that intervention before it is written without it.
EFFECT_WAIT_S = 60
# Alert thresholds for the demo only: the shipped ones with short `for`s (the file says which and why).
DEMO_THRESHOLDS = THRESHOLDS_PATH.with_name("demo-thresholds.yml")
DEMO_RULES_HEADER = """\
# DEMO RULES, rendered by `alignmon demo` from metrics/demo-thresholds.yml (alerts fire after seconds).
# Never use them in production: the shipped rules are metrics/rules/alignmon.yml.
"""
# Who gets IT operations' alerts in the demo's mails (their alerts go nowhere real).
DEMO_ITOPS_EMAIL = "it-operations@example.org"
# Consumer lag under which the backfill counts as stored, so the report can be written from the snapshot.
CAUGHT_UP_LAG = 1000
INDENT = " " * 11  # under the text after a "[HH:MM:SS] " prefix


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole flow on a simulated fleet: alerts mailed to owners, dashboards, report",
        description="Starts the local stack (with a local SMTP server and demo alert thresholds), the gateway and "
        "the pipeline, feeds them a simulated organisation (64 days of history, the most recent working day "
        "replayed at speed, then live use; a training whose effect the simulator knows, which the steering report "
        "estimates) and prints where each user looks: the owners' alert mails, the dashboards, the steering report, "
        "the analysts' database. Ctrl-C stops everything.",
    )
    p.add_argument("--seconds", type=float, default=0, help="stop by itself after this many seconds (0 = until Ctrl-C)")
    p.add_argument(
        "--replay-seconds",
        type=float,
        default=90,
        help="how many seconds the most recent working day (08:30-18:00) takes to replay through the gateway "
        "(default 90)",
    )
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    if not getattr(args, "verbose", False):
        # The demo prints its own progress; the stack's and the SMTP server's INFO lines would bury it.
        for name in ("alignmon.stack", "mail.log"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("kafka").setLevel(logging.ERROR)  # the backfill's producer warns of a slow loop under load
    settings = Settings()
    stopping = threading.Event()

    def stop(_sig: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    timer = threading.Timer(args.seconds, stopping.set) if args.seconds else None
    if timer:
        timer.daemon = True
        timer.start()
    Demo(settings, stopping, args.replay_seconds).run()
    return 0


def history_start(today: date) -> date:
    """The first day of the demo's history: BACKFILL_DAYS before today, or the working day before that (a first day
    at a weekend has no telemetry, so the effect's window before could not start there: unknown, never zero)."""
    day = today - timedelta(days=BACKFILL_DAYS)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def demo_intervention(today: date) -> SimulatedIntervention:
    """The demo's training, on the day whose window before (EFFECT_WINDOW_DAYS) is the history's first days: its
    window after then ends 8 to 10 days before today, so it is estimated today (docs/metrics.md, Effect of an
    intervention), and the window before that, the trend check's, lies before the history (not checked)."""
    from collectors.simulate.interventions import parse_intervention  # noqa: PLC0415
    from collectors.simulate.population import DEPARTMENTS  # noqa: PLC0415
    from collectors.simulate.stories import STORIES  # noqa: PLC0415

    day = history_start(today) + timedelta(days=EFFECT_WINDOW_DAYS)
    return parse_intervention(INTERVENTION.format(day=day), today, STORIES, [d.name for d in DEPARTMENTS])


def demo_rules(folder: Path) -> list[Path]:
    """The demo's rule files: alignmon's rules rendered from DEMO_THRESHOLDS, plus any other shipped rule file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "alignmon-demo.yml"
    path.write_text(DEMO_RULES_HEADER + render(load(DEMO_THRESHOLDS)), encoding="utf-8")
    return [path, *(f for f in rule_files() if f.resolve() != RULES_PATH.resolve())]


class Demo:
    def __init__(self, settings: Settings, stopping: threading.Event, replay_seconds: float) -> None:
        self.settings, self.stopping, self.replay_seconds = settings, stopping, replay_seconds
        self.state = settings.state_dir.resolve() / "demo"
        self.mail_dir = self.state / "mail"
        self.report = self.state / "report" / "steering-report.html"
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.simulated: datetime | None = None  # the replayed day's clock, while it replays
        self.mails: list[Mail] = []
        self.report_written = False
        self.intervention: SimulatedIntervention | None = None  # the organisation's, once built
        self.fed = False  # the backfill began: the summary has something to say

    def say(self, text: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {text}", flush=True)

    def stack_settings(self) -> Settings:
        """The settings the demo's stack runs with: Alertmanager mails the local SMTP server (never a real relay),
        mails link to the demo's report, and to its Grafana when one is installed."""
        from alignmon.stack.grafana import grafana_command  # noqa: PLC0415

        s = self.settings
        return s.model_copy(
            update={
                "smtp_smarthost": f"127.0.0.1:{s.demo_smtp_port}",
                "smtp_require_tls": False,
                "smtp_username": None,
                "smtp_password_file": None,
                "itops_email": DEMO_ITOPS_EMAIL,
                "report_url": self.report.as_uri(),
                "grafana_url": f"http://127.0.0.1:{s.grafana_port}" if grafana_command() else s.grafana_url,
            }
        )

    def run(self) -> None:
        from alignmon.stack.stack import Stack, StackConfig  # noqa: PLC0415

        self.state.mkdir(parents=True, exist_ok=True)
        for old in self.mail_dir.glob("*.eml"):  # the previous run's mails
            old.unlink()
        settings = self.stack_settings()
        rules = demo_rules(self.state / "rules")
        stack = Stack(StackConfig.from_settings(settings, rule_files=rules, dashboard_thresholds=DEMO_THRESHOLDS))
        self.say(f"starting a mail server for the alert mails (SMTP on {settings.smtp_smarthost})")
        mailbox = MailBox(self.mail_dir, port=self.settings.demo_smtp_port, on_mail=self._mail)
        try:
            self.say("starting Kafka, Prometheus and Alertmanager (first run fetches Kafka's jars from Maven Central)")
            self.say(_thresholds_note())
            # Each run mails afresh: Alertmanager's notification log would hold back what an earlier run sent.
            stack.alertmanager().stop()
            (stack.state / "alertmanager" / "data" / "nflog").unlink(missing_ok=True)
            started = stack.up()
            if not all(started.values()):
                _reload(stack)  # a stack left running keeps its old rules and routing until told
            url = urlparse(self.settings.alert_webhook_url)
            inbox = AlertInbox(url.hostname or "127.0.0.1", url.port or 80)  # Alertmanager's webhook, as in production
            try:
                self._run(stack, settings)
            finally:
                inbox.close()
        finally:
            if self.fed:
                self._summary()
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
            mailbox.close()
            self.say("stopped; nothing left running")

    def _run(self, stack: Stack, settings: Settings) -> None:
        from base.pseudonym import key_from  # noqa: PLC0415
        from collectors.simulate import Organisation  # noqa: PLC0415

        s = self.settings
        rerun = (self.state / "alignmon.duckdb").exists()
        key_file = self.state / "pseudonym.key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(32))
            key_file.chmod(0o600)
        secret = key_file.read_text().strip()
        today = s.today()
        self.intervention = demo_intervention(today)
        org = Organisation.build(SEED, 1.0, today, interventions=[self.intervention])
        catalog_dir = self.state / "catalog"
        catalog_dir.mkdir(exist_ok=True)
        org.write_catalog(catalog_dir / "catalog.yaml")
        # interventions.yaml comes once the history is stored (_watch): estimated while the history streams in, the
        # effect would wait for days its windows lack (pipeline.impact.published.lacks_days) and be shown later.
        (catalog_dir / "interventions.yaml").unlink(missing_ok=True)
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
        dashboards = stack.build_dashboards()
        self._where_to_look(stack, settings, gateway, dashboards)
        if rerun:
            self.say(
                "this state directory holds an earlier run's events: resent ones are dropped as duplicates, so only "
                "new ones add to 'stored' (`make clean` starts afresh)"
            )

        key = key_from(secret, False)
        days = days_to_replay(today)
        self.fed = True
        self._backfill(org, key, today, days[0])
        if self.stopping.is_set():
            return
        # Those days' figures into Prometheus too (its history starts now), so the dashboards show them.
        self._start(["metrics", "backfill", "--to", str(days[0] - timedelta(days=1))], env, "metrics-backfill")
        watcher = threading.Thread(target=self._watch, args=(stack, env, org, catalog_dir), daemon=True)
        watcher.start()
        self._through_gateway(org, gateway, env["ALIGNMON_TOKEN_DB"], days)
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

    def _where_to_look(self, stack: Stack, settings: Settings, gateway: str, dashboards: list[Path]) -> None:
        from alignmon.stack.grafana import grafana_command  # noqa: PLC0415

        s = self.settings
        if grafana_command() is not None:
            shown = f"{stack.grafana_url}/dashboards (folder alignmon; you are an anonymous viewer)"
        else:
            shown = 'not started (no grafana-server on PATH): README.md, "The demo", says how to open them'
        snapshot = self.state / "alignmon-snapshot.duckdb"
        print(
            f"""
  where each user looks (the files stay when the demo stops)
    investment owners  alert mails: Alertmanager mails them to the local SMTP server, which saves them in
                       {self.mail_dir}/
    IT operations      Prometheus   {stack.prometheus_url}/alerts
                       Alertmanager {stack.alertmanager_url}/#/alerts
                       dashboards   {stack.dashboards_dir}/ ({len(dashboards)} JSON files)
                       Grafana      {shown}
    sponsors           the steering committee report, written once the history is stored:
                       {self.report}
    analysts           alignmon sql --database {snapshot} "SELECT * FROM adoption_current"
    endpoint admins    gateway {gateway}/healthz, pipeline metrics http://{s.exporter_host}:{s.exporter_port}/metrics
    logs               {self.state}/*.log and {stack.state / "run"}/*.log
""",
            flush=True,
        )

    def _backfill(self, org: Any, key: bytes, today: date, first_replayed: date) -> None:
        from base.kafka_security import KafkaSecurity  # noqa: PLC0415
        from collectors.granularity import coarsen_rows  # noqa: PLC0415
        from collectors.publish import publish_to  # noqa: PLC0415
        from collectors.sink import KafkaSink  # noqa: PLC0415

        security = KafkaSecurity.from_settings(self.settings)  # as the demo's gateway and pipeline read them
        total, tz = 0, ZoneInfo(self.settings.timezone)
        day = history_start(today)
        # One producer for every day: the backfill is what the owners' first mail waits for.
        sink = KafkaSink(self.settings.kafka_bootstrap, self.settings.topic, timeout_s=30, security=security)
        try:
            while day < first_replayed and not self.stopping.is_set():
                events = org.dicts_for_day(day, pseudonymise_with=key, with_department=True)
                total += publish_to(sink, coarsen_rows(events, self.settings.time_granularity, tz))
                if day.day in (1, 15) or day == first_replayed - timedelta(days=1):
                    self.say(f"backfill straight into Kafka: up to {day}, {total:,} events")
                day += timedelta(days=1)
        finally:
            sink.close()

    def _through_gateway(self, org: Any, gateway: str, token_db: str, days: list[date]) -> None:
        """The most recent working day and today so far through the real gateway at speed, as devices would send
        them, then live use."""
        from collectors.gateway.tokens import TokenStore  # noqa: PLC0415

        tokens = TokenStore(Path(token_db))
        issued: dict[str, str] = {}
        cutoff = datetime.now(org.tz)
        speed = speed_for(self.replay_seconds)
        try:
            with httpx.Client(timeout=30) as http:
                for day in days:
                    events = [e for e in org.dicts_for_day(day) if event_end(e) < cutoff]
                    if not events:
                        continue
                    self.say(
                        f"replaying {day:%a %Y-%m-%d} through the gateway at {speed:.0f}x: {len(events):,} events "
                        f"from {len({e['device_id'] for e in events})} devices, as they end"
                    )
                    for tick in at_speed(events, speed, sleep=self._sleep):
                        self.simulated = tick.simulated
                        self._post(http, gateway, tokens, issued, tick.events)
                self.simulated = None
                self.say("caught up with the clock; following the fleet live now (quiet at night and at weekends)")
                for batch in _batches(org.live(sleep=self._sleep, start=cutoff), self.stopping):
                    self._post(
                        http, gateway, tokens, issued, [e.model_dump(mode="json", exclude_none=True) for e in batch]
                    )
        except _StoppedError:
            return

    def _sleep(self, seconds: float) -> None:
        """The feeds' sleep: a stop ends the feed (a plain early return would make it spin)."""
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
            try:
                answer = http.post(
                    f"{gateway}/v1/events", json=batch, headers={"Authorization": f"Bearer {issued[device]}"}
                )
            except httpx.HTTPError as exc:
                # Ctrl-C reaches the gateway, a child in the same process group, as soon as the demo.
                if self.stopping.wait(2.0):
                    raise _StoppedError from exc
                raise AlignmonError(f"the gateway does not answer ({exc}); see {self.state / 'gateway.log'}") from exc
            if answer.status_code != 202:
                self.say(f"gateway answered {answer.status_code} for {device}: {answer.text[:200]}")

    def _mail(self, mail: Mail) -> None:
        """Called by the mail server for each mail Alertmanager delivers."""
        self.mails.append(mail)
        self.say(f'mail to {", ".join(mail.recipients)}: "{mail.subject}"\n{INDENT}saved as {mail.path}')

    def _watch(self, stack: Stack, env: dict[str, str], org: Any, catalog_dir: Path) -> None:
        """Every ten seconds: events stored, investment statuses and alerts, from the real Prometheus; and once the
        backfill is stored, the interventions file, then the steering report once its effect is estimated."""
        last, caught_up_at = None, None
        while not self.stopping.wait(10):
            try:
                stored = int(_query(stack.prometheus_url, "sum(alignmon_events_ingested_total)").get("", 0))
                sent = int(_query(stack.prometheus_url, "sum(alignmon_gateway_events_accepted_total)").get("", 0))
                states = _query(stack.prometheus_url, "count by (status) (alignmon_investment_status == 1)", "status")
                lag = _query(stack.prometheus_url, "sum(alignmon_consumer_lag_records)").get("")
                alerts = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": "ALERTS"}, timeout=5)
                active = [
                    (r["metric"]["alertname"], r["metric"]["alertstate"]) for r in alerts.json()["data"]["result"]
                ]
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                self.say(f"(Prometheus not answering yet: {exc})")
                continue
            self.say(status_line((sent, stored), last, self.simulated, states, active))
            last = (sent, stored)
            if states and lag is not None and lag < CAUGHT_UP_LAG and caught_up_at is None:
                caught_up_at = time.time()
                org.write_interventions(catalog_dir / "interventions.yaml")
            if caught_up_at is not None and not self.report_written:
                self._write_report(env, catalog_dir, caught_up_at)

    def _write_report(self, env: dict[str, str], catalog_dir: Path, after: float) -> None:
        """`alignmon report` on the analysts' snapshot, once a snapshot published after `after` holds the history and
        the intervention's effect (or EFFECT_WAIT_S later without it); then what the report says the effect is."""
        snapshot = Path(env["ALIGNMON_SNAPSHOT_PATH"])
        if not snapshot.exists() or snapshot.stat().st_mtime < after:
            return
        effect = self._effect(snapshot)
        if effect is None and time.time() - after < EFFECT_WAIT_S:
            return
        report = ["report", "--database", str(snapshot), "--catalog", str(catalog_dir), "--out", str(self.report)]
        done = subprocess.run(
            [sys.executable, "-m", "alignmon.cli", *report],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and self.report.exists():
            self.report_written = True
            worked = f"\n{INDENT}{worked_line(self.intervention, effect)}" if self.intervention else ""
            self.say(f"steering committee report written (alignmon report): {self.report}{worked}")
        else:
            self.say(f"the steering report failed, will retry: {(done.stderr.strip() or done.stdout)[-300:]}")

    def _effect(self, snapshot: Path) -> dict[str, Any] | None:
        """The intervention's row of the snapshot's intervention_effects; None before the pipeline estimated it."""
        import duckdb  # noqa: PLC0415

        if self.intervention is None:
            return None
        try:
            con = duckdb.connect(str(snapshot), read_only=True)
        except duckdb.Error:  # replaced as it was opened: the next look finds the new one
            return None
        try:
            cur = con.execute("SELECT * FROM intervention_effects WHERE intervention = ?", [self.intervention.id])
            row = cur.fetchone()
            return None if row is None else dict(zip([c[0] for c in cur.description], row, strict=True))
        except duckdb.Error:
            return None
        finally:
            con.close()

    def _summary(self) -> None:
        mails = f"{len(self.mails)} alert mail(s) in {self.mail_dir}/" if self.mails else "no alert mail yet"
        report = str(self.report) if self.report_written else "not written yet (the history was not stored yet)"
        self.say(f"to open now: {mails}\n{INDENT}steering report: {report}")


class _StoppedError(Exception):
    """Raised inside the feeds when the demo stops."""


def status_line(
    now: tuple[int, int],
    before: tuple[int, int] | None,
    simulated: datetime | None,
    states: dict[str, float],
    alerts: list[tuple[str, str]],
) -> str:
    """One line of what the real Prometheus says: events the gateway accepted and the pipeline stored (changes since
    the line `before`), the replayed day's clock, investments by status, alerts firing and pending."""
    (sent, stored), replay = now, f"replayed up to {simulated:%a %H:%M} | " if simulated else ""
    if before is None:
        events = f"events: {sent:,} through the gateway, {stored:,} stored"
    else:
        events = f"events: +{sent - before[0]:,} through the gateway, {stored:,} stored (+{stored - before[1]:,})"
    status = ", ".join(f"{int(v)} {k}" for k, v in sorted(states.items())) or "not computed yet"
    counts = {state: sum(1 for _, s in alerts if s == state) for state in ("firing", "pending")}
    shown = ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "none"
    return f"{replay}{events} | investments: {status} | alerts: {shown}"


def worked_line(item: SimulatedIntervention, effect: dict[str, Any] | None) -> str:
    """What the report's "What worked" says of the demo's intervention (a row of intervention_effects), beside the
    effect the simulator gave it."""
    truth = f"{item.kind} of {item.day}, simulated: {item.points:+g} pp of {' and '.join(item.departments)}"
    if effect is None:
        return f"what worked: {item.id} ({truth}): not estimated yet"
    verdict = effect["verdict"]
    if verdict == "not_estimable" or effect["effect"] is None:
        return f"what worked: {item.id} ({truth}): {verdict} ({effect['reason']})"
    level = f"{effect['level'] * 100:g}%"
    return (
        f"what worked: {item.id} ({truth}): {verdict} {effect['effect'] * 100:+.1f} pp "
        f"({level} interval {effect['effect_low'] * 100:+.1f} to {effect['effect_high'] * 100:+.1f} pp)"
    )


def _thresholds_note() -> str:
    """Which thresholds the demo's alerts use, and how much sooner than the shipped ones the owner's alert fires."""
    demo, shipped = load(DEMO_THRESHOLDS).alerts.adoption_low, load(THRESHOLDS_PATH).alerts.adoption_low
    return (
        f"alert rules from metrics/{DEMO_THRESHOLDS.name}, DEMO ONLY: an investment below plan alerts its owner "
        f"after {demo.for_}, not the shipped {shipped.for_}"
    )


def _reload(stack: Stack) -> None:
    """Have a running Prometheus and Alertmanager read the configuration the demo just wrote."""
    for url in (stack.prometheus_url, stack.alertmanager_url):
        try:
            httpx.post(f"{url}/-/reload", timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            raise AlignmonError(f"{url} did not reload its configuration ({exc}); run `alignmon stack down`") from exc


def _query(prometheus: str, expr: str, label: str | None = None) -> dict[str, float]:
    result = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()["data"]["result"]
    return {(r["metric"].get(label, "") if label else ""): float(r["value"][1]) for r in result}


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
