"""Field-override properties (Grafana DynamicConfigValue) for one column or series of a panel.

Only object-valued properties: the dashboard schema types DynamicConfigValue.value as an object,
so scalar overrides (unit, decimals) and list overrides (mappings, links) are set on the panel instead.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as dm

from dashboards.panels import Steps

Properties = list[dm.DynamicConfigValue]


def text_colour() -> dm.DynamicConfigValue:
    """Colour a table cell's text: by the value mappings' colours for text, else by the thresholds."""
    return dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"})


def coloured(steps: Steps) -> Properties:
    """Colour a table cell's text by threshold steps."""
    return [
        dm.DynamicConfigValue(
            id_val="thresholds",
            value={"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]},
        ),
        text_colour(),
    ]
