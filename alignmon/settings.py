"""Typed settings, read from ALIGNMON_* environment variables (no I/O at import)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting alignmon reads; each is ALIGNMON_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="ALIGNMON_", extra="ignore")

    # local stack
    state_dir: Path = Field(Path(".alignmon"), description="Where the local stack keeps data, logs and pids.")
    kafka_port: int = Field(19092, description="Port of the local Kafka broker's client listener.")
    kafka_controller_port: int = Field(19093, description="Port of the local Kafka KRaft controller.")
    prometheus_port: int = Field(19090, description="Port of the local Prometheus.")
    alertmanager_port: int = Field(19094, description="Port of the local Alertmanager.")
    alert_webhook_url: str = Field(
        "http://127.0.0.1:19095/alerts",
        description="Webhook the local Alertmanager sends alerts to (the demo's).",
    )
    scrape_interval_s: float = Field(5.0, description="Scrape and rule-evaluation interval of the local Prometheus.")

    # transport
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers (host:port,...).")
    topic: str = Field("alignmon.usage", description="Kafka topic of validated usage events.")
    dlq_topic: str = Field("alignmon.usage.dlq", description="Kafka dead-letter topic for events the pipeline rejects.")
    topic_partitions: int = Field(3, description="Partitions created for the usage topic (keyed by device).")

    # gateway
    gateway_host: str = Field("127.0.0.1", description="Address the gateway listens on.")
    gateway_port: int = Field(18700, description="Port the gateway listens on.")
    pseudonym_secret: SecretStr | None = Field(
        None, description="Key for HMAC-SHA256 pseudonyms of user names; required unless dev_mode."
    )
    dev_mode: bool = Field(False, description="Allow a built-in pseudonym key (never in production).")
    titles_enabled: bool = Field(False, description="Keep window titles (dropped by default for privacy).")
    directory_csv: Path | None = Field(None, description="CSV 'user,department' used to add departments.")
    token_db: Path = Field(Path(".alignmon/tokens.sqlite"), description="Device tokens (stored hashed).")
    spool_dir: Path = Field(Path(".alignmon/spool"), description="Gateway disk spool used while Kafka is unreachable.")
    max_body_bytes: int = Field(10 * 1024 * 1024, description="Largest accepted request body (after gunzip).")
    rate_limit_per_s: float = Field(20.0, description="Requests per second allowed per device (token bucket).")
    rate_limit_burst: int = Field(40, description="Burst size of the per-device rate limit.")

    # pipeline
    duckdb_path: Path = Field(Path(".alignmon/alignmon.duckdb"), description="The pipeline's DuckDB file.")
    snapshot_path: Path = Field(
        Path(".alignmon/alignmon-snapshot.duckdb"), description="Read-only snapshot published for analysts."
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
    snapshot_interval_s: float = Field(30.0, description="Seconds between snapshot publications.")
    consumer_group: str = Field("alignmon-pipeline", description="Kafka consumer group of the pipeline.")
    exporter_host: str = Field("127.0.0.1", description="Address the metrics exporter listens on.")
    exporter_port: int = Field(19708, description="Port of the pipeline's Prometheus exporter (/metrics).")
    timezone: str = Field("UTC", description="The organisation's time zone: days are calendar days here.")
    k_anonymity: int = Field(5, description="Smallest group size shown in any breakdown.")
    catalog_dir: Path = Field(Path("catalog/demo"), description="Folder of catalog YAML files.")
    refresh_interval_s: float = Field(15.0, description="Seconds between adoption refreshes in the pipeline.")
    as_of: date | None = Field(None, description="Compute adoption as of this day, not today (reproducible runs).")

    def pseudonym_key(self) -> bytes:
        """The key for user pseudonyms (gateway and directory must use the same one)."""
        from collectors.pseudonym import key_from  # noqa: PLC0415

        return key_from(self.pseudonym_secret.get_secret_value() if self.pseudonym_secret else None, self.dev_mode)

    def today(self) -> date:
        """The as-of day: the configured one, or today in the organisation's time zone."""
        from datetime import datetime  # noqa: PLC0415
        from zoneinfo import ZoneInfo  # noqa: PLC0415

        return self.as_of or datetime.now(ZoneInfo(self.timezone)).date()
