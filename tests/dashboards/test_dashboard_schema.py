"""Every built dashboard, panel and target validates against Grafana's JSON Schemas."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dashboards.build import panels

SHARED = Path("/work/shared/data/grafana-schema")


def test_every_dashboard_validates(grafana_schemas: Any, built: dict[str, dict[str, Any]]) -> None:
    assert sorted(built) == [
        "alignmon-applications.json",
        "alignmon-collectors.json",
        "alignmon-investment.json",
        "alignmon-pipeline.json",
        "alignmon-portfolio.json",
    ]
    for name, dashboard in built.items():
        assert grafana_schemas.errors(dashboard) == [], name


def test_every_panel_type_has_a_schema(grafana_schemas: Any, built: dict[str, dict[str, Any]]) -> None:
    kinds = {p["type"] for d in built.values() for p in panels(d)}
    assert kinds == {"timeseries", "stat", "bargauge", "table"}
    assert all(f"{k}.jsonschema.json" in grafana_schemas.files for k in kinds)


def test_the_validator_catches_broken_dashboards(grafana_schemas: Any, built: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(built["alignmon-portfolio.json"])
    del broken["schemaVersion"]
    stat = next(p for p in broken["panels"] if p["type"] == "stat")
    stat["options"]["colorMode"] = "rainbow"
    stat["targets"][0]["format"] = "csv"
    stat["gridPos"]["w"] = 25
    errors = "\n".join(grafana_schemas.errors(broken))
    assert "'schemaVersion' is a required property" in errors
    assert "'rainbow' is not one of" in errors
    assert "'csv' is not one of" in errors
    assert "25 is greater than the maximum of 24" in errors


def test_unknown_panel_type_is_reported(grafana_schemas: Any) -> None:
    dashboard = {
        "schemaVersion": 42,
        "templating": {"list": []},
        "annotations": {},
        "panels": [{"type": "worldmap", "title": "Map"}],
    }
    assert grafana_schemas.errors(dashboard) == ["panel 'Map' (worldmap): no schema for panel type worldmap"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared schema folder exists on the project's machines only")
def test_vendored_schemas_match_the_shared_ones(grafana_schemas: Any) -> None:
    shared = {p.name: p.read_bytes() for p in SHARED.iterdir() if p.name != "README.md"}
    vendored = {p.name: p.read_bytes() for p in grafana_schemas.folder.iterdir() if p.name != "README.md"}
    assert vendored == shared
