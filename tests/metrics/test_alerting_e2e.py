"""From a stalled rollout to the owner's inbox, on the real Prometheus and Alertmanager.

A simulated fleet (one stalled investment among healthy ones) is loaded into a DuckDB file; the real
exporter serves it; a real Prometheus scrapes it every second and evaluates the shipped rules
(rendered by the shipped generator from the shipped thresholds, with only the `for` durations
shortened); the real Alertmanager, configured by the shipped routing, mails an SMTP sink and calls a
webhook. The alert must reach the stalled investment's owner with its numbers, nothing may fire for a
healthy investment, and the alert must resolve once adoption recovers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from base.pseudonym import pseudonymise
from collectors.simulate import Organisation
from metrics import routing
from metrics.exporter import PipelineCollector, serve
from metrics.inbox import AlertInbox
from metrics.rulegen import render
from metrics.thresholds import load
from pipeline.batch import Record, decode
from pipeline.refresh import refresh
from pipeline.store import Store
from tests.metrics.test_mails import LINKS
from tests.support.fleet import stored_fleet
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

KEY = b"e2e-alerting-key"
STALLED = "inv-erp-s4"
ON_TRACK = "inv-crm-rollout"


class Inbox(AlertInbox):
    """The webhook receiver plus the mails the SMTP sink got."""

    def __init__(self) -> None:
        super().__init__()
        self.mails: list[EmailMessage] = []


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str, str]]:
    from aiosmtpd.controller import Controller

    from alignmon.stack.process import free_port

    box = Inbox()

    class Smtp:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
            message = message_from_bytes(envelope.content, policy=default_policy)
            assert isinstance(message, EmailMessage)
            box.mails.append(message)
            return "250 OK"

    smtp = Controller(Smtp(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    yield box, f"127.0.0.1:{smtp.port}", box.url
    smtp.stop()
    box.close()


def fast_rules(tmp: Path) -> Path:
    """The shipped rules with every `for` at 1s, so a test sees in seconds what production sees in minutes."""
    t = load()
    alerts = t.alerts.model_copy(
        update={name: getattr(t.alerts, name).model_copy(update={"for_": "1s"}) for name in type(t.alerts).model_fields}
    )
    path = tmp / "rules.yml"
    path.write_text(render(t.model_copy(update={"alerts": alerts})))
    return path


def load_fleet(tmp: Path, as_of: date) -> tuple[Store, Any, Organisation]:
    org = Organisation.build(7, 1.0, as_of)
    store, catalog = stored_fleet(tmp, org, 61, KEY)
    return store, catalog, org


def test_stalled_investment_alerts_its_owner_and_resolves(tmp_path: Path, inbox: tuple[Inbox, str, str]) -> None:
    from alignmon.stack.process import free_port
    from alignmon.stack.stack import Stack, StackConfig

    box, smtp, webhook = inbox
    as_of = datetime.now(UTC).date()
    store, catalog, org = load_fleet(tmp_path, as_of)
    stalled = dict(
        zip(
            ["status", "adoption", "planned", "owner", "email", "name"],
            store.con.execute(
                "SELECT status, adoption_ratio, planned_ratio, owner, owner_email, name FROM adoption_current "
                "WHERE investment = ?",
                [STALLED],
            ).fetchone()
            or (),
            strict=True,
        )
    )
    assert stalled["status"] == "low"
    assert store.con.execute("SELECT status FROM adoption_current WHERE investment = ?", [ON_TRACK]).fetchone() == (
        "on_track",
    )

    exporter_port = free_port()
    server = serve(PipelineCollector(store.cursor), "127.0.0.1", exporter_port)
    stack = Stack(
        StackConfig(
            state_dir=tmp_path / "stack",
            prometheus_port=free_port(),
            alertmanager_port=free_port(),
            scrape_targets={"alignmon-pipeline": [f"127.0.0.1:{exporter_port}"]},
            rule_files=[fast_rules(tmp_path)],
            alertmanager_yaml=routing.alertmanager_config(
                smtp,
                "alignmon@test.example",
                webhook,
                "itops@test.example",
                group_wait="1s",
                group_interval="1s",
                links=LINKS,
            ),
            scrape_interval_s=1.0,
        )
    )
    try:
        stack.alertmanager().start()
        stack.prometheus().start()

        fired = wait_until(lambda: box.alerts("AdoptionLow", "firing"), timeout=90, what="AdoptionLow at the webhook")
        assert {a["labels"]["investment"] for a in fired} == {STALLED}
        alert = fired[0]
        assert alert["labels"]["owner_email"] == stalled["email"]
        assert alert["labels"]["severity"] == "warning"
        adoption = f"{stalled['adoption'] * 100:.0f} %"
        planned = f"{stalled['planned'] * 100:.0f} %"
        gap = f"{(stalled['planned'] - stalled['adoption']) * 100:.0f} percentage points behind plan"
        assert f"{adoption} of the target population against {planned} planned" in alert["annotations"]["description"]
        assert alert["annotations"]["runbook"] == "docs/runbooks.md#adoptionlow"

        def owner_mails() -> list[EmailMessage]:
            return [m for m in box.mails if m["To"] == stalled["email"]]

        mail = wait_until(owner_mails, timeout=60, what="the owner's e-mail")[0]
        # The mail, parsed: names (not ids), figures in words, the lagging departments, links and the reason.
        assert (
            mail["Subject"]
            == f"[alignmon] Adoption below plan: {stalled['name']} at {adoption} against {planned} planned"
        )
        body = _text(mail)
        lagging = store.con.execute(
            "SELECT department, adoption_ratio FROM department_adoption WHERE investment = ? AND adoption_ratio < ? "
            "ORDER BY adoption_ratio",
            [STALLED, stalled["planned"]],
        ).fetchall()
        assert lagging, "the stalled investment has departments below plan"
        names = dict(catalog_names(tmp_path))
        for expected in (
            f"Hello {stalled['owner']},",
            f"Investment: {stalled['name']}\n",
            f"Initiative: {names['ini-finance-modernisation']}\n",
            f"Objective:  {names['obj-efficient-operations']}\n",
            "Status:     low: adoption below plan beyond the tolerance on each recent day with data\n",
            gap,
            "Target departments below plan: " + ", ".join(f"{d} {r * 100:.0f} %" for d, r in lagging) + ".",
            "Annual cost EUR 150,000;",
            f"Drill-down: {LINKS.grafana}/d/alignmon-investment?var-investment={STALLED}\n",
            f"Report:     {LINKS.report}\n",
            f"Runbook:    {LINKS.runbook}#adoptionlow\n",
        ):
            assert expected in body, (expected, body)
        assert "low_days" not in body and "ini-" not in body and "obj-" not in body

        # Healthy investments (on track, forecast on time, no large waste before renewal) raise nothing.
        healthy = {
            r[0]
            for r in store.con.execute("""
            SELECT investment FROM adoption_current
            WHERE status = 'on_track' AND NOT coalesce(at_risk, false)
              AND (coalesce(wasted_spend, 0) <= 10000 OR renewal_date IS NULL OR renewal_date > as_of + 90)
            """).fetchall()
        }
        assert "inv-teams" in healthy
        # Wait until every rule group has been evaluated twice more (a `for: 1s` alert fires on the second
        # evaluation that finds it true); then no healthy investment may have an alert pending or firing in
        # Prometheus, held by Alertmanager, or delivered to the webhook.
        since = time.time()
        wait_until(lambda: _evaluated_after(stack.prometheus_url, since + 1.0), 30, "two more rule evaluations", 0.2)
        active = {
            a["labels"].get("investment") for a in _get(f"{stack.prometheus_url}/api/v1/alerts")["data"]["alerts"]
        }
        held = {a["labels"].get("investment") for a in _get(f"{stack.alertmanager_url}/api/v2/alerts")}
        raised = {a["labels"].get("investment") for h in box.notifications for a in h["alerts"]}
        assert not healthy & (active | held | raised), (healthy & active, healthy & held, healthy & raised)
        # One problem, one mail: the stalled investment's owner got the AdoptionLow mail and nothing else.
        assert owner_mails() == [mail]

        # Adoption recovers: everyone in the target departments uses the ERP for an hour today.
        erp_app = next(e["app"] for e in org.dicts_for_day(_last_weekday(as_of)) if org.app_of(e["app"]) == "sap_s4")
        people = [u for u, d in _directory(tmp_path / "directory.csv") if d in {"Finance", "Sales"}]
        start = datetime.combine(as_of, datetime.min.time(), UTC) + timedelta(minutes=1)
        recover = [
            json.dumps(
                {
                    "event_id": f"recover-{i}",
                    "kind": "focus",
                    "device_id": f"recover-{i}",
                    "user": pseudonymise(u, KEY),
                    "app": erp_app,
                    "start": start.isoformat(),
                    "duration_s": 3600,
                    "source": "test",
                }
            ).encode()
            for i, u in enumerate(people)
        ]
        store.write(decode([Record("t", 1, i, int(time.time() * 1000), p) for i, p in enumerate(recover)]))
        refresh(store.con, catalog, as_of)
        assert store.con.execute("SELECT status FROM adoption_current WHERE investment = ?", [STALLED]).fetchone() == (
            "on_track",
        )
        resolved = wait_until(lambda: box.alerts("AdoptionLow", "resolved"), timeout=90, what="AdoptionLow resolved")
        assert resolved[0]["labels"]["investment"] == STALLED
    finally:
        stack.down()
        server.shutdown()
        store.close()


def _get(url: str) -> Any:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return response.json()


def _evaluated_after(prometheus: str, t: float) -> bool:
    """Whether Prometheus has loaded rule groups and evaluated each of them after time t (seconds)."""
    groups = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
    return bool(groups) and all(datetime.fromisoformat(g["lastEvaluation"]).timestamp() > t for g in groups)


def _last_weekday(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _directory(path: Path) -> list[tuple[str, str]]:
    rows = [line.split(",") for line in path.read_text().splitlines()[1:] if line]
    return [(u, d) for u, d, *_ in rows]


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


def catalog_names(tmp: Path) -> list[tuple[str, str]]:
    """(id, name) of every objective and initiative in the simulated catalog."""
    import yaml

    data = yaml.safe_load((tmp / "catalog" / "catalog.yaml").read_text())
    return [
        (item["id"], item["name"])
        for objective in data["objectives"]
        for item in [objective, *objective.get("initiatives", [])]
    ]
