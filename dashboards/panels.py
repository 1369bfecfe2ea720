"""Panel builders with alignmon's defaults: datasource, refIds, units, thresholds, legends.

Thin wrappers over grafana-foundation-sdk so the dashboard modules read as a list of what each
panel shows; every panel gets a description (the docs explain it further) and explicit units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import bargauge, common, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from dashboards import datasource
from dashboards.query import Query, target

# Threshold steps: (lower bound, colour); the first bound is None (= -Infinity, Grafana's base step).
Steps = Sequence[tuple[float | None, str]]

NEUTRAL: Steps = ((None, "blue"),)


class PanelBuilder(Protocol):
    """What every SDK panel builder offers that alignmon uses."""

    def build(self) -> dm.Panel: ...
    def title(self, title: str) -> Self: ...
    def description(self, description: str) -> Self: ...
    def datasource(self, datasource: cm.DataSourceRef) -> Self: ...
    def with_target(self, target: cogbuilder.Builder[cogvariants.Dataquery]) -> Self: ...
    def unit(self, unit: str) -> Self: ...
    def decimals(self, decimals: float) -> Self: ...
    def min(self, min_val: float) -> Self: ...
    def max(self, max_val: float) -> Self: ...
    def thresholds(self, thresholds: cogbuilder.Builder[dm.ThresholdsConfig]) -> Self: ...
    def links(self, links: list[cogbuilder.Builder[dm.DashboardLink]]) -> Self: ...
    def mappings(self, mappings: list[dm.ValueMapping]) -> Self: ...
    def with_override(self, matcher: dm.MatcherConfig, properties: list[dm.DynamicConfigValue]) -> Self: ...


P = TypeVar("P", bound=PanelBuilder)


def thresholds(steps: Steps) -> sdk.ThresholdsConfig:
    """Absolute threshold steps."""
    return (
        sdk.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def value_text(texts: Mapping[str, tuple[str, str]]) -> list[dm.ValueMapping]:
    """Value mappings {raw value: (text, colour)}, e.g. 1 -> ("at risk", "red")."""
    return [
        dm.ValueMap(
            options={
                raw: dm.ValueMappingResult(text=text, color=color, index=i)
                for i, (raw, (text, color)) in enumerate(texts.items())
            }
        )
    ]


def fields(panel: P, properties: Mapping[str, list[dm.DynamicConfigValue]]) -> P:
    """Override field config per field (series or column) display name.

    Uses the `byNames` matcher, whose options are an object: the schema's MatcherConfig wants one,
    while the SDK's override_by_name emits `byName` with a bare string.
    """
    for name, props in properties.items():
        matcher = dm.MatcherConfig(id_val="byNames", options={"mode": "include", "names": [name]})
        panel = panel.with_override(matcher, props)
    return panel


def colour_by_name(panel: P, colours: Mapping[str, str]) -> P:
    """A fixed colour per series name (e.g. a status)."""
    return fields(
        panel,
        {
            name: [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})]
            for name, colour in colours.items()
        },
    )


def _common(
    panel: P,
    title: str,
    *,
    description: str,
    queries: Sequence[Query],
    unit: str,
    steps: Steps,
    links: Sequence[sdk.DashboardLink],
) -> P:
    if not queries:
        raise ValueError(f"panel {title!r} has no query")
    panel = (
        panel.title(title)
        .description(description)
        .datasource(datasource.ref())
        .unit(unit)
        .thresholds(thresholds(steps))
    )
    for i, query in enumerate(queries):
        panel = panel.with_target(target(query, i))
    if links:
        panel = panel.links(list(links))
    return panel


def _legend() -> common.VizLegendOptions:
    return (
        common.VizLegendOptions()
        .show_legend(True)
        .display_mode(cm.LegendDisplayMode.LIST)
        .placement(cm.LegendPlacement.BOTTOM)
        .calcs([])
    )


def _last_value() -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    steps: Steps = NEUTRAL,
    minimum: float | None = None,
    maximum: float | None = None,
    links: Sequence[sdk.DashboardLink] = (),
    threshold_lines: bool = False,
) -> timeseries.Panel:
    """Values over time; `threshold_lines` draws the threshold steps as dashed lines."""
    panel = _common(
        timeseries.Panel(), title, description=description, queries=queries, unit=unit, steps=steps, links=links
    )
    panel = (
        panel.legend(_legend())
        .tooltip(common.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING))
        .line_width(2)
        .fill_opacity(10)
        .span_nulls(False)
    )
    if threshold_lines:
        panel = panel.thresholds_style(common.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    return panel


def stat_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    steps: Steps = NEUTRAL,
    mappings: Mapping[str, tuple[str, str]] | None = None,
    text: Literal["auto", "value_and_name", "name"] = "auto",
    decimals: int | None = None,
    links: Sequence[sdk.DashboardLink] = (),
) -> stat.Panel:
    """The latest value, coloured by the threshold steps (or by value mappings); `text` picks value and/or name."""
    # Instant queries: the panel shows now, and a state set filtered with `== 1` must not show past states.
    queries = [q._replace(instant=True) for q in queries]
    panel = _common(stat.Panel(), title, description=description, queries=queries, unit=unit, steps=steps, links=links)
    panel = (
        panel.reduce_options(_last_value())
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode(text))
        .justify_mode(cm.BigValueJustifyMode.AUTO)
        .orientation(cm.VizOrientation.AUTO)
        .wide_layout(True)
        .show_percent_change(False)
        .percent_change_color_mode(cm.PercentChangeColorMode.STANDARD)
    )
    if mappings:
        panel = panel.mappings(value_text(mappings))
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def bars_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    steps: Steps = NEUTRAL,
    minimum: float | None = None,
    maximum: float | None = None,
    links: Sequence[sdk.DashboardLink] = (),
) -> bargauge.Panel:
    """One horizontal bar per series (latest value, instant queries), coloured by the threshold steps."""
    queries = [q._replace(instant=True) for q in queries]
    panel = _common(
        bargauge.Panel(), title, description=description, queries=queries, unit=unit, steps=steps, links=links
    )
    panel = (
        panel.reduce_options(_last_value())
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .show_unfilled(True)
        .value_mode(cm.BarGaugeValueMode.COLOR)
        .name_placement(cm.BarGaugeNamePlacement.AUTO)
        .sizing(cm.BarGaugeSizing.AUTO)
        .min_viz_width(8)
        .min_viz_height(16)
        .max_viz_height(300)
        .legend(_legend().show_legend(False))
    )
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    return panel


def table_panel(
    title: str,
    description: str,
    queries: Sequence[Query],
    *,
    unit: str,
    steps: Steps = NEUTRAL,
    decimals: int | None = None,
    transformations: Sequence[dm.DataTransformerConfig] = (),
    links: Sequence[sdk.DashboardLink] = (),
    data_links: Sequence[sdk.DashboardLink] = (),
) -> table.Panel:
    """Rows of instant-query results (queries should set `table=True`); `data_links` apply to every cell."""
    panel = _common(table.Panel(), title, description=description, queries=queries, unit=unit, steps=steps, links=links)
    panel = panel.frame_index(0).show_header(True).cell_height(cm.TableCellHeight.SM)
    if decimals is not None:
        panel = panel.decimals(decimals)
    if data_links:
        panel = panel.data_links(list(data_links))
    for transformation in transformations:
        panel = panel.with_transformation(transformation)
    return panel


def merge_and_organise(rename: Mapping[str, str], hide: Sequence[str]) -> list[dm.DataTransformerConfig]:
    """Join table-format queries on their common labels, then rename and hide columns; the shown columns come in
    the order `rename` names them."""
    return [
        dm.DataTransformerConfig(id_val="merge", options={}),
        dm.DataTransformerConfig(
            id_val="organize",
            options={
                "excludeByName": dict.fromkeys(hide, True),
                "renameByName": dict(rename),
                "indexByName": {name: i for i, name in enumerate(rename)},
            },
        ),
    ]
