"""Fixtures for the dashboard tests: the built dashboards and a validator for Grafana's JSON Schemas."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

# The SDK's v1 dashboard builder warns "prefer dashboardv2" at import; Grafana 12 still serves v1 JSON.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from dashboards.build import build_all, panels
from metrics.thresholds import load

SCHEMA_DIR = Path(__file__).with_name("grafana_schema")
# Where an organisation publishes docs/runbooks.md (ALIGNMON_RUNBOOK_URL); dashboards link its sections.
RUNBOOKS = "https://docs.example.org/alignmon/runbooks.md"


class GrafanaSchemas:
    """Validates a dashboard, each panel's options/custom field config and each target against the schemas.

    The schema files refer to each other by file name, so every file is registered under its name
    and `$ref`s resolve relative to the folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.jsonschema.json"))}
        self.registry: Registry[Any] = Registry().with_resources(
            (name, Resource.from_contents(schema, default_specification=DRAFT7)) for name, schema in self.files.items()
        )

    def _validator(self, ref: str) -> Draft7Validator:
        return Draft7Validator({"$ref": ref}, registry=self.registry)

    def _check(self, ref: str, instance: Any, where: str) -> list[str]:
        # A oneOf (panel or row) failure is reported by its deepest sub-errors, not as the whole panel.
        found = []
        for e in self._validator(ref).iter_errors(instance):
            deepest = max((len(c.absolute_path) for c in e.context), default=0)
            causes = [c for c in e.context if len(c.absolute_path) == deepest] or [e]
            found += [f"{where}: {c.json_path}: {c.message[:300]}" for c in causes]
        return found

    def has(self, ref: str) -> bool:
        name, _, pointer = ref.partition("#")
        node: Any = self.files.get(name)
        for part in pointer.strip("/").split("/") if pointer else []:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return node is not None

    def errors(self, dashboard: dict[str, Any]) -> list[str]:
        """Every schema violation, each prefixed with where it is."""
        found = self._check("dashboard.jsonschema.json", dashboard, "dashboard")
        for panel in panels(dashboard):
            where = f"panel {panel.get('title')!r} ({panel['type']})"
            kind = f"{panel['type']}.jsonschema.json"
            if kind not in self.files:
                found.append(f"{where}: no schema for panel type {panel['type']}")
                continue
            found += self._check(f"{kind}#/definitions/Options", panel.get("options", {}), f"{where} options")
            custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
            if custom is not None and self.has(f"{kind}#/definitions/FieldConfig"):
                found += self._check(f"{kind}#/definitions/FieldConfig", custom, f"{where} custom field config")
            for t in panel.get("targets", []):
                found += self._check("prometheus.jsonschema.json", t, f"{where} target {t.get('refId')}")
        return found


@pytest.fixture(scope="session")
def grafana_schemas() -> GrafanaSchemas:
    return GrafanaSchemas(SCHEMA_DIR)


@pytest.fixture(scope="session")
def built() -> dict[str, dict[str, Any]]:
    """file name -> dashboard JSON (plain dicts), built from the shipped thresholds."""
    return build_all(load(), RUNBOOKS)
