"""The mail every alert sends, rendered by Alertmanager's own template engine, against golden files.

The figures in a mail are the alert's annotations. Those are taken from the promtool tests
(tests/metrics/promtool/*.yml: the first firing alert of each alert's test), where promtool checks that
Prometheus renders exactly them from the input series; here `amtool template render` (the same template
code Alertmanager mails with) renders the shipped e-mail templates over them. Set ALIGNMON_UPDATE_GOLDEN=1
to rewrite the golden files in tests/metrics/mails/ after a deliberate change, and read the diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from metrics import routing

AMTOOL = "/usr/bin/amtool"
HERE = Path(__file__).parent
GOLDEN = HERE / "mails"
PROMTOOL_TESTS = sorted((HERE / "promtool").glob("*.yml"))
LINKS = routing.MailLinks(
    grafana="https://grafana.example.org",
    runbook="https://docs.example.org/alignmon/runbooks.md",
    report="https://reports.example.org/alignmon/latest.html",
)
EXTERNAL_URL = "http://alertmanager.example.org:9093"
OWNER_ALERTS = {"AdoptionLow", "AdoptionForecastMissesTarget", "LicenceWasteBeforeRenewal", "AdoptionDeclining"}


def firing_examples() -> dict[str, dict[str, Any]]:
    """alertname -> {labels, annotations} of the first alert each promtool test expects to fire."""
    examples: dict[str, dict[str, Any]] = {}
    for path in PROMTOOL_TESTS:
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                if case.get("exp_alerts") and case["alertname"] not in examples:
                    first = case["exp_alerts"][0]
                    examples[case["alertname"]] = {
                        "labels": {"alertname": case["alertname"], **first["exp_labels"]},
                        "annotations": first.get("exp_annotations", {}),
                    }
    return examples


EXAMPLES = firing_examples()


def receiver_of(labels: dict[str, str]) -> dict[str, Any]:
    """The shipped routing's receiver for these labels (owner when audience=owner with an e-mail, else itops)."""
    config = yaml.safe_load(routing.alertmanager_config("smtp.test:25", "a@test", None, "ops@test", links=LINKS))
    owner = labels.get("audience") == "owner" and "@" in labels.get("owner_email", "")
    name = routing.OWNER_RECEIVER if owner else routing.ITOPS_RECEIVER
    return next(r for r in config["receivers"] if r["name"] == name)


def template_data(receiver: str, alerts: list[dict[str, Any]], status: str = "firing") -> dict[str, Any]:
    """Alertmanager's template data (template.Data) for one notification of these alerts."""
    common_labels = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    common_ann = {
        k: v for k, v in alerts[0]["annotations"].items() if all(a["annotations"].get(k) == v for a in alerts)
    }
    return {
        "receiver": receiver,
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": a["labels"],
                "annotations": a["annotations"],
                "startsAt": "2026-11-20T08:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.org:9090/graph",
                "fingerprint": "0",
            }
            for a in alerts
        ],
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": common_labels,
        "commonAnnotations": common_ann,
        "externalURL": EXTERNAL_URL,
    }


