"""The shipped Alertmanager configuration: rendering, amtool checks, routes, and real delivery."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from alignmon.stack.process import free_port
from metrics import routing
from metrics.inbox import AlertInbox
from tests.metrics.test_mails import EXAMPLES, LINKS
from tests.support.wait import wait_until

AMTOOL = "/usr/bin/amtool"
ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent

ADOPTION = {
    "alertname": "AdoptionLow",
    "severity": "warning",
    "audience": "owner",
    "investment": "crm",
    "initiative": "sales-excellence",
    "objective": "grow-revenue",
    "name": "CRM Suite",
    "owner": "Ada Lovelace",
    "owner_email": "ada@example.org",
    "currency": "EUR",
}
PIPELINE = {"alertname": "PipelineStalled", "severity": "critical", "team": "itops", "job": "alignmon-pipeline"}
SHADOW = {
    "alertname": "ShadowITSpreading",
    "severity": "info",
    "team": "itops",
    "audience": "governance",
    "application": "notion",
}


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert Path(AMTOOL).exists(), "amtool missing: install the Debian package `prometheus-alertmanager`"
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


def _routes_to(config: Path, receiver: str, labels: dict[str, str]) -> bool:
    result = _amtool(
        "config",
        "routes",
        "test",
        f"--config.file={config}",
        f"--verify.receivers={receiver}",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    return result.returncode == 0


# --- rendering ----------------------------------------------------------------------------------


def test_shipped_file_is_the_rendering_with_the_documented_defaults() -> None:
    assert routing.ALERTMANAGER_YML.read_text() == routing.alertmanager_config(
        "localhost:25",
        "alignmon@example.org",
        "http://alert-webhook.example.org/alignmon",
        "itops@example.org",
        rendered_by=routing.SHIPPED_BY,
        note=routing.SHIPPED_NOTE,
    )
    assert routing.main(["--check"]) == 0


def _header(text: str) -> str:
    return "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))


def test_each_rendering_says_who_rendered_it_and_names_its_receivers(alignmon: Any, tmp_path: Path) -> None:
    """The placeholder note is the shipped file's alone; a site's file and the local stack's name their receivers."""
    shipped = _header(routing.ALERTMANAGER_YML.read_text())
    assert "# Alertmanager configuration for alignmon, rendered by `python -m metrics.routing`.\n" in shipped
    assert "This shipped copy uses placeholders" in shipped
    assert "# - itops: e-mail to itops@example.org, webhook http://alert-webhook.example.org/alignmon\n" in shipped

    password = tmp_path / "smtp-password"
    password.write_text("s3cret\n")
    out = tmp_path / "alertmanager.yml"
    args = ["alerts", "routing", "--smtp-smarthost", "relay.corp.example:587", "--smtp-from", "am@corp.example",
            "--smtp-username", "alignmon", "--smtp-password-file", str(password), "--itops-email",
            "itops@corp.example", "--runbook-url", "https://wiki.corp.example/runbooks.md",
            "--output", str(out)]  # fmt: skip
    assert alignmon.run(args, {}).returncode == 0
    site = _header(out.read_text())
    assert "# Alertmanager configuration for alignmon, rendered by `alignmon alerts routing`.\n" in site
    assert "placeholder" not in site and "python -m metrics.routing" not in site and "example.org" not in site
    assert "# - investment-owner: e-mail to each alert's owner_email\n" in site
    assert "# - itops: e-mail to itops@corp.example\n" in site
    assert (
        "# Mail: through relay.corp.example:587 from am@corp.example, STARTTLS required, SMTP login alignmon, "
        f"password read from {password}.\n" in site
    )
    assert "s3cret" not in out.read_text()

    from alignmon.stack.stack import StackConfig
    from base.settings import Settings

    local = _header(StackConfig.from_settings(Settings(state_dir=tmp_path)).alertmanager_yaml)
    assert "rendered by the local stack, from the ALIGNMON_* settings.\n" in local
    assert "placeholder" not in local
    assert "# - investment-owner: webhook http://127.0.0.1:19095/alerts\n" in local
    assert "# Mail: no mail relay, so no e-mail.\n" in local


