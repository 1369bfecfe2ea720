"""The catalog loads to exactly what the files say: the shipped example, multi-file merges, defaults."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from base.directory import Directory
from pipeline.catalog import Catalog, CatalogError, Investment, Owner, load_catalog

EXAMPLE = Path(__file__).resolve().parents[3] / "catalog" / "example"

APPS = """\
applications:
  - id: teams
    name: Microsoft Teams
    capability: chat
    match: {names: [ms-teams.exe]}
  - id: skype
    name: Skype for Business
    capability: chat
    sanctioned: false
    min_minutes: 2
    match: {names: [lync.exe]}
"""

PLAN = """\
objectives:
  - id: workplace
    name: Hybrid work
    initiatives:
      - id: comms
        name: One chat platform
        domain: it_strategy
        perspective: service_level
        weight: 2
        depends_on: [identity]
        investments:
          - id: teams-e3
            applications: [teams]
            annual_cost: 1000
            currency: EUR
            owner: {name: Ann, email: ann@example.org}
            go_live: 2026-01-01
            target_ratio: 0.5
            target_date: 2026-06-01
            tolerance: 0.2
      - id: identity
        name: Single sign-on
        domain: it_infrastructure
        perspective: strategy_execution
investments:
  - id: old-chat
    name: Legacy chat support
    applications: [skype, teams]
    annual_cost: 50
    currency: USD
    owner: {name: Bob, email: bob@example.org}
    go_live: 2020-01-01
    target_ratio: 0
    target_date: 2020-02-01
    curve: linear
    min_minutes: 10
settings:
  timezone: Europe/Amsterdam
  k: 10
  low_days: 3
  min_minutes: 4
"""


def test_the_shipped_minimal_example_loads_to_exactly_its_values() -> None:
    catalog = load_catalog(EXAMPLE)

    assert catalog.files == (EXAMPLE / "catalog.yaml",)
    assert list(catalog.applications) == ["teams", "zoom", "notion"]
    teams = catalog.applications["teams"]
    assert (teams.name, teams.capability, teams.vendor, teams.replaces) == (
        "Microsoft Teams",
        "chat",
        None,
        None,
    )
    assert teams.sanctioned is True
    assert teams.min_minutes == 5
    assert teams.match.names == ["Teams", "Microsoft Teams", "ms-teams.exe", "teams.exe"]
    assert teams.match.bundle_ids == ["com.microsoft.teams2"]
    assert teams.match.paths == [] and teams.match.regexes == []
    assert (teams.interchangeable_with, teams.annual_cost_per_user, teams.currency) == ([], None, None)
    zoom, notion = catalog.applications["zoom"], catalog.applications["notion"]
    assert (zoom.capability, zoom.interchangeable_with, zoom.sanctioned) == ("meetings", ["teams"], True)
    assert (notion.sanctioned, notion.annual_cost_per_user, notion.currency) == (False, 120, "EUR")

    [objective] = catalog.objectives
    assert (objective.id, objective.name, objective.description) == (
        "digital-workplace",
        "Hybrid work without friction",
        None,
    )
    [initiative] = objective.initiatives
    assert (initiative.id, initiative.name) == ("unified-comms", "One chat and meeting platform")
    assert (initiative.domain, initiative.perspective) == ("it_strategy", "technology_transformation")
    assert (initiative.weight, initiative.owner, initiative.depends_on) == (1, None, [])

    [investment] = initiative.investments
    assert investment == Investment(
        id="teams-e3",
        applications=["teams"],
        seats=400,
        annual_cost=96000,
        currency="EUR",
        owner=Owner(name="Head of Workplace", email="workplace@example.org"),
        go_live=date(2026, 9, 1),
        target_ratio=0.8,
        target_date=date(2027, 3, 1),
        target_departments=["Sales", "Support"],
    )
    assert investment.label == "teams-e3"  # name defaults to the id
    assert (investment.curve, investment.renewal_date, investment.min_minutes) == ("s_curve", None, None)
    assert (investment.tolerance, investment.low_days, investment.min_coverage) == (0.10, 7, 0.5)

    assert catalog.orphan_investments == []
    assert catalog.warnings == ()
    assert catalog.directory is None
    assert (catalog.settings.timezone, catalog.settings.k) == (None, None)
    placed = catalog.investments["teams-e3"]
    assert (placed.initiative_id, placed.objective_id) == ("unified-comms", "digital-workplace")
    assert catalog.match("ms-teams.exe") == "teams"


def _two_files(tmp_path: Path) -> Catalog:
    (tmp_path / "10-apps.yaml").write_text(APPS)
    (tmp_path / "20-plan.yml").write_text(PLAN)
    (tmp_path / "notes.txt").write_text("not: [a, catalog")  # other suffixes are ignored
    return load_catalog(tmp_path)


def test_files_in_a_folder_are_merged_in_name_order(tmp_path: Path) -> None:
    catalog = _two_files(tmp_path)

    assert catalog.files == (tmp_path / "10-apps.yaml", tmp_path / "20-plan.yml")
    assert list(catalog.applications) == ["teams", "skype"]
    assert list(catalog.initiatives) == ["comms", "identity"]
    assert catalog.initiative_objective["identity"].id == "workplace"
    assert list(catalog.investments) == ["teams-e3", "old-chat"]  # orphans last
    orphan = catalog.investments["old-chat"]
    assert (orphan.initiative, orphan.objective, orphan.initiative_id) == (None, None, None)
    assert orphan.investment.label == "Legacy chat support"
    assert catalog.investments_by_application == {"teams": ("teams-e3", "old-chat"), "skype": ("old-chat",)}


def test_settings_fill_the_defaults_that_a_file_does_not_set(tmp_path: Path) -> None:
    catalog = _two_files(tmp_path)

    assert (catalog.settings.timezone, catalog.settings.k) == ("Europe/Amsterdam", 10)
    teams_e3 = catalog.investments["teams-e3"].investment
    # low_days comes from settings; tolerance was set on the investment; min_coverage stays the default.
    assert (teams_e3.low_days, teams_e3.tolerance, teams_e3.min_coverage) == (3, 0.2, 0.5)
    assert catalog.applications["teams"].min_minutes == 4  # settings.min_minutes
    assert catalog.applications["skype"].min_minutes == 2  # its own override
    assert catalog.min_minutes("teams") == 4
    assert catalog.min_minutes("teams", "old-chat") == 10  # the investment's override wins
    assert catalog.min_minutes("skype", "teams-e3") == 2  # no investment override: the application's


def test_unsanctioned_application_in_an_investment_is_a_warning_not_an_error(tmp_path: Path) -> None:
    catalog = _two_files(tmp_path)

    assert [str(w) for w in catalog.warnings] == [
        f"{tmp_path / '20-plan.yml'}:28: investments[0].applications[0]: warning: application 'skype' is not sanctioned"
    ]


def test_interchangeable_marks_and_prices_load_and_an_unsanctioned_mark_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "10-apps.yaml").write_text(
        APPS
        + """\
  - id: slack
    name: Slack
    capability: chat
    interchangeable_with: [teams, skype]
    annual_cost_per_user: 87.5
    currency: USD
    match: {names: [slack.exe]}
