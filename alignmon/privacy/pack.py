"""The works-council pack: what the *running* configuration collects, for whom, how long, and why.

`build` reads everything from values it is given (settings, catalog, thresholds, the collectors the operator
declares, a clock), so the same configuration always gives the same pack; `alignmon.privacy.render` lays it out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from alignmon import __version__
from alignmon.analysts import ANALYSTS_OBJECTS
from alignmon.privacy import contract, dpia, flows, inventory
from alignmon.stack.stack import KAFKA_RETENTION_DAYS
from base.settings import EXAMPLE_CATALOG, Settings
from metrics import rulegen
from metrics.thresholds import Thresholds
from pipeline.catalog.catalog import Catalog
from pipeline.domain.rules import K_ANONYMITY, MONTH_DAYS

# The per-person tables of the pipeline's own file (docs/privacy.md, "Who sees what").
PERSONAL_TABLES = (
    ("events", "raw usage events, one row per span, with pseudonyms"),
    ("usage_user_daily", "per person, application and day: focus and background time, launches"),
    ("rejected_events", "events the pipeline refused, as they arrived (already pseudonymised)"),
)
# The example catalog of this checkout, wherever the command runs from.
CHECKOUT_EXAMPLE = Path(__file__).resolve().parents[2] / EXAMPLE_CATALOG
GRANULARITY_WORDS = {"exact": "to the second", "hour": "to the hour", "day": "to the day"}


class Setting(NamedTuple):
    variable: str
    value: str
    meaning: str


class Purpose(NamedTuple):
    """A catalog objective and the initiatives that pursue it: why usage is measured."""

    objective: str
    description: str
    initiatives: tuple[str, ...]


class Recipient(NamedTuple):
    role: str
    who: tuple[str, ...]
    channel: str
    sees: str
    never_sees: str
    alerts: tuple[str, ...] = ()


class Kept(NamedTuple):
    """How long one kind of data is kept, and what decides it."""

    data: str
    where: str
    kept: str
    decided_by: str
    personal: bool


class Pack(NamedTuple):
    generated: str
    version: str
    catalog_dir: str
    contact: str
    warnings: tuple[str, ...]
    settings: tuple[Setting, ...]
    fields: tuple[contract.ContractField, ...]
    closed: bool
    never: tuple[str, ...]
    collectors: tuple[inventory.Collector, ...]
    purposes: tuple[Purpose, ...]
    unassigned_investments: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    retention: tuple[Kept, ...]
    custody: tuple[str, ...]
    diagram: flows.Diagram
    rights: tuple[str, ...]
    risks: tuple[dpia.Risk, ...]
    notice: tuple[str, ...]


def warnings(s: Settings, catalog: Catalog, catalog_dir: Path) -> list[str]:
    """What a works council must not miss about this configuration, loudest first."""
    found = []
    if s.dev_mode:
        key = (
            "the configured ALIGNMON_PSEUDONYM_SECRET is used, but dev mode is for local trials only: unset it"
            if s.pseudonym_secret is not None
            else "pseudonyms use the BUILT-IN key published with alignmon's source code, so ANYONE can re-identify "
            "every person from them"
        )
        found.append(
            f"DEVELOPMENT MODE IS ON (ALIGNMON_DEV_MODE): {key}. Never run this configuration with real employees' "
            "data; do not approve a deployment configured like this."
        )
    elif s.pseudonym_secret is None:
        found.append(
            "ALIGNMON_PSEUDONYM_SECRET is not set: the gateway refuses to start until the key holder provides it."
        )
    if s.titles_enabled:
        found.append(
            "WINDOW TITLES ARE KEPT (ALIGNMON_TITLES_ENABLED): titles name documents, e-mail subjects and web pages, "
            "i.e. what people work on. Keep them off unless the works council agreed to them."
        )
    if s.time_granularity == "exact":
        found.append(
            "Start times are kept to the second (ALIGNMON_TIME_GRANULARITY=exact): per-person data shows when people "
            "work. Set it to `hour` or `day` to rule out working-time monitoring."
        )
    if s.k_anonymity < K_ANONYMITY:
        found.append(
            f"k = {s.k_anonymity} (ALIGNMON_K_ANONYMITY) is below {K_ANONYMITY}, the smallest group size tools "
            "commonly use (Microsoft's adoption reports use 10): small groups come close to individuals."
        )
    if catalog.settings.k is not None and catalog.settings.k != s.k_anonymity:
        found.append(
            f"The catalog's settings name k = {catalog.settings.k}, but the pipeline applies ALIGNMON_K_ANONYMITY = "
            f"{s.k_anonymity}: align them."
        )
    if s.daily_retention_days < MONTH_DAYS:
        found.append(
            f"ALIGNMON_DAILY_RETENTION_DAYS = {s.daily_retention_days} is below the {MONTH_DAYS}-day window every "
            "figure needs: the pipeline refuses to start."
        )
    if catalog_dir == EXAMPLE_CATALOG or catalog_dir.resolve() == CHECKOUT_EXAMPLE.resolve():
        found.append(
            f"The catalog is alignmon's example ({EXAMPLE_CATALOG}): the purposes below are examples, not yours. "
            "Set ALIGNMON_CATALOG_DIR (or --catalog) to the organisation's catalog."
        )
    return found


def settings_table(s: Settings, k: int) -> list[Setting]:
    """The settings this pack depends on, with their running values (the key's value is never shown)."""
    secret = "set (value not shown)" if s.pseudonym_secret is not None else "not set"
    on = {True: "on", False: "off"}
    return [
        Setting("ALIGNMON_K_ANONYMITY", str(k), "smallest group any figure may describe"),
        Setting("ALIGNMON_TIME_GRANULARITY", s.time_granularity, "precision of per-person start times"),
        Setting("ALIGNMON_TITLES_ENABLED", on[s.titles_enabled], "whether window titles are kept"),
        Setting("ALIGNMON_RAW_RETENTION_DAYS", str(s.raw_retention_days), "days per-person raw events are kept"),
        Setting("ALIGNMON_DAILY_RETENTION_DAYS", str(s.daily_retention_days), "days per-person daily totals are kept"),
        Setting("ALIGNMON_PSEUDONYM_SECRET", secret, "key of the user and device pseudonyms"),
        Setting("ALIGNMON_DEV_MODE", on[s.dev_mode], "built-in key allowed (local trials only)"),
        Setting(
            "ALIGNMON_DIRECTORY_CSV",
            str(s.directory_csv) if s.directory_csv else "not set",
            "directory that adds departments (gateway side)",
        ),
        Setting("ALIGNMON_TIMEZONE", s.timezone, "days are calendar days in this zone"),
        Setting("ALIGNMON_TOPIC", s.topic, "Kafka topic of the pseudonymised events"),
        Setting("ALIGNMON_DUCKDB_PATH", str(s.duckdb_path), "the pipeline's own file (per-person tables)"),
        Setting("ALIGNMON_SNAPSHOT_PATH", str(s.snapshot_path), "the analysts' database (k-safe tables only)"),
    ]


def purposes(catalog: Catalog) -> list[Purpose]:
    return [Purpose(o.name, o.description or "", tuple(i.name for i in o.initiatives)) for o in catalog.objectives]


def _alert(spec: rulegen.AlertSpec) -> str:
    when = f"{spec.threshold.severity}, after {spec.threshold.for_}"
    return f"{spec.title} ({spec.name}, {when})" if spec.title else f"{spec.name} ({when})"


def _owners(catalog: Catalog) -> list[str]:
    funded: dict[tuple[str, str], list[str]] = defaultdict(list)
    for placed in catalog.investments.values():
        inv = placed.investment
        funded[inv.owner.name, inv.owner.email].append(inv.label)
    return [f"{name} <{email}>: {', '.join(labels)}" for (name, email), labels in funded.items()]


def recipients(s: Settings, catalog: Catalog, t: Thresholds, k: int) -> list[Recipient]:
    """Who receives what, per role: owners their investments' alerts, IT operations the dashboards, analysts the
    k-safe tables, the privacy role the per-person tables."""
    itops_alerts = [*rulegen.governance_alerts(t), *rulegen.pipeline_alerts(t), *rulegen.gateway_alerts(t)]
    shadow = t.alerts.shadow_it
    mail = "alert e-mails" if s.smtp_smarthost else "alert e-mails once ALIGNMON_SMTP_SMARTHOST is set (unset now)"
    hook = f"the webhook {s.alert_webhook_url}" if s.alert_webhook_url else "no webhook"
    k_groups = f"groups of at least {k} people"
    return [
        Recipient(
            "Investment owners",
            tuple(_owners(catalog)),
            f"{mail}, to the owner's address in the catalog; {hook}",
            f"figures per investment they own (adoption against plan, forecast, seats, cost); departments only as "
            f"{k_groups}",
            f"any person; any group under {k}",
            tuple(_alert(a) for a in rulegen.adoption_alerts(t)),
        ),
        Recipient(
            "IT operations",
            (s.itops_email or "no address set (ALIGNMON_ITOPS_EMAIL)",),
            f"Grafana ({s.grafana_url}) and Prometheus dashboards; {mail}; {hook}",
            f"figures per investment, initiative, objective and application; departments as {k_groups}; "
            f"shadow-IT applications once {max(shadow.min_active_users, k)} or more people use them",
            "users, devices, titles: metric labels never carry them",
            tuple(_alert(a) for a in itops_alerts),
        ),
        Recipient(
            "Analysts",
            (),
            f"the analysts' database ({s.snapshot_path}), `alignmon sql`, `alignmon export`",
            "the tables " + ", ".join(ANALYSTS_OBJECTS) + f": per investment, initiative, objective or application, "
            f"or per department as {k_groups}",
            "per-person rows, pseudonyms, the directory",
        ),
        Recipient(
            "Steering committee",
            (s.report_url or "the report's readers (ALIGNMON_REPORT_URL not set)",),
            "the steering report (`alignmon report`)",
            f"portfolio, objective and investment figures; departments as {k_groups}",
            "any person",
        ),
        Recipient(
            "Privacy role",
            (),
            f"the pipeline's own file ({s.duckdb_path}), read-only",
            "the per-person tables " + ", ".join(name for name, _ in PERSONAL_TABLES) + " (pseudonyms)",
            "names: only whoever also holds the key and the directory could re-identify, which is why they stay "
            "with the key holder",
        ),
        Recipient(
            "Key holder (gateway operator)",
            (),
            "the gateway host: ALIGNMON_PSEUDONYM_SECRET and the directory of real names",
            "events in transit (names and host names until the gateway replaces them); nothing is stored there "
            "beyond the spool used while Kafka is away",
            "the stored telemetry",
        ),
    ]


def retention(s: Settings, k: int) -> list[Kept]:
    return [
        Kept(
            "Events waiting on a device",
            "the agent's spool on the endpoint",
            "until the gateway acknowledges them",
            "delivery",
            personal=True,
        ),
        Kept(
            "Events waiting on the gateway",
            f"gateway spool ({s.spool_dir})",
            "until Kafka accepts them",
            "delivery",
            personal=True,
        ),
        Kept(
            "Pseudonymised events in the queue",
            f"Kafka topic {s.topic}",
            f"{min(s.raw_retention_days, KAFKA_RETENTION_DAYS)} days",
            "the topic's retention.ms: the local stack sets it to the raw retention, at most Kafka's default week; "
            "set the same on a cluster you run yourself",
            personal=True,
        ),
        Kept(
            "Per-person raw events",
            "pipeline file, table events",
            f"{s.raw_retention_days} days",
            "ALIGNMON_RAW_RETENTION_DAYS",
            personal=True,
        ),
        Kept(
            "Per-person daily totals",
            "pipeline file, table usage_user_daily",
            f"{s.daily_retention_days} days",
            "ALIGNMON_DAILY_RETENTION_DAYS",
            personal=True,
        ),
        Kept(
            "Duplicate check (hashes of device pseudonym and event id)",
            "pipeline file, table event_keys",
            f"{s.dedup_horizon_days} days",
            "ALIGNMON_DEDUP_HORIZON_DAYS",
            personal=False,
        ),
        Kept(
            f"Figures about groups of at least {k} people",
            "pipeline file, analysts' database, Prometheus",
            "for the long-term trends",
            "not personal data: no person can be singled out",
            personal=False,
        ),
    ]


def custody(s: Settings) -> list[str]:
    """How pseudonyms are made and who holds what it takes to reverse them."""
    if s.pseudonym_secret is not None:
        key = "ALIGNMON_PSEUDONYM_SECRET is set (its value is not part of this pack)."
    elif s.dev_mode:
        key = "NO KEY IS SET: dev mode makes the gateway use the built-in, PUBLIC development key."
    else:
        key = "ALIGNMON_PSEUDONYM_SECRET is not set yet: the gateway will not start without it."
    return [
        "User names become `u_` plus 32 hexadecimal characters of HMAC-SHA256(key, name in lower case); host names "
        "become `d_` pseudonyms with the same key in a separate domain, so a device never looks like a user.",
        key,
        "The key is held by the key holder only (an appointed person in IT operations or the privacy role, named in "
        "the agreement), on the gateway host; it is never given to the pipeline, the analysts or IT operations' "
        "dashboards. Keep it stable: a new key starts new pseudonyms for everybody.",
        "The directory of real names and departments is used on the gateway side only; the pipeline reads a copy "
        "whose users are pseudonyms (`alignmon directory pseudonymise`, run where the key is) and refuses a real "
        "name.",
        "Pseudonymised data is still personal data (GDPR recital 26): whoever holds the key and the directory can "
        "re-identify a person, which is how the rights procedure below finds a person's rows.",
    ]


def diagram(s: Settings, k: int) -> flows.Diagram:
    """The data flows of this configuration."""
    titles = "KEEPS window titles" if s.titles_enabled else "drops window titles"
    when = f"start times {GRANULARITY_WORDS[s.time_granularity]}"
    key = "BUILT-IN PUBLIC KEY (dev mode)" if s.dev_mode and s.pseudonym_secret is None else "key holder only"
    nodes = [
        flows.Node("key", 1, 0, "Key + directory", ("pseudonym key, real names", key), alert=s.dev_mode),
        flows.Node("endpoint", 0, 1, "Endpoints", ("agent or importers", "user, host, app, times")),
        flows.Node(
            "gateway",
            1,
            1,
            "Gateway",
            ("pseudonymises user, device", titles, when),
            alert=s.titles_enabled or s.time_granularity == "exact",
        ),
        flows.Node("kafka", 2, 1, "Kafka topic", (s.topic, "pseudonymous events")),
        flows.Node(
            "pipeline",
            3,
            1,
            "Pipeline database",
            (
                "per person (pseudonyms)",
                f"raw {s.raw_retention_days} d, daily {s.daily_retention_days} d",
                "privacy role",
            ),
        ),
        flows.Node("report", 1, 2, "Steering report", (f"groups of {k}+ only", "steering committee")),
        flows.Node("prometheus", 2, 2, "Prometheus + Grafana", ("no person labels", "IT operations")),
        flows.Node("snapshot", 3, 2, "Analysts' database", (f"k-safe tables (k = {k})", "analysts")),
        flows.Node("alerts", 2, 3, "Alert e-mails", ("per investment", "owners; IT operations")),
    ]
    raw = (
        "user name, host name, application, start, duration; a window title only from a collector started with --titles"
    )
    edges = [
        flows.Flow("endpoint", "gateway", f"Raw events ({raw}) over HTTP(S) with the device's token."),
        flows.Flow(
            "key", "gateway", "The key and the directory stay with the gateway: names are replaced there.", True
        ),
        flows.Flow(
            "gateway",
            "kafka",
            f"Pseudonymised events: no names or host names, {'WITH' if s.titles_enabled else 'no'} window titles, "
            f"{when}, home folders taken out of paths.",
        ),
        flows.Flow("kafka", "pipeline", "The pipeline stores them per pseudonym and computes daily figures."),
        flows.Flow("pipeline", "report", f"The steering report: figures per objective and investment (groups ≥ {k})."),
        flows.Flow("pipeline", "prometheus", "Metrics per investment and application; no user or device label."),
        flows.Flow("pipeline", "snapshot", f"The analysts' views: per investment or department (≥ {k} people)."),
        flows.Flow("prometheus", "alerts", "Per-investment alerts to owners, health alerts to IT operations."),
    ]
    return flows.layout(nodes, edges)


def rights(contact: str) -> list[str]:
    """The data-subject rights procedure, step by step."""
    return [
        f"A person asks {contact} for access to or erasure of their data (GDPR art. 15, 17), or objects (art. 21).",
        "The privacy role checks the person's identity; the key holder runs the command (the user name is "
        "pseudonymised with the key, so the command needs the key).",
        "Access: `alignmon privacy subject USER` prints every row the pipeline stores about that person (raw "
        "events, daily rollups, rejected records, their directory row), as JSON, for the answer to the person.",
        "Erasure: `alignmon privacy erase USER` deletes their telemetry in one transaction and recomputes the "
        "affected days; copies still in Kafka expire with the topic's retention, and the command says by when.",
        "Both commands write an audit record (who, when, what) to the privacy_audit table, which nothing updates or "
        "deletes; both work while the pipeline runs.",
        "The answer goes to the person within one month (GDPR art. 12(3)).",
    ]


def notice(s: Settings, k: int, contact: str) -> list[str]:
    """The employee notice in plain language, with this configuration's values; the templates add the goals (the
    catalog's objectives) after the first paragraph, escaped as catalog text must be."""
    titles = (
        "It also records the titles of your windows, which can show what you work on."
        if s.titles_enabled
        else "It does not record window titles, what you type, web addresses, screenshots or the contents of your "
        "files and messages."
    )
    when = {
        "exact": "The times are recorded to the second.",
        "hour": "Times are rounded down to the hour, so your working hours cannot be read from them.",
        "day": "Only the day is recorded, not the time, so your working hours cannot be read from it.",
    }[s.time_granularity]
    dev = " (NOTE: this configuration is a trial in development mode, not for real use)" if s.dev_mode else ""
    return [
        "Our organisation measures whether the software it pays for is actually used, to decide where to invest, "
        "train or cancel licences.",
        f"For that, alignmon records which programs run on your work computer and for how long. {titles} {when}",
        "Your name and your computer's name are replaced by a code before anything is stored"
        f"{dev}. Nobody who works with the figures can see who you are.",
        f"Nobody sees figures about you personally: reports, dashboards and alerts only show groups of at least {k} "
        "people, and your manager cannot look you up. The figures are not used to judge your performance.",
        f"Detailed records are deleted after {s.raw_retention_days} days, daily totals after "
        f"{s.daily_retention_days} days. Figures about groups are kept longer.",
        f"You may ask to see your data, or to have it deleted, by contacting {contact}. You may also contact the "
        "works council or the data protection authority.",
    ]


def build(
    s: Settings,
    catalog: Catalog,
    thresholds: Thresholds,
    *,
    now: datetime,
    catalog_dir: Path | None = None,
    declared: frozenset[str] = frozenset(),
    contact: str = "the data protection officer",
) -> Pack:
    """The pack of this configuration, as of `now`; `catalog_dir` is where `catalog` was read (default: the
    setting), `declared` the collectors the operator says are deployed."""
    catalog_dir = s.catalog_dir if catalog_dir is None else catalog_dir
    k = s.k_anonymity
    directory = s.directory_csv is not None
    return Pack(
        generated=now.isoformat(timespec="seconds"),
        version=__version__,
        catalog_dir=str(catalog_dir),
        contact=contact,
        warnings=tuple(warnings(s, catalog, catalog_dir)),
        settings=tuple(settings_table(s, k)),
        fields=tuple(
            contract.fields(titles_enabled=s.titles_enabled, granularity=s.time_granularity, directory=directory)
        ),
        closed=contract.closed(),
        never=tuple(contract.never_held()),
        collectors=tuple(inventory.collectors(declared)),
        purposes=tuple(purposes(catalog)),
        unassigned_investments=tuple(i.label for i in catalog.orphan_investments),
        recipients=tuple(recipients(s, catalog, thresholds, k)),
        retention=tuple(retention(s, k)),
        custody=tuple(custody(s)),
        diagram=diagram(s, k),
        rights=tuple(rights(contact)),
        risks=tuple(dpia.risks(s, k=k)),
        notice=tuple(notice(s, k, contact)),
    )
