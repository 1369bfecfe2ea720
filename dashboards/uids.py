"""Stable dashboard uids: links, provisioning and `push` find the dashboards by these."""

from __future__ import annotations

PORTFOLIO = "alignmon-portfolio"
INVESTMENT = "alignmon-investment"
APPLICATIONS = "alignmon-applications"
PIPELINE = "alignmon-pipeline"
COLLECTORS = "alignmon-collectors"
