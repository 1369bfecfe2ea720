"""alignmon's Alertmanager configuration: owners get their adoption alerts, IT operations the rest.

`alertmanager_config()` renders it; metrics/alertmanager/alertmanager.yml is that rendering with
DEFAULTS (`python -m metrics.routing` rewrites it, `--check` fails when it is stale), and
`config_from_settings()` is what the local stack and `alignmon alerts routing` (metrics/commands.py) write;
each names who rendered it and its receivers in the header comment. The e-mail templates are inline, so the
rendered text works wherever it is written, with no template files. The figures in a mail are the
alert's annotations, rendered by Prometheus (metrics/rulegen.py); the links come from here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from metrics.config import ALERTMANAGER_DIR

if TYPE_CHECKING:
    from base.settings import Settings

ALERTMANAGER_YML = ALERTMANAGER_DIR / "alertmanager.yml"
OWNER_RECEIVER = "investment-owner"
ITOPS_RECEIVER = "itops"
INVESTMENT_DASHBOARD = "alignmon-investment"  # dashboards/uids.py INVESTMENT


class MailLinks(NamedTuple):
    """Where the mails' readers find more: Grafana, the latest report (optional) and the runbooks."""

    grafana: str
    runbook: str
    report: str | None = None


# The placeholders the shipped file is rendered with; replace them with your own.
DEFAULTS: dict[str, str] = {
    "smtp_smarthost": "localhost:25",
    "smtp_from": "alignmon@example.org",
    "webhook_url": "http://alert-webhook.example.org/alignmon",
    "itops_email": "itops@example.org",
}
DEFAULT_LINKS = MailLinks(
    grafana="http://localhost:3000",
    runbook="https://docs.example.org/alignmon/runbooks.md",
    report="https://reports.example.org/alignmon/latest.html",
)

# The shipped file's note: what its placeholders are (a site's own file names its real receivers instead).
SHIPPED_NOTE = """\
This shipped copy uses placeholders: a local mail relay (localhost:25, no TLS, no authentication),
alignmon@example.org as sender, an example webhook, itops@example.org, and example.org links to the report
and the runbooks. Render your site's own with `alignmon alerts routing` (the local stack renders it from
the ALIGNMON_* settings).
"""
SHIPPED_BY = "`python -m metrics.routing`"
SITE_BY = "`alignmon alerts routing`"
LOCAL_STACK_BY = "the local stack, from the ALIGNMON_* settings"

ROUTING_NOTES = """\
# - Adoption alerts (audience=owner) go to the investment's owner: e-mail to the alert's
#   owner_email label (from the catalog) and the webhook. Without an owner_email they fall back
#   to IT operations.
# - Pipeline health and governance alerts (team=itops) go to IT operations: e-mail and webhook.
# - While ExporterDown or PipelineStalled fires the figures are frozen, so adoption and
#   shadow-IT alerts are inhibited: owners are not told stale news.
# - One problem, one mail: while AdoptionLow fires for an investment, its
#   AdoptionForecastMissesTarget is inhibited.
# Check with: amtool check-config <this file>
"""


def _delivery(receiver: dict[str, Any]) -> str:
    """What one receiver of the configuration sends, in words."""
    ways = [
        "e-mail to each alert's owner_email" if "owner_email" in c["to"] else f"e-mail to {c['to']}"
        for c in receiver.get("email_configs", [])
    ]
    ways += [f"webhook {c['url']}" for c in receiver.get("webhook_configs", [])]
    return ", ".join(ways) or "nothing (no e-mail, no webhook)"


def _smtp(glob: dict[str, Any]) -> str:
    if "smtp_smarthost" not in glob:
        return "no mail relay, so no e-mail"
    tls = "STARTTLS required" if glob["smtp_require_tls"] else "no TLS required"
    login = glob.get("smtp_auth_username")
    auth = f"SMTP login {login}" if login else "no SMTP login"
    if "smtp_auth_password_file" in glob:
        auth += f", password read from {glob['smtp_auth_password_file']}"
    return f"through {glob['smtp_smarthost']} from {glob['smtp_from']}, {tls}, {auth}"


def header(config: dict[str, Any], rendered_by: str, note: str = "") -> str:
    """The comment on top of a rendered configuration: who rendered it, its receivers, and how it routes."""
    lines = [
        f"Alertmanager configuration for alignmon, rendered by {rendered_by}.",
        "Do not edit by hand: render it again.",
    ]
    lines += note.splitlines()
    lines.append("Receivers:")
    lines += [f"- {r['name']}: {_delivery(r)}" for r in config["receivers"]]
    lines.append(f"Mail: {_smtp(config['global'])}.")
    lines.append("")
    return "".join(f"# {line}".rstrip() + "\n" for line in lines) + ROUTING_NOTES


