"""Typed settings, read from ALIGNMON_* environment variables (no I/O at import)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from base.sources import OTHER_SOURCE, SOURCES

EXAMPLE_CATALOG = Path("catalog/example")


class Settings(BaseSettings):
    """Every setting alignmon reads; each is ALIGNMON_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="ALIGNMON_", extra="ignore")

    # local stack
    # Paths and addresses left unset derive from state_dir and the local stack's ports (fields are validated in
    # order, so a factory sees the fields above it): two stacks differ by ALIGNMON_STATE_DIR and the ports alone.
    state_dir: Path = Field(
        Path(".alignmon"),
        description="Where alignmon keeps its state: the local stack's data, logs and pids, and the token database, "
        "spool and DuckDB files unless their own settings are given.",
    )
    kafka_port: int = Field(19092, description="Port of the local Kafka broker's client listener.")
    kafka_controller_port: int = Field(19093, description="Port of the local Kafka KRaft controller.")
    prometheus_port: int = Field(19090, description="Port of the local Prometheus.")
    alertmanager_port: int = Field(19094, description="Port of the local Alertmanager.")
    alert_webhook_port: int = Field(19095, description="Port of the demo's alert webhook receiver.")
    alert_webhook_url: str = Field(
        default_factory=lambda s: f"http://127.0.0.1:{s['alert_webhook_port']}/alerts",
        description="Webhook the local Alertmanager sends alerts to (the demo's); empty: no webhook, e-mail only.",
    )
    demo_smtp_port: int = Field(
        19025, description="Port of the demo's local SMTP server, which saves each alert mail Alertmanager sends."
    )
    grafana_port: int = Field(
        19030, description="Port of the local stack's Grafana, started only when grafana-server is on PATH."
    )
    scrape_interval_s: float = Field(5.0, description="Scrape and rule-evaluation interval of the local Prometheus.")
    prometheus_external_url: str | None = Field(
        None,
        description="URL people reach the local Prometheus at (its --web.external-url, used in alert links); "
        "unset: http://127.0.0.1 on ALIGNMON_PROMETHEUS_PORT.",
    )
    alertmanager_external_url: str | None = Field(
        None,
        description="URL people reach the local Alertmanager at (its --web.external-url, the mails' footer); "
        "unset: http://127.0.0.1 on ALIGNMON_ALERTMANAGER_PORT.",
    )

    # alert e-mails (docs/runbooks.md, "E-mail"); the local Alertmanager mails only when smtp_smarthost is set
    smtp_smarthost: str | None = Field(
        None, description="Mail relay (host:port) the local Alertmanager sends alert e-mails through; unset: no mail."
    )
    smtp_from: str = Field("alignmon@localhost", description="Sender address of the alert e-mails.")
    smtp_username: str | None = Field(
        None, description="User name for SMTP authentication with the relay; unset: no authentication."
    )
    smtp_password_file: Path | None = Field(
        None,
        description="File holding the SMTP password; Alertmanager reads it (smtp_auth_password_file), so the "
        "password never appears in its configuration.",
    )
    smtp_require_tls: bool = Field(True, description="Require STARTTLS with the mail relay.")
    itops_email: str | None = Field(
        None, description="IT operations' address for pipeline, gateway and shadow-IT alerts; unset: no mail to them."
    )
    grafana_url: str = Field(
        "http://localhost:3000",
        description="Grafana as the mails' readers reach it (the default is docker-compose's); mails link to the "
        "investment's drill-down there.",
    )
    report_url: str | None = Field(
        None,
        description="Where the latest steering report (`alignmon report`) is published; mails link to it "
        "(no link while unset).",
    )
    runbook_url: str | None = Field(
        None,
        description="Where docs/runbooks.md is published; mails link to this URL, `#` and the alert's name in lower "
        "case. Unset: the runbooks.md this checkout ships, as a file:// URL (fine for a local trial, not for mail "
        "to others).",
    )

    # transport
    kafka_bootstrap: str = Field(
        default_factory=lambda s: f"127.0.0.1:{s['kafka_port']}",
        description="Kafka bootstrap servers (host:port,...); unset: the local stack's broker.",
    )
    topic: str = Field("alignmon.usage", description="Kafka topic of validated usage events.")
    dlq_topic: str = Field("alignmon.usage.dlq", description="Kafka dead-letter topic for events the pipeline rejects.")
    topic_partitions: int = Field(3, description="Partitions created for the usage topic (keyed by device).")
    # the Kafka clients' security (base/kafka_security.py; docs/deploy.md, A secured Kafka cluster)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How every Kafka client of alignmon (gateway, pipeline, importers, simulator) talks to "
        "ALIGNMON_KAFKA_BOOTSTRAP: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS).",
    )
    kafka_ca_file: Path | None = Field(
        None,
        description="PEM file of the CA certificate(s) that signed the brokers' certificates, for SSL and SASL_SSL; "
        "unset: the system's trusted CAs. The broker's certificate must name the host of the address used.",
    )
    kafka_client_cert: Path | None = Field(
        None,
        description="PEM file of this client's certificate, for brokers that require one (mutual TLS; SSL or "
        "SASL_SSL).",
    )
    kafka_client_key: Path | None = Field(
        None,
        description="PEM file of the private key of ALIGNMON_KAFKA_CLIENT_CERT, not encrypted (unset: the "
        "certificate's file holds the key too).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism for SASL_PLAINTEXT and SASL_SSL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name of alignmon's Kafka clients.")
    kafka_sasl_password: SecretStr | None = Field(
        None,
        description="SASL password of ALIGNMON_KAFKA_SASL_USERNAME; keep it in an env file only root reads "
        "(gateway.env, pipeline.env), not in alignmon.env.",
    )

    # the event contract (checked by the gateway, the importers and the pipeline alike)
    event_earliest: date = Field(
        date(2000, 1, 1),
        ge=date(1970, 1, 1),
        description="Earliest `start` an event may have; an earlier one is refused with its reason.",
    )
    event_max_future_s: float = Field(
        300.0, gt=0, description="Seconds an event's `start` may lie ahead of the receiver's clock (clock skew)."
    )

    # gateway
    gateway_host: str = Field("127.0.0.1", description="Address the gateway listens on.")
    gateway_port: int = Field(18700, description="Port the gateway listens on.")
    pseudonym_secret: SecretStr | None = Field(
        None, description="Key for HMAC-SHA256 pseudonyms of user names; required unless dev_mode."
    )
    dev_mode: bool = Field(False, description="Allow a built-in pseudonym key (never in production).")
    titles_enabled: bool = Field(False, description="Keep window titles (dropped by default for privacy).")
    time_granularity: Literal["exact", "hour", "day"] = Field(
        "exact",
        description="How precisely per-person start times leave the gateway: spans are split at local midnight and "
        "starts truncated to the hour or the day, so working times cannot be read from the data.",
    )
    directory_csv: Path | None = Field(
        None,
        description="CSV 'user,department': departments for the gateway (logins or pseudonyms) and populations for "
        "the pipeline, which reads pseudonyms only (`alignmon directory pseudonymise` makes them where the key is). "
        "Its users must be exactly what the collectors send as user (the agent: the OS login or --user), compared "
        "as pseudonyms: `alignmon directory check --events FILE` lists those that match no row (docs/catalog.md).",
    )
    token_db: Path = Field(
        default_factory=lambda s: s["state_dir"] / "tokens.sqlite", description="Device tokens (stored hashed)."
    )
    spool_dir: Path = Field(
        default_factory=lambda s: s["state_dir"] / "spool",
        description="Gateway disk spool used while Kafka is unreachable.",
    )
    max_body_bytes: int = Field(10 * 1024 * 1024, description="Largest accepted request body (after gunzip).")
    rate_limit_per_s: float = Field(20.0, description="Requests per second allowed per device (token bucket).")
    rate_limit_burst: int = Field(40, description="Burst size of the per-device rate limit.")
    max_events_per_request: int = Field(
        5000, ge=1, description="Most events accepted in one request; a larger batch is refused with 413."
    )
    max_json_depth: int = Field(
        8, ge=2, description="Deepest JSON nesting (arrays and objects) accepted in a request body; deeper is a 400."
    )
    gateway_header_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a connection may take to send a complete request head before it is closed."
    )
    gateway_body_timeout_s: float = Field(
        30.0, gt=0, description="Seconds a request may take to send its body before it is answered 408."
    )
    gateway_keep_alive_s: float = Field(5.0, gt=0, description="Seconds an idle keep-alive connection stays open.")
    gateway_max_connections: int = Field(
        1000, ge=1, description="Open connections and requests in progress above which the gateway answers 503."
    )
    gateway_workers: int = Field(
        1,
        ge=0,
        description="Gateway worker processes sharing the port (SO_REUSEPORT), each with its own spool folder under "
        "ALIGNMON_SPOOL_DIR; 0: one per core. More than one pays where the gateway has cores of its own.",
    )
    gateway_tls_cert: Path | None = Field(
        None,
        description="PEM file of the gateway's certificate (its chain after it): with ALIGNMON_GATEWAY_TLS_KEY the "
        "gateway serves https only; unset: plain http (docs/collectors.md, TLS).",
    )
    gateway_tls_key: Path | None = Field(
        None,
        description="PEM file of the private key of ALIGNMON_GATEWAY_TLS_CERT, not encrypted; set both or neither.",
    )
    gateway_tls_client_ca: Path | None = Field(
        None,
        description="PEM file of the CA(s) that sign client certificates: when set, each client must present one "
        "(mutual TLS) as well as its device token; needs ALIGNMON_GATEWAY_TLS_CERT.",
    )
    auth_failures_per_s: float = Field(
        0.2, description="Bad-token attempts per second allowed per client address before 429 (0 disables)."
    )
    auth_failure_burst: int = Field(10, ge=1, description="Burst size of the per-address bad-token limit.")

    # agent and importers' --gateway delivery
    agent_token: SecretStr | None = Field(
        None, description="The device's gateway token, when --token-file is not given (see `alignmon tokens issue`)."
    )
    agent_ca_file: Path | None = Field(
        None,
        description="CA certificate(s) (PEM) the agent and importers trust for an https gateway instead of the "
        "system's, when --ca-file is not given.",
    )
    agent_client_cert: Path | None = Field(
        None, description="Client certificate (PEM) for a gateway that requires one, when --client-cert is not given."
    )
    agent_client_key: Path | None = Field(
        None,
        description="Private key (PEM) of ALIGNMON_AGENT_CLIENT_CERT, when --client-key is not given (unset: the "
        "certificate's file holds the key too).",
    )

    # pipeline
    duckdb_path: Path = Field(
        default_factory=lambda s: s["state_dir"] / "alignmon.duckdb", description="The pipeline's DuckDB file."
    )
    snapshot_path: Path = Field(
        default_factory=lambda s: s["state_dir"] / "alignmon-snapshot.duckdb",
        description="The analysts' database the pipeline publishes: k-safe tables only (docs/analysts.md).",
    )
    duckdb_memory_limit: str = Field(
        "1GB", description="DuckDB memory_limit of the pipeline's connection; larger work spills to disk."
    )
    batch_max_mib: float = Field(
        32.0,
        gt=0,
        description="Largest batch (MiB of Kafka record values) the pipeline reads into one DuckDB transaction; "
        "with duckdb_memory_limit it bounds the pipeline's memory whatever the backlog.",
    )
    snapshot_interval_s: float = Field(30.0, description="Seconds between publications of the analysts' database.")
    lake_url: str | None = Field(
        None,
        description="The lake the pipeline writes closed days to: a folder, or s3://bucket/prefix on any "
        "S3-compatible store (docs/lake.md); unset: no lake.",
    )
    lake_s3_endpoint: str | None = Field(None, description="The S3 endpoint of an s3:// lake (default: AWS).")
    lake_s3_access_key: str | None = Field(None, description="Access key of an s3:// lake (default: the AWS chain).")
    lake_s3_secret_key: SecretStr | None = Field(None, description="Secret key of an s3:// lake.")
    lake_close_after_days: int = Field(
        2, ge=0, description="Days after its end a day is closed and written to the lake (late events: docs/lake.md)."
    )
    lake_interval_s: float = Field(
        300.0, gt=0, description="Seconds between the pipeline's checks for closed days to write to the lake."
    )
    lake_hot_days: int = Field(
        14,
        ge=1,
        description="With a lake: days of raw events the pipeline's file keeps once the lake holds them (the lake "
        "keeps them to ALIGNMON_RAW_RETENTION_DAYS; `alignmon privacy subject` reads both).",
    )
    standby: bool = Field(
        False,
        description="Run as one of several pipelines on a shared lake: the one holding the writers' lease in Kafka "
        "writes, the others wait and take over when it stops (docs/operations.md, Standby pipelines); needs "
        "ALIGNMON_LAKE_URL.",
    )
    lease_timeout_s: float = Field(
        10.0,
        ge=6,
        le=300,
        description="Seconds without a heartbeat after which a standby takes the lease of a writer that is gone "
        "(Kafka's session timeout; the broker accepts 6 to 300 by default).",
    )
    stack_s3: bool = Field(False, description="`alignmon stack up` also starts an S3-compatible server (s3proxy).")
    s3_port: int = Field(19900, description="Port of the local stack's S3-compatible server.")
    dedup_horizon_days: int = Field(
        14,
        ge=1,
        description="Days an event's (device_id, event_id) is remembered: a resend within them is dropped as a "
        "duplicate whatever its start (Kafka keeps 7 days; agents' spools resend sooner).",
    )
    raw_retention_days: int = Field(
        90,
        ge=1,
        description="Days the pipeline keeps per-person raw events (by the day they describe); older ones are "
        "deleted at least daily (docs/privacy.md, Retention).",
    )
    daily_retention_days: int = Field(
        400,
        ge=1,
        description="Days the pipeline keeps per-person daily rollups (usage_user_daily); at least the 28-day window. "
        "The k-safe daily figures built from them are kept.",
    )
    exporter_host: str = Field("127.0.0.1", description="Address the metrics exporter listens on.")
    exporter_port: int = Field(19708, description="Port of the pipeline's Prometheus exporter (/metrics).")
    timezone: str = Field("UTC", description="The organisation's time zone: days are calendar days here.")
    k_anonymity: int = Field(5, description="Smallest group size shown in any breakdown.")
    catalog_dir: Path = Field(
        EXAMPLE_CATALOG,
        description="Folder of catalog YAML files; the default is the example catalog of a checkout (relative to "
        "the working directory), for trying alignmon out: the pipeline warns while it monitors that example.",
    )
    refresh_interval_s: float = Field(15.0, description="Seconds between adoption refreshes in the pipeline.")
    as_of: date | None = Field(None, description="Compute adoption as of this day, not today (reproducible runs).")
    silent_days: int = Field(
        7,
        ge=1,
        le=26,
        description="A device that reported in the 28-day window but whose last event is more than this many days "
        "before the as-of day counts as silent (alignmon_collector_devices_silent, docs/operations.md); 7 rides out "
        "weekends and long weekends.",
    )
    extra_sources: str = Field(
        "",
        description="Comma-separated `source` names of the site's own collectors that metrics name as they are, "
        f"besides alignmon's ({', '.join(SOURCES)}); any other source a client sends is counted as `{OTHER_SOURCE}`, "
        "so clients cannot add series.",
    )

    # dashboards
    grafana_token: SecretStr | None = Field(
        None, description="Grafana service-account token for `alignmon dashboards push` (or user:password in the URL)."
    )

    @field_validator("state_dir", mode="before")
    @classmethod
    def _state_dir_named(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():  # an env file's line left empty: not the working directory
            raise ValueError("is empty: name a folder, or unset it for the default .alignmon")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone of the IANA database, e.g. Europe/Amsterdam or UTC") from None
        return value

    def extra_source_names(self) -> tuple[str, ...]:
        """ALIGNMON_EXTRA_SOURCES as names (blanks dropped)."""
        return tuple(name.strip() for name in self.extra_sources.split(",") if name.strip())

    def runbook_base(self) -> str:
        """runbook_url, or the shipped docs/runbooks.md as a file:// URL."""
        return self.runbook_url or (Path(__file__).resolve().parents[1] / "docs" / "runbooks.md").as_uri()

    def event_bounds(self) -> dict[str, Any]:
        """The contract's time bounds as UsageEvent's validation context takes them."""
        earliest = datetime(self.event_earliest.year, self.event_earliest.month, self.event_earliest.day, tzinfo=UTC)
        return {"earliest": earliest, "max_future": timedelta(seconds=self.event_max_future_s)}

    def pseudonym_key(self) -> bytes:
        """The key for user pseudonyms (gateway and directory must use the same one)."""
        from base.pseudonym import key_from  # noqa: PLC0415

        return key_from(self.pseudonym_secret.get_secret_value() if self.pseudonym_secret else None, self.dev_mode)

    def today(self) -> date:
        """The as-of day: the configured one, or today in the organisation's time zone."""
        from zoneinfo import ZoneInfo  # noqa: PLC0415

        return self.as_of or datetime.now(ZoneInfo(self.timezone)).date()
