"""The directory CSV and the catalog YAML agree with each other and with the events."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

from base.directory import load_directory
from collectors.simulate import Organisation
from collectors.simulate.applications import APPS

DOMAINS = {"business_strategy", "it_strategy", "organisational_infrastructure", "it_infrastructure"}
PERSPECTIVES = {"strategy_execution", "technology_transformation", "competitive_potential", "service_level"}
INVESTMENT_KEYS = {
    "id", "name", "applications", "seats", "annual_cost", "currency", "owner", "go_live", "target_ratio",
    "target_date", "curve", "target_departments", "renewal_date",
}  # fmt: skip


def test_directory_csv_has_a_header_and_stable_names(org: Organisation, tmp_path: Path) -> None:
    path = tmp_path / "directory.csv"
    org.write_directory(path)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["user", "department"]
    assert len(rows) == 1 + 207
    names = [r[0] for r in rows[1:]]
    assert len(set(names)) == len(names)
    assert "sales.017" in names and "legal.004" in names and "legal.005" not in names
    assert all(re.fullmatch(r"[a-z]+\.\d{3}", n) for n in names)
    assert sum(1 for r in rows[1:] if r[1] == "Legal") == 4  # below k = 5 on purpose


def test_catalog_structure(catalog_doc: dict[str, Any], investments: dict[str, dict[str, Any]]) -> None:
    assert set(catalog_doc) == {"applications", "objectives", "investments", "settings"}
    for app in catalog_doc["applications"]:
        assert {"id", "name", "vendor", "capability", "sanctioned", "match"} <= set(app)
        assert isinstance(app["sanctioned"], bool)
        assert set(app["match"]) == {"names", "bundle_ids", "paths", "regexes"}
    for objective in catalog_doc["objectives"]:
        for initiative in objective["initiatives"]:
            assert initiative["domain"] in DOMAINS
            assert initiative["perspective"] in PERSPECTIVES
            assert initiative["weight"] > 0 and "@" in initiative["owner"]["email"]
    for inv in investments.values():
        assert set(inv) == INVESTMENT_KEYS
        assert isinstance(inv["go_live"], date) and isinstance(inv["target_date"], date)
        assert isinstance(inv["renewal_date"], date)
        assert inv["go_live"] < inv["target_date"]
        assert 0 < inv["target_ratio"] <= 1 and inv["curve"] in {"s_curve", "linear"}
        assert inv["currency"] == "EUR" and inv["annual_cost"] > 0 and inv["seats"] > 0
    ids = [a["id"] for a in catalog_doc["applications"]]
    assert len(ids) == len(set(ids))


def test_catalog_references_resolve(
    org: Organisation, catalog_doc: dict[str, Any], investments: dict[str, dict[str, Any]]
) -> None:
    apps = {a["id"]: a for a in catalog_doc["applications"]}
    departments = {d for _, d in org.directory_rows()}
    for inv in investments.values():
        assert set(inv["applications"]) <= set(apps), inv["id"]
        assert set(inv["target_departments"]) <= departments, inv["id"]
    for app in apps.values():
        if "replaces" in app:
            assert app["replaces"] in apps
    assert apps["teams"]["replaces"] == "skype_business"
    assert apps["notion"]["sanctioned"] is False
    assert "obsidian" not in apps  # used, but uncatalogued


def test_orphan_investment_is_tied_to_no_initiative(catalog_doc: dict[str, Any]) -> None:
    placed = {inv["id"] for o in catalog_doc["objectives"] for i in o["initiatives"] for inv in i["investments"]}
    orphans = {inv["id"] for inv in catalog_doc["investments"]}
    assert orphans == {"inv-zoom"}
    assert placed.isdisjoint(orphans)
    assert len(placed) == 4


def test_catalog_dates_move_with_the_as_of_day() -> None:
    def dates(as_of: date) -> list[date]:
        doc = Organisation.build(42, 1.0, as_of).catalog()
        invs = [v for o in doc["objectives"] for i in o["initiatives"] for v in i["investments"]] + doc["investments"]
        return [inv[k] for inv in invs for k in ("go_live", "target_date", "renewal_date")]

    early, late = dates(date(2026, 1, 5)), dates(date(2026, 1, 15))
    assert [b - a for a, b in zip(early, late, strict=True)] == [timedelta(days=10)] * len(early)


def test_seats_follow_the_target_population(investments: dict[str, dict[str, Any]]) -> None:
    # Sales 60 + Finance 15 = 75 users; Tableau bought two seats per user, CRM 10% spare for Sales + Support.
    assert investments["inv-tableau"]["seats"] == 150
    assert investments["inv-crm-rollout"]["seats"] == 110
    assert investments["inv-teams"]["seats"] == 207 and investments["inv-teams"]["target_departments"] == []
    for inv in investments.values():
        assert inv["annual_cost"] % inv["seats"] == 0


def _own_rules_match(raw: str, match: dict[str, list[str]]) -> bool:
    # The catalog's documented semantics: exact names/bundle ids (case-insensitive, '.exe' optional, whole
    # identifier or a path's basename), path globs ('*' within one folder, '**' across), regexes searched.
    def key(text: str) -> str:
        text = text.casefold()
        return text.removesuffix(".exe")

    path = raw.replace("\\", "/")
    exact = {key(n) for n in match["names"] + match["bundle_ids"]}
    if key(path) in exact or key(path.rsplit("/", 1)[-1]) in exact:
        return True
    for glob in match["paths"]:
        parts, pattern = path.casefold().split("/"), glob.replace("\\", "/").casefold().split("/")
        if "**" not in pattern and len(parts) == len(pattern):
            if all(fnmatchcase(p, g) for p, g in zip(parts, pattern, strict=True)):
                return True
        elif "**" in pattern and fnmatchcase(path.casefold(), glob.replace("\\", "/").casefold().replace("**", "*")):
            return True
    return any(re.search(r, raw) for r in match["regexes"])


def test_every_identifier_the_simulator_emits_is_recognised(catalog_doc: dict[str, Any]) -> None:
    rules = {a["id"]: a["match"] for a in catalog_doc["applications"]}
    for app in APPS:
        for raw in app.identifiers():
            if app.catalogued:
                assert _own_rules_match(raw, rules[app.id]), (app.id, raw)
            else:
                assert not any(_own_rules_match(raw, m) for m in rules.values()), raw


def test_exact_rules_name_one_application_each(catalog_doc: dict[str, Any]) -> None:
    owners: dict[str, str] = {}
    for app in catalog_doc["applications"]:
        for name in app["match"]["names"] + app["match"]["bundle_ids"]:
            key = name.casefold().removesuffix(".exe")
            assert owners.setdefault(key, app["id"]) == app["id"], name


def test_the_pipelines_catalog_loader_accepts_it_and_maps_every_identifier(org: Organisation, tmp_path: Path) -> None:
    catalog_pkg = pytest.importorskip("pipeline.catalog")
    org.write_catalog(tmp_path / "catalog.yaml")
    org.write_directory(tmp_path / "directory.csv")
    directory = load_directory(tmp_path / "directory.csv", b"k")
    catalog = catalog_pkg.load_catalog(tmp_path / "catalog.yaml", directory)
    assert catalog.warnings == ()
    matcher = catalog_pkg.AppMatcher(catalog.applications.values())
    for app in APPS:
        for raw in app.identifiers():
            assert matcher.match(raw) == (app.id if app.catalogued else None), raw


def test_yaml_is_plain_and_commented(org: Organisation, tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    org.write_catalog(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Generated by `alignmon simulate` (seed 42")
    assert "!!python" not in text
    assert yaml.safe_load(text)["settings"] == {"timezone": "UTC"}
