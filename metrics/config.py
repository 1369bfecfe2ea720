"""The Prometheus rules and Alertmanager configuration that alignmon ships."""

from __future__ import annotations

from pathlib import Path

RULES_DIR = Path(__file__).with_name("rules")
ALERTMANAGER_DIR = Path(__file__).with_name("alertmanager")


def rule_files() -> list[Path]:
    """Every shipped rule file, in a stable order."""
    return sorted(RULES_DIR.glob("*.yml"))


def local_alertmanager_yaml(webhook_url: str) -> str:
    """Routing for the local stack: every alert to one webhook (the demo prints what arrives)."""
    return f"""\
route:
  receiver: local-webhook
  group_by: [alertname, investment]
  group_wait: 2s
  group_interval: 10s
  repeat_interval: 4h
receivers:
  - name: local-webhook
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
"""
