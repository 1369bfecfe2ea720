"""The DPIA outline: the risks this kind of monitoring carries, and the measure against each tied to a setting (with
its configured value) or to the mechanism that enforces it."""

from __future__ import annotations

from typing import NamedTuple

from base.settings import Settings
from pipeline.domain.rules import K_ANONYMITY


class Measure(NamedTuple):
    """One measure: what it does, what enforces it, and whether the configuration weakens it."""

    text: str
    mechanism: str
    weak: bool = False


class Risk(NamedTuple):
    risk: str
    measures: tuple[Measure, ...]


def risks(s: Settings, *, k: int) -> list[Risk]:
    """Each risk of the DPIA with its measures under settings `s` (k is the effective group size)."""
    secret = "set" if s.pseudonym_secret is not None else "not set"
    coarse = s.time_granularity != "exact"
    return [
        Risk(
            "Re-identification: pseudonyms traced back to named employees.",
            (
                Measure(
                    "User names and host names are replaced by keyed pseudonyms (HMAC-SHA256) at the gateway, "
                    "before anything is stored or queued.",
                    f"ALIGNMON_PSEUDONYM_SECRET ({secret}); collectors/policy.py PrivacyPolicy",
                    weak=s.pseudonym_secret is None,
                ),
                Measure(
                    "The key is never the built-in development key.",
                    f"ALIGNMON_DEV_MODE = {'on' if s.dev_mode else 'off'}",
                    weak=s.dev_mode,
                ),
                Measure(
                    "The key and the directory of real names stay on the gateway side; the telemetry store holds "
                    "neither, nor the device-pseudonym mapping.",
                    "key custody (section 'Pseudonymisation and key custody')",
                ),
                Measure(
                    "Home folders and the user's own name are taken out of application paths.",
                    "collectors/identifier.py without_user (at the gateway)",
                ),
            ),
        ),
        Risk(
            "Working-time or performance monitoring of individuals (WOR art. 27(1)(l), §87(1)(6) BetrVG).",
            (
                Measure(
                    "Per-person start times are coarsened before storage: "
                    + ("working hours cannot be read from the data." if coarse else "they are NOT coarsened now."),
                    f"ALIGNMON_TIME_GRANULARITY = {s.time_granularity}",
                    weak=not coarse,
                ),
                Measure(
                    f"No figure about a group of fewer than {k} people is shown in views, metrics, dashboards, "
                    "alerts or reports; a manager can never drill down to a person.",
                    f"ALIGNMON_K_ANONYMITY = {k}",
                    weak=k < K_ANONYMITY,
                ),
                Measure(
                    "Metrics and alerts never carry a user or device label.",
                    "metrics/definitions.py (the one table of exported labels)",
                ),
                Measure(
                    "The purposes are the catalog's objectives (adoption of funded software), not the assessment "
                    "of people; any other use needs a new agreement with the works council.",
                    "this pack's 'Purposes' section, agreed with the works council",
                ),
            ),
        ),
        Risk(
            "Content exposure: what people work on becomes visible (window titles, document names, URLs).",
            (
                Measure(
                    "Window titles are " + ("KEPT." if s.titles_enabled else "dropped at the gateway."),
                    f"ALIGNMON_TITLES_ENABLED = {'on' if s.titles_enabled else 'off'}; agent --titles",
                    weak=s.titles_enabled,
                ),
                Measure(
                    "The event contract refuses every field it does not name: no keystrokes, URLs or contents.",
                    "collectors/usage-event.schema.json (additionalProperties: false)",
                ),
            ),
        ),
        Risk(
            "Data kept longer than the purpose needs.",
            (
                Measure(
                    f"Per-person raw events are deleted after {s.raw_retention_days} days by the pipeline itself.",
                    f"ALIGNMON_RAW_RETENTION_DAYS = {s.raw_retention_days}",
                ),
                Measure(
                    f"Per-person daily totals are deleted after {s.daily_retention_days} days; only figures about "
                    f"groups of at least {k} people are kept longer.",
                    f"ALIGNMON_DAILY_RETENTION_DAYS = {s.daily_retention_days}",
                ),
                Measure(
                    "The Kafka topic keeps events no longer than the raw retention.",
                    f"retention.ms of topic {s.topic} (`alignmon stack up` sets it; on another cluster, its operator)",
                ),
            ),
        ),
        Risk(
            "Unauthorised access to per-person data.",
            (
                Measure(
                    "Analysts get a separate database with only the k-safe tables; per-person tables stay in the "
                    "pipeline's own file, for the privacy role.",
                    f"ALIGNMON_SNAPSHOT_PATH ({s.snapshot_path}) vs ALIGNMON_DUCKDB_PATH ({s.duckdb_path})",
                ),
                Measure(
                    "Only enrolled devices can send events (per-device tokens, stored hashed; rate limits).",
                    f"ALIGNMON_TOKEN_DB ({s.token_db}); `alignmon tokens issue`",
                ),
            ),
        ),
        Risk(
            "Data-subject rights (GDPR art. 15, 17) cannot be honoured.",
            (
                Measure(
                    "Access and erasure per person are commands of the privacy role, and each use is audited.",
                    "`alignmon privacy subject USER`, `alignmon privacy erase USER`",
                ),
            ),
        ),
    ]