def _owner_text(links: MailLinks) -> str:
    report = f"Report:     {links.report}\n" if links.report else ""
    return (
        "Hello {{ .CommonLabels.owner }},\n"
        "\n"
        "alignmon compares how your investments are used with the adoption you planned for them.\n"
        "{{ range .Alerts.Firing }}\n"
        "== {{ .Annotations.title }}: {{ .Annotations.summary }}\n"
        "\n"
        "Investment: {{ .Labels.name }}\n"
        "{{ with or .Labels.initiative_name .Labels.initiative }}Initiative: {{ . }}\n{{ end -}}\n"
        "{{ with or .Labels.objective_name .Labels.objective }}Objective:  {{ . }}\n{{ end -}}\n"
        "Status:     {{ .Annotations.status }}\n"
        "\n"
        "{{ .Annotations.description }}\n"
        "\n"
        f"Drill-down: {links.grafana}/d/{INVESTMENT_DASHBOARD}?var-investment={{{{ .Labels.investment | urlquery }}}}\n"
        f"{report}"
        f"Runbook:    {links.runbook}#{{{{ .Labels.alertname | toLower }}}}\n"
        "{{ end }}{{ if .Alerts.Resolved }}\n"
        "Resolved since the last mail:\n"
        "{{ range .Alerts.Resolved }}- {{ .Annotations.title }}: {{ .Labels.name }}\n"
        "{{ end }}{{ end }}\n"
        "-- alignmon, via Alertmanager {{ .ExternalURL }}\n"
    )


# A resolved alert in a mail's body: its `resolved` annotation when it has one, else its summary.
_RESOLVED_TEXT = "{{ or .Annotations.resolved .Annotations.summary }}"


def _itops_text(links: MailLinks) -> str:
    return (
        "{{ range .Alerts.Firing }}\n"
        "== {{ .Labels.alertname }} ({{ .Labels.severity }}): {{ .Annotations.summary }}\n"
        "{{ .Annotations.description }}\n"
        f"Runbook: {links.runbook}#{{{{ .Labels.alertname | toLower }}}}\n"
        "{{ end }}{{ if .Alerts.Resolved }}\n"
        "Resolved:\n"
        f"{{{{ range .Alerts.Resolved }}}}- {{{{ .Labels.alertname }}}}: {_RESOLVED_TEXT}\n"
        "{{ end }}{{ end }}\n"
        "-- alignmon, via Alertmanager {{ .ExternalURL }}\n"
    )


_RESOLVED = '{{ if eq .Status "resolved" }}RESOLVED: {{ end }}'
# The one alert of a notification, in the subject: its summary while it fires; once resolved, its `resolved`
# annotation when it has one (the summary's figures are those of its last firing evaluation: stale by then).
_ONE = (
    '{{ with index .Alerts 0 }}{{ if eq .Status "resolved" }}{{ or .Annotations.resolved .Annotations.summary }}'
    "{{ else }}{{ .Annotations.summary }}{{ end }}{{ end }}"
)
OWNER_SUBJECT = (
    f"[alignmon] {_RESOLVED}{{{{ or .CommonAnnotations.title .CommonLabels.alertname }}}}:"
    f"{{{{ if eq (len .Alerts) 1 }}}} {_ONE}"
    "{{ else }} {{ len .Alerts }} investments"
    "{{ with or .CommonLabels.initiative_name .CommonLabels.initiative }} of {{ . }}{{ end }}{{ end }}"
)
ITOPS_SUBJECT = (
    f"[alignmon] {_RESOLVED}{{{{ .CommonLabels.alertname }}}}:"
    f"{{{{ if eq (len .Alerts) 1 }}}} {_ONE}"
    "{{ else }} {{ len .Alerts }} alerts{{ end }}"
)


def _receiver(name: str, to: str | None, subject: str, text: str, webhook_url: str | None) -> dict[str, Any]:
    receiver: dict[str, Any] = {"name": name}
    if to:
        receiver["email_configs"] = [
            {"to": to, "send_resolved": True, "headers": {"Subject": subject}, "html": "", "text": text}
        ]
    if webhook_url:
        receiver["webhook_configs"] = [{"url": webhook_url, "send_resolved": True}]
    return receiver