"""
    )
    (tmp_path / "20-plan.yml").write_text(PLAN)
    catalog = load_catalog(tmp_path)
    slack = catalog.applications["slack"]
    assert (slack.interchangeable_with, slack.annual_cost_per_user, slack.currency) == (["teams", "skype"], 87.5, "USD")
    assert [str(w) for w in catalog.warnings] == [
        f"{tmp_path / '10-apps.yaml'}:15: applications[2].interchangeable_with[1]: warning: 'skype' is not "
        "sanctioned: it is shadow IT, never proposed for consolidation",
        f"{tmp_path / '20-plan.yml'}:28: investments[0].applications[0]: warning: application 'skype' is not "
        "sanctioned",
    ]


def test_population_follows_target_departments_and_needs_a_directory(tmp_path: Path) -> None:
    directory = Directory({"u1": "Sales", "u2": "Support", "u3": "Finance"})
    with_dir = load_catalog(EXAMPLE, directory)
    assert with_dir.population("teams-e3") == frozenset({"u1", "u2"})
    assert load_catalog(EXAMPLE).population("teams-e3") is None

    catalog = _two_files(tmp_path)
    assert catalog.population("old-chat") is None


def test_a_single_file_can_be_loaded_directly(tmp_path: Path) -> None:
    catalog = load_catalog(EXAMPLE / "catalog.yaml")
    assert list(catalog.investments) == ["teams-e3"]


def test_numbers_are_accepted_where_text_is_expected(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("applications:\n  - id: 365\n    name: 2024\n    capability: suite\n")
    (tmp_path / "plan.yaml").write_text(PLAN.replace("[teams]", "['365']").replace("[skype, teams]", "['365']"))
    app = load_catalog(tmp_path).applications["365"]
    assert (app.id, app.name) == ("365", "2024")


def test_an_empty_or_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as empty:
        load_catalog(tmp_path)
    assert str(empty.value) == f"{tmp_path}: (folder): no catalog files (*.yaml, *.yml) in this folder"

    with pytest.raises(CatalogError) as missing:
        load_catalog(tmp_path / "nope")
    assert str(missing.value) == f"{tmp_path / 'nope'}: (folder): no such catalog folder or file"