def test_check_flags_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "alertmanager.yml"
    stale.write_text("route: {receiver: x}\n")
    assert routing.main(["--output", str(stale), "--check"]) == 1


def test_rendering_puts_each_value_where_it_belongs() -> None:
    text = routing.alertmanager_config(
        "smtp.test:2525",
        "alignmon@test.example",
        "http://hooks.test/a?b=c#d: e",
        "ops@test.example",
        group_wait="1s",
        group_interval="2s",
        smtp_require_tls=True,
    )
    config = yaml.safe_load(text)
    assert config["global"]["smtp_smarthost"] == "smtp.test:2525"
    assert config["global"]["smtp_from"] == "alignmon@test.example"
    assert config["global"]["smtp_require_tls"] is True
    assert config["route"]["group_wait"] == "1s"
    assert config["route"]["group_interval"] == "2s"
    assert "initiative" in config["route"]["group_by"]
    receivers = {r["name"]: r for r in config["receivers"]}
    owner, itops = receivers["investment-owner"], receivers["itops"]
    assert owner["email_configs"][0]["to"] == "{{ .CommonLabels.owner_email }}"
    assert owner["webhook_configs"][0]["url"] == "http://hooks.test/a?b=c#d: e"
    assert itops["email_configs"][0]["to"] == "ops@test.example"
    assert itops["webhook_configs"][0]["url"] == "http://hooks.test/a?b=c#d: e"
    owner_route = config["route"]["routes"][0]
    assert owner_route["receiver"] == "investment-owner"
    assert "owner_email" in owner_route["group_by"] and "initiative" in owner_route["group_by"]
    assert config["inhibit_rules"] == [
        {
            "source_matchers": ['alertname=~"ExporterDown|PipelineStalled"'],
            "target_matchers": ['audience=~"owner|governance"'],
        },
        # One problem, one mail: no forecast mail while the investment's AdoptionLow fires.
        {
            "source_matchers": ['alertname="AdoptionLow"'],
            "target_matchers": ['alertname="AdoptionForecastMissesTarget"'],
            "equal": ["investment"],
        },
    ]


def test_smtp_authentication_reads_the_password_from_a_file_and_the_webhook_is_optional() -> None:
    text = routing.alertmanager_config(
        "smtp.test:587", "a@test", None, "ops@test", smtp_username="alignmon", smtp_password_file="/run/secrets/smtp"
    )
    config = yaml.safe_load(text)
    assert config["global"]["smtp_auth_username"] == "alignmon"
    assert config["global"]["smtp_auth_password_file"] == "/run/secrets/smtp"
    assert "smtp_auth_password" not in config["global"]
    assert all("webhook_configs" not in r and r["email_configs"] for r in config["receivers"])
    # Without a relay there is no mail at all, and nothing asks for one.
    webhook_only = yaml.safe_load(routing.alertmanager_config(None, "a@test", "http://hook.test/x", None))
    assert not any(k.startswith("smtp_") for k in webhook_only["global"])
    assert all("email_configs" not in r and r["webhook_configs"] for r in webhook_only["receivers"])


