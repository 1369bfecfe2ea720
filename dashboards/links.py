"""Links between the alignmon dashboards and to the alert runbooks (docs/runbooks.md)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.models import dashboard as dm

TAG = "alignmon"


def dashboards_menu() -> sdk.DashboardLink:
    """A drop-down of every alignmon dashboard (by tag), keeping time range and variables."""
    return (
        sdk.DashboardLink("alignmon dashboards")
        .type(dm.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True)
        .icon("external link")
        .tooltip("Portfolio, investment detail, applications, pipeline health, collectors")
        .target_blank(False)
    )


def runbooks(base_url: str) -> sdk.DashboardLink:
    """The runbooks page: what to do for every alert."""
    return (
        sdk.DashboardLink("Runbooks")
        .type(dm.DashboardLinkType.LINK)
        .url(base_url)
        .icon("doc")
        .tooltip("What to do when an alignmon alert fires")
        .tags([])
        .as_dropdown(False)
        .include_vars(False)
        .keep_time(False)
        .target_blank(True)
    )


def runbook(base_url: str, alert: str) -> sdk.DashboardLink:
    """The runbook section of one alert (anchor = alert name lower-cased, as the alert's runbook_url)."""
    return (
        sdk.DashboardLink(f"Runbook: {alert}")
        .type(dm.DashboardLinkType.LINK)
        .url(f"{base_url}#{alert.lower()}")
        .icon("doc")
        .tooltip(f"What to do when {alert} fires")
        .tags([])
        .as_dropdown(False)
        .include_vars(False)
        .keep_time(False)
        .target_blank(True)
    )


def to_dashboard(title: str, uid: str, query: str = "") -> sdk.DashboardLink:
    """A link to another alignmon dashboard by uid; `query` adds URL parameters (var-x=...)."""
    url = f"/d/{uid}" + (f"?{query}" if query else "")
    return (
        sdk.DashboardLink(title)
        .type(dm.DashboardLinkType.LINK)
        .url(url)
        .icon("dashboard")
        .tooltip(title)
        .tags([])
        .as_dropdown(False)
        .include_vars(False)
        .keep_time(True)
        .target_blank(False)
    )
