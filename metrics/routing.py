"""alignmon's Alertmanager configuration: owners get their adoption alerts, IT operations the rest.

`alertmanager_config()` renders it; metrics/alertmanager/alertmanager.yml is that rendering with
DEFAULTS (`python -m metrics.routing` rewrites it, `--check` fails when it is stale). The e-mail
templates are inline, so the rendered text works wherever it is written, with no template files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from metrics.config import ALERTMANAGER_DIR

ALERTMANAGER_YML = ALERTMANAGER_DIR / "alertmanager.yml"
OWNER_RECEIVER = "investment-owner"
ITOPS_RECEIVER = "itops"

# The placeholders the shipped file is rendered with; replace them with your own.
DEFAULTS: dict[str, str] = {
    "smtp_smarthost": "localhost:25",
    "smtp_from": "alignmon@example.org",
    "webhook_url": "http://alert-webhook.example.org/alignmon",
    "itops_email": "itops@example.org",
}

# @@NAME@@ tokens are filled in as YAML double-quoted scalars; Go templates ({{ }}) stay as they are.
_TEMPLATE = """\
# Alertmanager configuration for alignmon, rendered by metrics.routing.alertmanager_config():
# regenerate with `python -m metrics.routing`, do not edit by hand. This shipped copy uses
# placeholders: a local mail relay (localhost:25, no TLS), alignmon@example.org as sender, an
# example webhook and itops@example.org; render your own with the real values.
#
# - Adoption alerts (audience=owner) go to the investment's owner: e-mail to the alert's
#   owner_email label (from the catalog) and the webhook. Without an owner_email they fall back
#   to IT operations.
# - Pipeline health and governance alerts (team=itops) go to IT operations: e-mail and webhook.
# - While ExporterDown or PipelineStalled fires the figures are frozen, so adoption and
#   shadow-IT alerts are inhibited: owners are not told stale news.
# Check with: amtool check-config <this file>
global:
  smtp_smarthost: @@SMTP_SMARTHOST@@
  smtp_from: @@SMTP_FROM@@
  smtp_require_tls: @@SMTP_REQUIRE_TLS@@
  resolve_timeout: 5m

route:
  receiver: @@ITOPS_RECEIVER@@
  group_by: [alertname, initiative, job]
  group_wait: @@GROUP_WAIT@@
  group_interval: @@GROUP_INTERVAL@@
  repeat_interval: 4h
  routes:
    - receiver: @@OWNER_RECEIVER@@
      matchers:
        - audience="owner"
        - owner_email=~".+@.+"
      # One mail per owner, initiative and alert kind, listing every investment concerned.
      group_by: [owner_email, initiative, alertname]
      # Adoption moves over days: one reminder a day is enough for a manager.
      repeat_interval: 24h
    - receiver: @@ITOPS_RECEIVER@@
      matchers:
        - team="itops"

inhibit_rules:
  - source_matchers:
      - alertname=~"ExporterDown|PipelineStalled"
    target_matchers:
      - audience=~"owner|governance"

receivers:
  - name: @@OWNER_RECEIVER@@
    email_configs:
      - to: '{{ .CommonLabels.owner_email }}'
        send_resolved: true
        headers:
          Subject: '[alignmon] {{ if eq .Status "resolved" }}RESOLVED: {{ end }}{{ .CommonLabels.alertname }}:
            {{- if eq (len .Alerts) 1 }} {{ (index .Alerts 0).Annotations.summary }}
            {{- else }} {{ len .Alerts }} investments
            {{- with .CommonLabels.initiative }} of {{ . }}{{ end }}{{ end }}'
        html: ''
        text: |
          Hello {{ .CommonLabels.owner }},

          alignmon compares how your investments are used with the adoption you planned for them.
          {{ range .Alerts.Firing }}
          == {{ .Labels.alertname }}: {{ .Annotations.summary }}
          {{ .Annotations.description }}
          Runbook: {{ .Annotations.runbook_url }}
          {{ end }}{{ if .Alerts.Resolved }}
          Resolved since the last mail:
          {{ range .Alerts.Resolved }}- {{ .Labels.alertname }}: {{ .Annotations.summary }}
          {{ end }}{{ end }}
          -- alignmon, via Alertmanager {{ .ExternalURL }}
    webhook_configs:
      - url: @@WEBHOOK_URL@@
        send_resolved: true
  - name: @@ITOPS_RECEIVER@@
    email_configs:
      - to: @@ITOPS_EMAIL@@
        send_resolved: true
        headers:
          Subject: '[alignmon] {{ if eq .Status "resolved" }}RESOLVED: {{ end }}{{ .CommonLabels.alertname }}:
            {{- if eq (len .Alerts) 1 }} {{ (index .Alerts 0).Annotations.summary }}
            {{- else }} {{ len .Alerts }} alerts{{ end }}'
        html: ''
        text: |
          {{ range .Alerts.Firing }}
          == {{ .Labels.alertname }} ({{ .Labels.severity }}): {{ .Annotations.summary }}
          {{ .Annotations.description }}
          Runbook: {{ .Annotations.runbook_url }}
          {{ end }}{{ if .Alerts.Resolved }}
          Resolved:
          {{ range .Alerts.Resolved }}- {{ .Labels.alertname }}: {{ .Annotations.summary }}
          {{ end }}{{ end }}
          -- alignmon, via Alertmanager {{ .ExternalURL }}
    webhook_configs:
      - url: @@WEBHOOK_URL@@
        send_resolved: true
"""


def _scalar(value: str | bool) -> str:
    """A YAML scalar that reads back as exactly `value` (JSON strings are YAML double-quoted strings)."""
    return json.dumps(value)


def alertmanager_config(  # noqa: PLR0917 (the signature the end-to-end tests call positionally)
    smtp_smarthost: str,
    smtp_from: str,
    webhook_url: str,
    itops_email: str,
    group_wait: str = "30s",
    group_interval: str = "5m",
    *,
    smtp_require_tls: bool = False,
) -> str:
    """alertmanager.yml text: owner e-mail + webhook for adoption alerts, IT operations for the rest.

    Example: `alertmanager_config("127.0.0.1:2525", "alignmon@test", "http://127.0.0.1:9/hook",
    "ops@test", group_wait="1s", group_interval="1s")` for a test stack with an SMTP sink.
    """
    values: dict[str, str | bool] = {
        "SMTP_SMARTHOST": smtp_smarthost,
        "SMTP_FROM": smtp_from,
        "SMTP_REQUIRE_TLS": smtp_require_tls,
        "WEBHOOK_URL": webhook_url,
        "ITOPS_EMAIL": itops_email,
        "GROUP_WAIT": group_wait,
        "GROUP_INTERVAL": group_interval,
        "OWNER_RECEIVER": OWNER_RECEIVER,
        "ITOPS_RECEIVER": ITOPS_RECEIVER,
    }
    text = _TEMPLATE
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", _scalar(value))
    return text


def default_alertmanager_config() -> str:
    """The shipped metrics/alertmanager/alertmanager.yml: the rendering with DEFAULTS."""
    d = DEFAULTS
    return alertmanager_config(d["smtp_smarthost"], d["smtp_from"], d["webhook_url"], d["itops_email"])


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
