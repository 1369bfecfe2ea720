"""The frame every alignmon dashboard shares: uid, tags, time range, variables, annotations and links."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import links
from dashboards.layout import Row, place


def board(
    uid: str,
    title: str,
    description: str,
    *,
    rows: Sequence[Row],
    variables: Sequence[sdk.QueryVariable] = (),
    annotations: Sequence[sdk.AnnotationQuery] = (),
    runbook_base_url: str,
    time_from: str = "now-90d",
    refresh: str = "5m",
) -> sdk.Dashboard:
    """A dashboard with alignmon's frame around the given rows (no ids, versions or timestamps)."""
    built = (
        sdk.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([links.TAG])
        .timezone("browser")
        .time(time_from, "now")
        .refresh(refresh)
        .readonly()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .link(links.dashboards_menu())
        .link(links.runbooks(runbook_base_url))
    )
    for variable in variables:
        built = built.with_variable(variable)
    for annotation in annotations:
        built = built.annotation(annotation)
    return place(built, rows)
