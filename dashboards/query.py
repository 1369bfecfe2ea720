"""One PromQL query of a panel, before it becomes a Grafana target."""

from __future__ import annotations

from typing import NamedTuple

from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.models.prometheus import PromQueryFormat, QueryEditorMode

from dashboards import datasource


class Query(NamedTuple):
    """A PromQL expression and how the panel shows it; `table` asks for an instant query in table format."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


def ref_id(index: int) -> str:
    """A, B, ... Z, AA, AB, ...: Grafana's refId sequence."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def target(query: Query, index: int) -> prometheus.Dataquery:
    """The Grafana target for the panel's `index`-th query (refId set, datasource explicit)."""
    built = (
        prometheus.Dataquery()
        .ref_id(ref_id(index))
        .datasource(datasource.ref())
        .expr(query.expr)
        .editor_mode(QueryEditorMode.CODE)
    )
    if query.legend:
        built = built.legend_format(query.legend)
    built = built.instant() if query.instant or query.table else built.range()
    if query.table:
        built = built.format(PromQueryFormat.TABLE)
    return built