def amtool_render(text: str, data: dict[str, Any], tmp_path: Path) -> str:
    assert Path(AMTOOL).exists(), "amtool missing: install the Debian package `prometheus-alertmanager`"
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    result = subprocess.run(
        [
            AMTOOL,
            "template",
            "render",
            f"--template.glob={tmp_path}/none-*.tmpl",
            f"--template.text={text}",
            f"--template.data={data_file}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def render_mail(alerts: list[dict[str, Any]], tmp_path: Path, status: str = "firing") -> tuple[str, str]:
    """(subject, body) of the mail the shipped templates make of one notification."""
    receiver = receiver_of(alerts[0]["labels"])
    email = receiver["email_configs"][0]
    data = template_data(receiver["name"], alerts, status)
    return amtool_render(email["headers"]["Subject"], data, tmp_path), amtool_render(email["text"], data, tmp_path)


def golden_text(subject: str, body: str) -> str:
    return f"Subject: {subject}\n\n{body}"


def test_every_alert_has_a_firing_example() -> None:
    from tests.metrics.test_rules import EXPECTED_ALERTS

    assert set(EXAMPLES) == EXPECTED_ALERTS


@pytest.mark.parametrize("alertname", sorted(EXAMPLES))
def test_mail_matches_its_golden_file(alertname: str, tmp_path: Path) -> None:
    subject, body = render_mail([EXAMPLES[alertname]], tmp_path)
    golden = GOLDEN / f"{alertname}.txt"
    if os.environ.get("ALIGNMON_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(golden_text(subject, body))
    assert golden_text(subject, body) == golden.read_text(), f"{golden}: set ALIGNMON_UPDATE_GOLDEN=1 to rewrite"
    # Every mail names where to read what to do, and no template left anything unrendered.
    assert f"{LINKS.runbook}#{alertname.lower()}" in body
    assert "<no value>" not in subject + body and "n/a" not in subject + body
    assert f"-- alignmon, via Alertmanager {EXTERNAL_URL}" in body


@pytest.mark.parametrize("alertname", sorted(OWNER_ALERTS))
def test_owner_mails_name_things_and_link_them(alertname: str, tmp_path: Path) -> None:
    alert = EXAMPLES[alertname]
    labels = alert["labels"]
    subject, body = render_mail([alert], tmp_path)
    assert subject.startswith(f"[alignmon] {alert['annotations']['title']}: {labels['name']}")
    assert body.startswith(f"Hello {labels['owner']},\n")
    assert f"Investment: {labels['name']}\n" in body
    assert f"Initiative: {labels['initiative_name']}\n" in body
    assert f"Objective:  {labels['objective_name']}\n" in body
    assert f"Status:     {alert['annotations']['status']}\n" in body
    assert f"Drill-down: {LINKS.grafana}/d/alignmon-investment?var-investment={labels['investment']}\n" in body
    assert f"Report:     {LINKS.report}\n" in body
    # Names, not ids: ids appear only in the drill-down link; no internal names, no "act before" a past date.
    without_link = "\n".join(line for line in body.splitlines() if not line.startswith("Drill-down:"))
    for internal in (labels["investment"], labels["initiative"], labels["objective"], "low_days", "on_track", "_"):
        assert internal not in without_link, internal
    assert "act before" not in body
    # Percentages are whole numbers with a space ("29 %"), never ratios or 4-digit humanized values.
    assert not re.search(r"\d%|\d\.\d+ %", body)


def test_the_adoption_low_mail_has_the_figures_an_owner_acts_on(tmp_path: Path) -> None:
    subject, body = render_mail([EXAMPLES["AdoptionLow"]], tmp_path)
    assert subject == "[alignmon] Adoption below plan: SAP S/4HANA finance and expenses at 29 % against 80 % planned"
    assert "Initiative: Modern finance processes\nObjective:  Lower the cost of running the company\n" in body
    assert "29 % of the target population against 80 % planned: 51 percentage points behind plan" in body
    assert "Target departments below plan: Sales 25 %, Finance 47 %." in body  # lowest first
    assert "Annual cost EUR 150,000; spend on unused seats EUR 106,000 a year." in body
    assert "Status:     low: adoption below plan beyond the tolerance on each recent day with data\n" in body


def test_a_mail_for_several_investments_lists_each_and_names_the_initiative(tmp_path: Path) -> None:
    erp = EXAMPLES["AdoptionLow"]
    other = {
        "labels": {**erp["labels"], "investment": "inv-concur", "name": "Concur expenses"},
        "annotations": {**erp["annotations"], "summary": "Concur expenses at 10 % against 60 % planned"},
    }
    subject, body = render_mail([erp, other], tmp_path)
    assert subject == "[alignmon] Adoption below plan: 2 investments of Modern finance processes"
    assert body.count("\n== Adoption below plan: ") == 2
    assert "var-investment=inv-concur\n" in body and "var-investment=inv-erp-s4\n" in body


def test_a_resolved_mail_says_which_investment_recovered(tmp_path: Path) -> None:
    subject, body = render_mail([EXAMPLES["AdoptionLow"]], tmp_path, status="resolved")
    assert subject.startswith("[alignmon] RESOLVED: Adoption below plan: ")
    assert "Resolved since the last mail:\n- Adoption below plan: SAP S/4HANA finance and expenses\n" in body
    assert "== " not in body


def test_a_resolved_shadow_it_mail_repeats_no_stale_figure(tmp_path: Path) -> None:
    """A resolved alert's annotations are those of its last firing evaluation: the RESOLVED mail says what stopped
    holding (the alert's `resolved` annotation), not the figures of then (40 users, 21 more)."""
    alert = EXAMPLES["ShadowITSpreading"]
    words = alert["annotations"]["resolved"]
    assert words == (
        "Shadow IT: notion no longer meets the alert's condition (at least 20 active users and at least 5 more than "
        "7d ago)"
    )
    subject, body = render_mail([alert], tmp_path, status="resolved")
    assert subject == f"[alignmon] RESOLVED: ShadowITSpreading: {words}"
    assert f"Resolved:\n- ShadowITSpreading: {words}\n" in body
    assert "== " not in body
    for stale in ("40", "21"):
        assert stale not in subject + body
    # Firing, the same alert's mail carries its figures.
    firing_subject, _ = render_mail([alert], tmp_path)
    assert firing_subject == "[alignmon] ShadowITSpreading: Shadow IT: notion has 40 active users, 21 more than 7d ago"


def test_without_a_report_url_the_mail_has_no_report_line() -> None:
    text = routing.alertmanager_config("smtp.test:25", "a@test", None, "ops@test", links=LINKS._replace(report=None))
    assert "Report:" not in text and LINKS.grafana in text


def _expected_alerts() -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
    """(test name, alertname, labels, annotations) of every alert the promtool tests expect to fire."""
    return [
        (group["name"], case["alertname"], alert["exp_labels"], alert.get("exp_annotations", {}))
        for path in PROMTOOL_TESTS
        for group in yaml.safe_load(path.read_text())["tests"]
        for case in group.get("alert_rule_test", [])
        for alert in case.get("exp_alerts") or []
    ]


def test_the_waste_mail_has_consistent_figures_and_a_plausible_renewal_date() -> None:
    """Wasted spend = (seats - active) x annual cost / seats (docs/metrics.md), and a renewal date in our era."""
    annotations = EXAMPLES["LicenceWasteBeforeRenewal"]["annotations"]
    text = annotations["description"]
    seats_used = re.search(r"(\d+) seats, (\d+) % of them used \((\d+) people active", text)
    money = re.search(r"Annual cost EUR ([\d,]+); spend on unused seats EUR ([\d,]+) a year", text)
    renewal = re.search(r"renews on ((\d{4})-\d\d-\d\d), in (\d+) days", text)
    assert seats_used and money and renewal, text
    seats, used_pct, active = (int(g) for g in seats_used.groups())
    cost, wasted = (int(g.replace(",", "")) for g in money.groups())
    assert active * 100 // seats == used_pct
    assert wasted == (seats - active) * cost // seats  # 60 idle seats x EUR 200 = EUR 12,000
    assert int(renewal[2]) >= 2026 and 0 <= int(renewal[3]) <= 90
    assert annotations["summary"].endswith(f"renewal on {renewal[1]}")


def test_the_lagging_departments_line_says_none_only_when_departments_are_known() -> None:
    """No department below plan: "none"; no per-department figures at all: "unknown". Never a privacy excuse."""
    lines = {
        (test, labels["investment"]): line
        for test, _alert, labels, annotations in _expected_alerts()
        for line in annotations.get("description", "").splitlines()
        if line.startswith("Target departments below plan:")
    }
    # bi's one exported department is above plan; in the forecast test bi exports no department at all.
    assert lines[("adoption declining", "bi")] == "Target departments below plan: none."
    assert lines[("adoption forecast misses target", "bi")] == (
        "Target departments below plan: unknown (no per-department figures)."
    )
    assert not [line for line in lines.values() if "privacy" in line or "under k" in line]