def test_the_local_stack_renders_the_routing_from_settings(tmp_path: Path) -> None:
    from alignmon.stack.stack import StackConfig
    from base.settings import Settings

    secret = tmp_path / "smtp-password"
    settings = Settings(
        state_dir=tmp_path,
        smtp_smarthost="mail.example.org:587",
        smtp_from="alignmon@example.org",
        smtp_username="alignmon",
        smtp_password_file=secret,
        itops_email="ops@example.org",
        alert_webhook_url="",
        grafana_url="https://grafana.example.org/",
        report_url="https://reports.example.org/latest.html",
        runbook_url="https://wiki.example.org/alignmon/runbooks",
        alertmanager_external_url="https://alerts.example.org",
    )
    config = StackConfig.from_settings(settings)
    am = yaml.safe_load(config.alertmanager_yaml)
    assert am["global"]["smtp_auth_password_file"] == str(secret.resolve())
    assert am["global"]["smtp_require_tls"] is True
    owner = am["receivers"][0]
    assert "webhook_configs" not in owner
    text = owner["email_configs"][0]["text"]
    assert "https://grafana.example.org/d/alignmon-investment?var-investment=" in text
    assert "Report:     https://reports.example.org/latest.html" in text
    assert "https://wiki.example.org/alignmon/runbooks#{{ .Labels.alertname | toLower }}" in text
    assert config.alertmanager_external_url == "https://alerts.example.org"
    # Unset, the runbooks are the ones this checkout ships.
    shipped = StackConfig.from_settings(Settings(state_dir=tmp_path, smtp_smarthost="mail.example.org:25"))
    assert (ROOT / "docs" / "runbooks.md").as_uri() + "#" in shipped.alertmanager_yaml
    # No relay configured: webhook only, as the demo runs.
    assert "smtp_smarthost" not in StackConfig.from_settings(Settings(state_dir=tmp_path)).alertmanager_yaml


# --- amtool -------------------------------------------------------------------------------------


def test_amtool_accepts_the_shipped_config() -> None:
    result = _amtool("check-config", str(routing.ALERTMANAGER_YML))
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_accepts_a_test_rendering(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(
        routing.alertmanager_config("127.0.0.1:2525", "a@test", "http://127.0.0.1:9/x", "ops@test", "1s", "1s")
    )
    result = _amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (ADOPTION, "investment-owner"),
        ({**ADOPTION, "alertname": "LicenceWasteBeforeRenewal"}, "investment-owner"),
        (PIPELINE, "itops"),
        ({**PIPELINE, "alertname": "ExporterDown", "reason": "scrape failed"}, "itops"),
        (SHADOW, "itops"),
        # An adoption alert whose investment has no owner e-mail still reaches somebody.
        ({k: v for k, v in ADOPTION.items() if k != "owner_email"}, "itops"),
    ],
    ids=["adoption", "waste", "pipeline", "exporter", "shadow-it", "adoption-without-email"],
)
def test_routes(labels: dict[str, str], receiver: str) -> None:
    assert _routes_to(routing.ALERTMANAGER_YML, receiver, labels)


def test_route_verification_can_fail() -> None:
    assert not _routes_to(routing.ALERTMANAGER_YML, "itops", ADOPTION)
    assert not _routes_to(routing.ALERTMANAGER_YML, "investment-owner", PIPELINE)


# --- a real Alertmanager, SMTP sink and webhook --------------------------------------------------


@dataclass
class Sinks:
    """Everything Alertmanager delivered: e-mails by recipient, webhook notifications, SMTP logins."""

    mails: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def mail_to(self, address: str) -> list[EmailMessage]:
        return [m for to, m in self.mails if address in to]


class _SmtpHandler:
    def __init__(self, sinks: Sinks) -> None:
        self.sinks = sinks

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.sinks.mails.append((list(envelope.rcpt_tos), message))
        return "250 OK"


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


SMTP_USER, SMTP_PASSWORD = "alignmon", "s3cret-from-a-file"
EXTERNAL_URL = "http://alertmanager.example.org:9093"  # as tests/metrics/test_mails.py renders the golden mails


