"""The shipped Alertmanager configuration: rendering, amtool checks, routes, and real delivery."""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from collections.abc import Iterator
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
from tests.support.wait import wait_until

AMTOOL = "/usr/bin/amtool"

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
        "localhost:25", "alignmon@example.org", "http://alert-webhook.example.org/alignmon", "itops@example.org"
    )
    assert routing.main(["--check"]) == 0


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
        }
    ]


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
    """Everything Alertmanager delivered: e-mails by recipient and webhook notifications."""

    mails: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)

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


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, Sinks]]:
    """Alertmanager on loopback, configured by alertmanager_config() to mail an SMTP sink and call a webhook."""
    from aiosmtpd.controller import Controller

    hook = AlertInbox()
    sinks = Sinks(hooks=hook.notifications)
    smtp = Controller(_SmtpHandler(sinks), hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        routing.alertmanager_config(
            f"127.0.0.1:{smtp.port}",
            "alignmon@test.example",
            hook.url,
            "itops@test.example",
            group_wait="1s",
            group_interval="1s",
        )
    )
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert binary, "Alertmanager missing: install the Debian package `prometheus-alertmanager`"
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200,
            30,
            "Alertmanager ready",
            ignore=httpx.HTTPError,
        )
        yield url, sinks
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
        smtp.stop()
        hook.close()


def _post(url: str, labels: dict[str, str], annotations: dict[str, str]) -> None:
    response = httpx.post(f"{url}/api/v2/alerts", json=[{"labels": labels, "annotations": annotations}], timeout=5)
    response.raise_for_status()


def _alertnames(hooks: list[dict[str, Any]]) -> set[str]:
    return {h["commonLabels"].get("alertname") for h in hooks}


def _state(url: str, investment: str) -> dict[str, Any]:
    alerts = httpx.get(f"{url}/api/v2/alerts", params={"filter": f'investment="{investment}"'}, timeout=5).json()
    assert len(alerts) == 1
    return dict(alerts[0]["status"])


LOW_SUMMARY = "CRM Suite: adoption 20% is below the planned 50%"
LOW_DESCRIPTION = "Investment CRM Suite (crm): adoption 20% against 50% planned; 12000 EUR on unused seats."


@pytest.mark.integration
def test_owner_gets_mail_and_webhook_itops_gets_pipeline_alerts(alertmanager: tuple[str, Sinks]) -> None:
    url, sinks = alertmanager
    _post(url, ADOPTION, {"summary": LOW_SUMMARY, "description": LOW_DESCRIPTION, "runbook_url": "https://rb#a"})
    _post(url, {**PIPELINE, "alertname": "ConsumerLagHigh"}, {"summary": "55000 records behind", "description": "d"})

    [mail] = wait_until(lambda: sinks.mail_to("ada@example.org"), 30, "the owner's e-mail")
    assert mail["Subject"] == f"[alignmon] AdoptionLow: {LOW_SUMMARY}"
    body = _body(mail)
    assert "Hello Ada Lovelace," in body
    assert f"== AdoptionLow: {LOW_SUMMARY}\n{LOW_DESCRIPTION}\nRunbook: https://rb#a" in body
    [ops] = wait_until(lambda: sinks.mail_to("itops@test.example"), 30, "the IT operations e-mail")
    assert ops["Subject"] == "[alignmon] ConsumerLagHigh: 55000 records behind"
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
    _post(url, grace, {"summary": "Team Wiki: adoption 10% is below the planned 50%", "description": "d"})
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
    waste = {**ADOPTION, "alertname": "LicenceWasteBeforeRenewal"}
    addon = {**waste, "investment": "crm-addon", "name": "CRM Add-on"}
    alerts = [
        {
            "labels": waste,
            "annotations": {"summary": "CRM Suite: 12000 EUR a year on unused seats", "description": "a"},
        },
        {
            "labels": addon,
            "annotations": {"summary": "CRM Add-on: 3000 EUR a year on unused seats", "description": "b"},
        },
    ]
    httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()

    [mail] = wait_until(lambda: sinks.mail_to("ada@example.org"), 30, "the owner's e-mail")
    assert mail["Subject"] == "[alignmon] LicenceWasteBeforeRenewal: 2 investments of sales-excellence"
    body = _body(mail)
    assert "== LicenceWasteBeforeRenewal: CRM Suite: 12000 EUR a year on unused seats\na\n" in body
    assert "== LicenceWasteBeforeRenewal: CRM Add-on: 3000 EUR a year on unused seats\nb\n" in body


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
