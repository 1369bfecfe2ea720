"""The local stack: Kafka, Prometheus and Alertmanager as plain processes under one state directory."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alignmon.stack.alertmanager import alertmanager_service
from alignmon.stack.grafana import grafana_command, grafana_service
from alignmon.stack.kafka import ensure_topics, kafka_service
from alignmon.stack.process import Service, port_open
from alignmon.stack.prometheus import http_ready, prometheus_config, prometheus_service
from alignmon.stack.s3 import ensure_bucket, s3_service
from base.settings import Settings

log = logging.getLogger(__name__)

# Kafka's default retention (log.retention.hours=168): what a restart of the pipeline can replay.
KAFKA_RETENTION_DAYS = 7
# Alerts go nowhere unless `alertmanager_yaml` says otherwise (from_settings: metrics.routing's configuration).
NULL_ALERTMANAGER = "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"


@dataclass
class StackConfig:
    """Everything the local stack needs to know; built from Settings or by test fixtures."""

    state_dir: Path
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    prometheus_port: int = 19090
    alertmanager_port: int = 19094
    topics: Mapping[str, int] = field(default_factory=lambda: {"alignmon.usage": 3, "alignmon.usage.dlq": 1})
    topic_retention_ms: int | None = None  # the topics' retention.ms; None: the broker's default (7 days)
    scrape_targets: Mapping[str, Sequence[str]] = field(default_factory=dict)
    rule_files: Sequence[Path] = ()
    alertmanager_yaml: str = NULL_ALERTMANAGER
    scrape_interval_s: float = 5.0
    # --web.external-url of each; None: its loopback address (http://127.0.0.1:<port>).
    prometheus_external_url: str | None = None
    alertmanager_external_url: str | None = None
    # An S3-compatible server for the lake (s3proxy), started only when a port is given; its bucket is created.
    s3_port: int | None = None
    s3_bucket: str = "alignmon"
    s3_access_key: str = "alignmon"
    s3_secret_key: str = "alignmon-local-secret"
    # Grafana, started only when one is installed (alignmon.stack.grafana), with the dashboards built from code: their
    # colours follow `dashboard_thresholds` (None: metrics/thresholds.yml), their runbook links `runbooks_url`.
    grafana_port: int = 19030
    dashboard_thresholds: Path | None = None
    runbooks_url: str = "docs/runbooks.md"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> StackConfig:
        from metrics.config import rule_files  # noqa: PLC0415  (metrics owns them)
        from metrics.routing import config_from_settings  # noqa: PLC0415

        values: dict[str, object] = {
            "state_dir": settings.state_dir,
            "kafka_port": settings.kafka_port,
            "kafka_controller_port": settings.kafka_controller_port,
            "prometheus_port": settings.prometheus_port,
            "alertmanager_port": settings.alertmanager_port,
            "topics": {settings.topic: settings.topic_partitions, settings.dlq_topic: 1},
            # Raw events in Kafka are per-person too: never kept longer than the store keeps them (nor than the
            # broker's default week, which restarts need).
            "topic_retention_ms": min(settings.raw_retention_days, KAFKA_RETENTION_DAYS) * 86_400_000,
            "scrape_targets": {
                "alignmon-pipeline": [f"127.0.0.1:{settings.exporter_port}"],
                "alignmon-gateway": [f"127.0.0.1:{settings.gateway_port}"],
            },
            "rule_files": rule_files(),
            "alertmanager_yaml": config_from_settings(settings),
            "scrape_interval_s": settings.scrape_interval_s,
            "prometheus_external_url": settings.prometheus_external_url,
            "alertmanager_external_url": settings.alertmanager_external_url,
            "grafana_port": settings.grafana_port,
            "runbooks_url": settings.runbook_base(),
        }
        if settings.stack_s3:
            values |= {"s3_port": settings.s3_port, **_lake_bucket(settings)}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


class Stack:
    """Start, inspect and stop the local services; every operation is safe to repeat."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.state = config.state_dir.resolve()
        self.tag = str(self.state)

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.config.kafka_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.config.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.config.alertmanager_port}"

    def kafka(self) -> Service:
        c = self.config
        return kafka_service(self.state, c.kafka_port, c.kafka_controller_port, self.tag)

    def alertmanager(self) -> Service:
        c = self.config
        return alertmanager_service(
            self.state, c.alertmanager_port, c.alertmanager_yaml, self.tag, c.alertmanager_external_url
        )

    def prometheus(self) -> Service:
        c = self.config
        config = prometheus_config(
            c.scrape_targets, c.rule_files, f"127.0.0.1:{c.alertmanager_port}", c.scrape_interval_s
        )
        return prometheus_service(self.state, c.prometheus_port, config, self.tag, c.prometheus_external_url)

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.config.s3_port}"

    def s3(self) -> Service:
        c = self.config
        assert c.s3_port is not None
        return s3_service(self.state, c.s3_port, c.s3_access_key, c.s3_secret_key, self.tag)

    @property
    def grafana_url(self) -> str:
        return f"http://127.0.0.1:{self.config.grafana_port}"

    @property
    def dashboards_dir(self) -> Path:
        """Where the dashboards' JSON is written (`build_dashboards`) and the local Grafana provisions it from."""
        return self.state / "grafana" / "dashboards"

    def build_dashboards(self) -> list[Path]:
        """Write the dashboards' JSON into `dashboards_dir` (what `alignmon dashboards build` writes)."""
        from dashboards.build import write  # noqa: PLC0415 (the Grafana SDK loads only when dashboards are built)
        from metrics.thresholds import THRESHOLDS_PATH, load  # noqa: PLC0415

        thresholds = load(self.config.dashboard_thresholds or THRESHOLDS_PATH)
        return write(self.dashboards_dir, thresholds, self.config.runbooks_url)

    def grafana(self) -> Service | None:
        """The local Grafana, or None when none is installed."""
        c = self.config
        return grafana_service(
            self.state,
            c.grafana_port,
            self.prometheus_url,
            self.dashboards_dir,
            scrape_interval_s=c.scrape_interval_s,
            tag=self.tag,
        )

    def services(self) -> list[Service]:
        grafana = self.grafana()
        optional = [*([self.s3()] if self.config.s3_port else []), *([grafana] if grafana else [])]
        return [self.kafka(), self.alertmanager(), self.prometheus(), *optional]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One `up` or `down` at a time per state directory: two racing runs would fight over the pids."""
        self.state.mkdir(parents=True, exist_ok=True)
        with (self.state / "stack.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def up(self) -> dict[str, bool]:
        """Start what is not running (returns service -> started now) and create the topics; Grafana too when it is
        installed, with the dashboards built."""
        with self._locked():
            services = self.services()
            if any(svc.name == "grafana" for svc in services):
                self.build_dashboards()  # before Grafana starts, so it provisions them at once
            started = {svc.name: svc.start() for svc in services}
            created = ensure_topics(self.kafka_bootstrap, dict(self.config.topics), self.config.topic_retention_ms)
            if self.config.s3_port:
                ensure_bucket(
                    self.s3_endpoint, self.config.s3_bucket, self.config.s3_access_key, self.config.s3_secret_key
                )
        if created:
            log.info("created topics %s", ", ".join(created))
        return started

    def status(self) -> dict[str, str]:
        out = {}
        for svc in self._known():
            pid = svc.pid()
            if pid is None:
                out[svc.name] = "stopped"
            else:
                out[svc.name] = f"running (pid {pid}, {'ready' if svc.ready() else 'not ready'}), log {svc.log_file}"
        return out

    def down(self) -> list[str]:
        """Stop every service of this state directory, in reverse order; returns the ones stopped."""
        with self._locked():
            return [svc.name for svc in reversed(self._known()) if svc.stop()]

    def _known(self) -> list[Service]:
        # Status and down must work without Maven or rewriting configs: only pid files and tags are needed.
        run, c = self.state / "run", self.config
        checks: dict[str, tuple[list[int], Callable[[], bool]]] = {
            "kafka": ([c.kafka_port, c.kafka_controller_port], lambda: port_open(c.kafka_port)),
            "alertmanager": ([c.alertmanager_port], lambda: http_ready(f"{self.alertmanager_url}/-/ready")),
            "prometheus": ([c.prometheus_port], lambda: http_ready(f"{self.prometheus_url}/-/ready")),
        }
        # s3proxy is optional: known when configured, or when a run of `up` with it left its pid (so `down` stops it).
        if c.s3_port or (run / "s3.pid").exists():
            port = c.s3_port or 0
            checks["s3"] = ([port] if port else [], lambda: bool(port) and port_open(port))
        # Grafana likewise: known when installed, or when a run of `up` left its pid.
        if grafana_command() is not None or (run / "grafana.pid").exists():
            checks["grafana"] = ([c.grafana_port], lambda: http_ready(f"{self.grafana_url}/api/health"))
        return [
            Service(name=name, argv=[], run_dir=run, ports=ports, ready=ready, tag=self.tag)
            for name, (ports, ready) in checks.items()
        ]


def _lake_bucket(settings: Settings) -> dict[str, object]:
    """The bucket and credentials of an s3:// ALIGNMON_LAKE_URL, for the local s3proxy to serve."""
    out: dict[str, object] = {}
    if settings.lake_url and settings.lake_url.startswith("s3://"):
        out["s3_bucket"] = settings.lake_url[5:].split("/", 1)[0]
    if settings.lake_s3_access_key and settings.lake_s3_secret_key:
        out |= {
            "s3_access_key": settings.lake_s3_access_key,
            "s3_secret_key": settings.lake_s3_secret_key.get_secret_value(),
        }
    return out