def _smtp(sinks: Sinks, *, auth: bool) -> Any:
    """A real SMTP server (aiosmtpd) on a free port; with `auth`, it refuses mail without the right login."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login = (data.login.decode(), data.password.decode())
        sinks.logins.append(login)
        return AuthResult(success=login == (SMTP_USER, SMTP_PASSWORD))

    # PLAIN only: Alertmanager 0.25's LOGIN expects the challenge "Username:", aiosmtpd's says "User Name".
    # Without TLS, Go's PLAIN sends credentials to a loopback relay only (so this test is on 127.0.0.1).
    options: dict[str, Any] = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    options = {**options, "auth_exclude_mechanism": ["LOGIN"]} if auth else {}
    smtp = Controller(_SmtpHandler(sinks), hostname="127.0.0.1", port=free_port(), **options)
    smtp.start()
    return smtp


@contextmanager
def _alertmanager(tmp_path: Path, config: str) -> Iterator[str]:
    """The Debian package's Alertmanager, started as alignmon's local stack starts it, on a free port."""
    from alignmon.stack.alertmanager import alertmanager_service

    port = free_port()
    service = alertmanager_service(tmp_path / "state", port, config, str(tmp_path), external_url=EXTERNAL_URL)
    service.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, Sinks]]:
    """Alertmanager configured by alertmanager_config() to mail an SMTP sink and call a webhook."""
    hook = AlertInbox()
    sinks = Sinks(hooks=hook.notifications)
    smtp = _smtp(sinks, auth=False)
    config = routing.alertmanager_config(
        f"127.0.0.1:{smtp.port}",
        "alignmon@test.example",
        hook.url,
        "itops@test.example",
        group_wait="1s",
        group_interval="1s",
        links=LINKS,
    )
    try:
        with _alertmanager(tmp_path, config) as url:
            yield url, sinks
    finally:
        smtp.stop()
        hook.close()


@pytest.fixture
def mail_only_alertmanager(tmp_path: Path) -> Iterator[tuple[str, Sinks]]:
    """Alertmanager with SMTP authentication (password read from a file) and no webhook at all."""
    sinks = Sinks()
    smtp = _smtp(sinks, auth=True)
    password = tmp_path / "smtp-password"
    password.write_text(SMTP_PASSWORD)
    config = routing.alertmanager_config(
        f"127.0.0.1:{smtp.port}",
        "alignmon@test.example",
        None,
        "itops@test.example",
        group_wait="1s",
        group_interval="1s",
        smtp_username=SMTP_USER,
        smtp_password_file=password,
        links=LINKS,
    )
    assert SMTP_PASSWORD not in config
    try:
        with _alertmanager(tmp_path, config) as url:
            yield url, sinks
    finally:
        smtp.stop()


def _post(url: str, labels: dict[str, str], annotations: dict[str, str]) -> None:
    response = httpx.post(f"{url}/api/v2/alerts", json=[{"labels": labels, "annotations": annotations}], timeout=5)
    response.raise_for_status()


def _alertnames(hooks: list[dict[str, Any]]) -> set[str]:
    return {h["commonLabels"].get("alertname") for h in hooks}


def _state(url: str, investment: str, alertname: str | None = None) -> dict[str, Any]:
    query = [f'investment="{investment}"', *([f'alertname="{alertname}"'] if alertname else [])]
    alerts = httpx.get(f"{url}/api/v2/alerts", params={"filter": query}, timeout=5).json()
    assert len(alerts) == 1
    return dict(alerts[0]["status"])


LOW_SUMMARY = "CRM Suite at 20 % against 50 % planned"
LOW_ANNOTATIONS = {
    "title": "Adoption below plan",
    "summary": LOW_SUMMARY,
    "description": "Today adoption is 20 % of the target population against 50 % planned.",
    "status": "low: adoption below plan beyond the tolerance on each recent day with data",
}


@pytest.mark.integration
def test_owner_gets_mail_and_webhook_itops_gets_pipeline_alerts(alertmanager: tuple[str, Sinks]) -> None:
    url, sinks = alertmanager
    _post(url, ADOPTION, LOW_ANNOTATIONS)
    _post(url, {**PIPELINE, "alertname": "ConsumerLagHigh"}, {"summary": "55000 records behind", "description": "d"})

    [mail] = wait_until(lambda: sinks.mail_to("ada@example.org"), 30, "the owner's e-mail")
    assert mail["Subject"] == f"[alignmon] Adoption below plan: {LOW_SUMMARY}"
    body = _body(mail)
    assert "Hello Ada Lovelace," in body
    assert f"== Adoption below plan: {LOW_SUMMARY}\n\nInvestment: CRM Suite\n" in body
    assert (
        f"\n{LOW_ANNOTATIONS['description']}\n\nDrill-down: {LINKS.grafana}/d/alignmon-investment?var-investment=crm\n"
        in body
    )
    [ops] = wait_until(lambda: sinks.mail_to("itops@test.example"), 30, "the IT operations e-mail")
    assert ops["Subject"] == "[alignmon] ConsumerLagHigh: 55000 records behind"
    assert f"Runbook: {LINKS.runbook}#consumerlaghigh" in _body(ops)
    assert sinks.mail_to("ada@example.org") == [mail]  # pipeline alerts never reach the owner

    hooks = wait_until(lambda: len(sinks.hooks) >= 2 and sinks.hooks, 30, "two webhook notifications")
    by_receiver = {h["receiver"]: h for h in hooks}
    assert set(by_receiver) == {"investment-owner", "itops"}
    assert by_receiver["investment-owner"]["commonLabels"]["owner_email"] == "ada@example.org"
    assert by_receiver["itops"]["commonLabels"]["alertname"] == "ConsumerLagHigh"


@pytest.mark.integration
def test_owner_alerts_are_inhibited_while_the_pipeline_is_stalled(alertmanager: tuple[str, Sinks]) -> None:
    url, sinks = alertmanager
    _post(url, PIPELINE, {"summary": "alignmon pipeline has not committed for 25m 0s", "description": "d"})
    wait_until(lambda: sinks.mail_to("itops@test.example"), 30, "the PipelineStalled e-mail")
    grace = {**ADOPTION, "investment": "wiki", "owner": "Grace Hopper", "owner_email": "grace@example.org"}
    _post(url, grace, {**LOW_ANNOTATIONS, "summary": "Team Wiki at 10 % against 50 % planned"})
    _post(url, SHADOW, {"summary": "Shadow IT: notion has 40 active users", "description": "d"})

    status = wait_until(lambda: _state(url, "wiki"), 10, "the inhibited alert")
    assert status["state"] == "suppressed"
    assert status["inhibitedBy"]
    # A control alert that nothing inhibits, posted after the inhibited ones: its group is flushed after
    # theirs (same group_wait), so once its notifications are in, theirs would be too had they been sent.
    _post(url, {**PIPELINE, "alertname": "ConsumerLagHigh"}, {"summary": "control: 55000 records behind"})
    wait_until(
        lambda: [m for m in sinks.mail_to("itops@test.example") if "ConsumerLagHigh" in m["Subject"]],
        30,
        "the control alert's e-mail",
    )
    wait_until(lambda: _alertnames(sinks.hooks) >= {"ConsumerLagHigh"}, 30, "the control alert's webhook call")
    assert sinks.mail_to("grace@example.org") == []
    assert _alertnames(sinks.hooks) == {"PipelineStalled", "ConsumerLagHigh"}


@pytest.mark.integration
def test_one_mail_per_owner_initiative_and_alert_lists_every_investment(alertmanager: tuple[str, Sinks]) -> None:
    url, sinks = alertmanager
    waste = {**ADOPTION, "alertname": "LicenceWasteBeforeRenewal", "initiative_name": "Sales excellence"}
    addon = {**waste, "investment": "crm-addon", "name": "CRM Add-on"}
    title = "Unused seats before the licence renewal"
    alerts = [
        {
            "labels": waste,
            "annotations": {
                "title": title,
                "summary": "CRM Suite: EUR 12,000 a year on unused seats",
                "description": "a",
            },
        },
        {
            "labels": addon,
            "annotations": {
                "title": title,
                "summary": "CRM Add-on: EUR 3,000 a year on unused seats",
                "description": "b",
            },
        },
    ]
    httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()

    [mail] = wait_until(lambda: sinks.mail_to("ada@example.org"), 30, "the owner's e-mail")
    assert mail["Subject"] == f"[alignmon] {title}: 2 investments of Sales excellence"
    body = _body(mail)
    assert f"== {title}: CRM Suite: EUR 12,000 a year on unused seats\n\nInvestment: CRM Suite\n" in body
    assert f"== {title}: CRM Add-on: EUR 3,000 a year on unused seats\n\nInvestment: CRM Add-on\n" in body
    assert "var-investment=crm\n" in body and "var-investment=crm-addon\n" in body


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_low_investment_owner_gets_one_mail_by_authenticated_smtp_without_a_webhook(
    mail_only_alertmanager: tuple[str, Sinks],
) -> None:
    """AdoptionLow and AdoptionForecastMissesTarget both fire for the ERP (as promtool shows): one mail arrives."""
    url, sinks = mail_only_alertmanager
    low, forecast = EXAMPLES["AdoptionLow"], _erp_forecast()
    control = EXAMPLES["AdoptionForecastMissesTarget"]  # another investment's forecast: nothing inhibits it
    alerts = [{"labels": a["labels"], "annotations": a["annotations"]} for a in (low, forecast, control)]
    httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()

    owner = low["labels"]["owner_email"]
    [mail] = wait_until(lambda: sinks.mail_to(owner), 30, "the ERP owner's e-mail")
    wait_until(lambda: sinks.mail_to(control["labels"]["owner_email"]), 30, "the control forecast's e-mail")
    assert _state(url, "inv-erp-s4", "AdoptionForecastMissesTarget")["state"] == "suppressed"
    assert sinks.mail_to(owner) == [mail]  # one problem, one mail
    assert set(sinks.logins) == {(SMTP_USER, SMTP_PASSWORD)}

    # The delivered mail is the golden one (tests/metrics/test_mails.py renders it with amtool), and says:
    assert mail["To"] == owner and mail["From"] == "alignmon@test.example"
    assert mail["Subject"] == (
        "[alignmon] Adoption below plan: SAP S/4HANA finance and expenses at 29 % against 80 % planned"
    )
    body = _body(mail)
    assert f"Subject: {mail['Subject']}\n\n{body}" == (HERE / "mails" / "AdoptionLow.txt").read_text()
    for expected in (
        "Hello Pieter de Vries,",
        "Investment: SAP S/4HANA finance and expenses\n",
        "Initiative: Modern finance processes\n",
        "Objective:  Lower the cost of running the company\n",
        "Status:     low: adoption below plan beyond the tolerance on each recent day with data\n",
        "29 % of the target population against 80 % planned: 51 percentage points behind plan",
        "Target departments below plan: Sales 25 %, Finance 47 %.",
        "Annual cost EUR 150,000; spend on unused seats EUR 106,000 a year.",
        f"Drill-down: {LINKS.grafana}/d/alignmon-investment?var-investment=inv-erp-s4\n",
        f"Report:     {LINKS.report}\n",
        f"Runbook:    {LINKS.runbook}#adoptionlow\n",
        f"-- alignmon, via Alertmanager {EXTERNAL_URL}",
    ):
        assert expected in body, expected
    assert "low_days" not in body and "act before" not in body


def _erp_forecast() -> dict[str, Any]:
    """The ERP's own AdoptionForecastMissesTarget, as the promtool test expects it to fire."""
    for path in sorted((HERE / "promtool").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                for alert in case.get("exp_alerts") or []:
                    labels = alert["exp_labels"]
                    if case["alertname"] == "AdoptionForecastMissesTarget" and labels["investment"] == "inv-erp-s4":
                        return {
                            "labels": {"alertname": case["alertname"], **labels},
                            "annotations": alert["exp_annotations"],
                        }
    raise AssertionError("no ERP forecast alert in the promtool tests")


def test_alerts_routing_command_writes_a_config_amtool_accepts(tmp_path: Path) -> None:
    from alignmon.cli import main

    out = tmp_path / "am.yml"
    assert (
        main(
            [
                "alerts",
                "routing",
                "--smtp-smarthost",
                "mail.example.org:587",
                "--smtp-from",
                "a@example.org",
                "--webhook-url",
                "http://hooks.example.org/x",
                "--itops-email",
                "ops@example.org",
                "--smtp-require-tls",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "mail.example.org:587" in text and "ops@example.org" in text and "smtp_require_tls: true" in text
    amtool = shutil.which("amtool")
    assert amtool, "amtool missing: install the Debian package prometheus-alertmanager"
    result = subprocess.run([amtool, "check-config", str(out)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_rules_command_checks_the_committed_rules() -> None:
    from alignmon.cli import main

    assert main(["alerts", "rules", "--check"]) == 0


def test_alerts_rules_and_routing_create_the_folder_they_write_into(alignmon: Any, tmp_path: Path) -> None:
    """A new monitoring host has no /etc/prometheus/rules yet (docs/deploy.md, step 7): both commands make it."""
    rules = tmp_path / "prometheus" / "rules" / "alignmon.yml"
    result = alignmon.run(["alerts", "rules", "--output", str(rules)], {})
    assert result.returncode == 0, result.stderr
    assert rules.read_text() == (ROOT / "metrics" / "rules" / "alignmon.yml").read_text()
    config = tmp_path / "alertmanager" / "alertmanager.yml"
    webhook = ["--webhook-url", "http://127.0.0.1:9/alerts"]
    result = alignmon.run(["alerts", "routing", *webhook, "--output", str(config)], {})
    assert result.returncode == 0, result.stderr
    assert _amtool("check-config", str(config)).returncode == 0


def test_alerts_routing_writes_a_sites_configuration_from_flags_and_settings(alignmon: Any, tmp_path: Path) -> None:
    """`alignmon alerts routing`: authenticated SMTP, links, no demo webhook unless asked; no delivery is refused."""
    out = tmp_path / "alertmanager.yml"
    env = {"ALIGNMON_GRAFANA_URL": "https://grafana.corp.example", "ALIGNMON_SMTP_FROM": "alignmon@corp.example"}
    password = tmp_path / "smtp-password"
    password.write_text("s3cret\n")
    args = ["alerts", "routing", "--smtp-smarthost", "relay.corp.example:587", "--smtp-username", "alignmon",
            "--smtp-password-file", str(password), "--itops-email", "itops@corp.example",
            "--runbook-url", "https://wiki.corp.example/runbooks.md", "--output", str(out)]  # fmt: skip
    result = alignmon.run(args, env)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr  # the runbook URL is given
    assert _amtool("check-config", str(out)).returncode == 0
    config = yaml.safe_load(out.read_text())
    assert config["global"]["smtp_smarthost"] == "relay.corp.example:587"
    assert config["global"]["smtp_from"] == "alignmon@corp.example"  # from the setting
    assert config["global"]["smtp_auth_username"] == "alignmon"
    assert config["global"]["smtp_auth_password_file"] == str(password)
    assert config["global"]["smtp_require_tls"] is True
    assert "webhook_configs" not in out.read_text()  # the demo's inbox is not a site's default
    assert "https://grafana.corp.example/d/" in out.read_text()
    assert "https://wiki.corp.example/runbooks.md#" in out.read_text()

    refused = alignmon.run(["alerts", "routing", "--output", str(tmp_path / "none.yml")], {})
    assert refused.returncode == 1
    assert "nothing would be delivered" in refused.stderr
    assert not (tmp_path / "none.yml").exists()


def _clean_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("ALIGNMON_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        # A relay but nobody for IT operations and no webhook: pipeline, gateway and shadow-IT alerts go nowhere.
        ([], "IT operations would get nothing: pipeline, gateway and shadow-IT alerts need --itops-email"),
        (["--itops-email", "ops@corp.example", "--smtp-username", "alignmon"], "needs --smtp-password-file"),
        (["--itops-email", "ops@corp.example", "--smtp-password-file", "{password}"], "needs --smtp-username"),
        (
            ["--itops-email", "ops@corp.example", "--smtp-username", "alignmon", "--smtp-password-file", "{missing}"],
            "cannot read it",
        ),
        (
            ["--itops-email", "ops@corp.example", "--smtp-username", "alignmon", "--smtp-password-file", "{tmp}"],
            "cannot read it",  # a directory, not a file
        ),
        (
            ["--itops-email", "ops@corp.example", "--smtp-username", "alignmon", "--smtp-password-file", "{empty}"],
            "is empty",
        ),
    ],
    ids=[
        "no-itops-receiver",
        "username-without-password",
        "password-without-username",
        "missing-password-file",
        "unreadable-password-file",
        "empty-password-file",
    ],
)
def test_alerts_routing_refuses_a_relay_configuration_that_drops_alerts_or_cannot_log_in(
    extra: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alignmon.cli import main

    _clean_settings(monkeypatch)
    (tmp_path / "password").write_text("s3cret")
    (tmp_path / "empty").write_text("\n")
    paths = {
        "password": tmp_path / "password",
        "missing": tmp_path / "nope",
        "tmp": tmp_path,
        "empty": tmp_path / "empty",
    }
    out = tmp_path / "alertmanager.yml"
    args = ["alerts", "routing", "--smtp-smarthost", "relay.corp.example:587", "--output", str(out)]
    assert main([*args, *(a.format(**paths) for a in extra)]) == 1
    error = capsys.readouterr().err
    assert message in error, error
    assert not out.exists()


def test_alerts_routing_refuses_mail_flags_without_a_relay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alignmon.cli import main

    _clean_settings(monkeypatch)
    out = tmp_path / "alertmanager.yml"
    args = ["alerts", "routing", "--webhook-url", "http://hooks.corp.example/x", "--itops-email", "ops@corp.example"]
    assert main([*args, "--output", str(out)]) == 1
    assert "--itops-email given without a mail relay" in capsys.readouterr().err
    assert not out.exists()
    # Without the e-mail flag it is a valid webhook-only configuration; a webhook alone serves IT operations too.
    assert main(["alerts", "routing", "--webhook-url", "http://hooks.corp.example/x", "--output", str(out)]) == 0
    assert main(["alerts", "routing", "--smtp-smarthost", "relay:25", "--webhook-url", "http://h/x", "--output",
                 str(out)]) == 0  # fmt: skip


def test_alerts_routing_warns_when_the_runbook_link_is_a_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alignmon.cli import main

    _clean_settings(monkeypatch)
    out = tmp_path / "alertmanager.yml"
    args = ["alerts", "routing", "--smtp-smarthost", "relay:25", "--itops-email", "ops@corp.example"]
    assert main([*args, "--output", str(out)]) == 0
    err = capsys.readouterr().err
    shipped = (ROOT / "docs" / "runbooks.md").as_uri()
    assert f"warning: no --runbook-url (ALIGNMON_RUNBOOK_URL): the mails link the runbooks at {shipped}" in err
    assert "readers elsewhere cannot open" in err
    assert f"{shipped}#" in out.read_text()  # written all the same
    # Given by flag or by setting, no warning.
    assert main([*args, "--runbook-url", "https://wiki.corp.example/runbooks.md", "--output", str(out)]) == 0
    monkeypatch.setenv("ALIGNMON_RUNBOOK_URL", "https://wiki.corp.example/runbooks.md")
    assert main([*args, "--output", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err