def alertmanager_config(  # noqa: PLR0917 (the signature the end-to-end tests call positionally)
    smtp_smarthost: str | None,
    smtp_from: str,
    webhook_url: str | None,
    itops_email: str | None,
    group_wait: str = "30s",
    group_interval: str = "5m",
    *,
    smtp_require_tls: bool = False,
    smtp_username: str | None = None,
    smtp_password_file: Path | str | None = None,
    links: MailLinks = DEFAULT_LINKS,
    rendered_by: str = "metrics.routing.alertmanager_config()",
    note: str = "",
) -> str:
    """alertmanager.yml text: owner e-mail + webhook for adoption alerts, IT operations for the rest.

    No smarthost: no e-mail at all; no webhook_url: e-mail only. The header comment says who rendered it
    (`rendered_by`), adds `note` and names the receivers. Example, for a test stack with an SMTP sink:
    `alertmanager_config("127.0.0.1:2525", "alignmon@test", None, "ops@test", group_wait="1s", group_interval="1s")`.
    """
    glob: dict[str, Any] = {}
    if smtp_smarthost:
        glob = {"smtp_smarthost": smtp_smarthost, "smtp_from": smtp_from, "smtp_require_tls": smtp_require_tls}
        if smtp_username:
            glob["smtp_auth_username"] = smtp_username
        if smtp_password_file:
            glob["smtp_auth_password_file"] = str(smtp_password_file)
    glob["resolve_timeout"] = "5m"
    mail = bool(smtp_smarthost)
    config = {
        "global": glob,
        "route": {
            "receiver": ITOPS_RECEIVER,
            "group_by": ["alertname", "initiative", "job"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": OWNER_RECEIVER,
                    "matchers": ['audience="owner"', 'owner_email=~".+@.+"'],
                    # One mail per owner, initiative and alert kind, listing every investment concerned;
                    # adoption moves over days: one reminder a day is enough for a manager.
                    "group_by": ["owner_email", "initiative", "alertname"],
                    "repeat_interval": "24h",
                },
                {"receiver": ITOPS_RECEIVER, "matchers": ['team="itops"']},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['alertname=~"ExporterDown|PipelineStalled"'],
                "target_matchers": ['audience=~"owner|governance"'],
            },
            {
                "source_matchers": ['alertname="AdoptionLow"'],
                "target_matchers": ['alertname="AdoptionForecastMissesTarget"'],
                "equal": ["investment"],
            },
        ],
        "receivers": [
            _receiver(
                OWNER_RECEIVER,
                "{{ .CommonLabels.owner_email }}" if mail else None,
                OWNER_SUBJECT,
                _owner_text(links),
                webhook_url,
            ),
            _receiver(ITOPS_RECEIVER, itops_email if mail else None, ITOPS_SUBJECT, _itops_text(links), webhook_url),
        ],
    }
    body = yaml.dump(config, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True)
    return header(config, rendered_by, note) + body


def config_from_settings(
    settings: Settings, group_wait: str = "2s", group_interval: str = "10s", *, rendered_by: str = LOCAL_STACK_BY
) -> str:
    """The local stack's configuration (or, with `rendered_by=SITE_BY`, a site's): the shipped routing with the
    ALIGNMON_* mail, webhook and link settings."""
    return alertmanager_config(
        settings.smtp_smarthost,
        settings.smtp_from,
        settings.alert_webhook_url or None,
        settings.itops_email,
        group_wait,
        group_interval,
        smtp_require_tls=settings.smtp_require_tls,
        smtp_username=settings.smtp_username,
        smtp_password_file=settings.smtp_password_file.resolve() if settings.smtp_password_file else None,
        links=MailLinks(settings.grafana_url.rstrip("/"), settings.runbook_base(), settings.report_url),
        rendered_by=rendered_by,
    )


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with `|` for the multi-line mail templates."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str)


def default_alertmanager_config() -> str:
    """The shipped metrics/alertmanager/alertmanager.yml: the rendering with DEFAULTS."""
    d = DEFAULTS
    return alertmanager_config(
        d["smtp_smarthost"],
        d["smtp_from"],
        d["webhook_url"],
        d["itops_email"],
        rendered_by=SHIPPED_BY,
        note=SHIPPED_NOTE,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m metrics.routing",
        description="Write the shipped Alertmanager configuration (placeholder SMTP relay, sender and webhook).",
    )
    parser.add_argument("--output", type=Path, default=ALERTMANAGER_YML, help="File to write.")
    parser.add_argument(
        "--check", action="store_true", help="Write nothing; exit 1 if the file differs from a fresh rendering."
    )
    args = parser.parse_args(argv)
    text = default_alertmanager_config()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `python -m metrics.routing`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
