"""Every kind of catalog error names the file, the exact line and the field path."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.directory import Directory
from pipeline.catalog import CatalogError, CatalogIssue, load_catalog

# Line numbers are part of the tests: edits below replace one line with one line so they stay put.
BASE = """\
applications:
  - id: teams
    name: Teams
    capability: chat
    match:
      names: [teams.exe]
  - id: zoom
    name: Zoom
    capability: meetings
    match: {names: [zoom.exe]}
objectives:
  - id: obj
    name: Objective
    initiatives:
      - id: ini
        name: Initiative
        domain: it_strategy
        perspective: service_level
        depends_on: []
        investments:
          - id: inv
            applications:
              - teams
              - zoom
            annual_cost: 1200
            currency: EUR
            owner: {name: Ann, email: ann@example.org}
            go_live: 2026-01-01
            target_ratio: 0.8
            target_date: 2026-12-31
            target_departments: [Sales, Support]
"""

INV = "objectives[0].initiatives[0].investments[0]"


def _edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    assert "\n" not in new
    return BASE.replace(old, new)


def _errors(tmp_path: Path, text: str, *more: tuple[str, str]) -> list[CatalogIssue]:
    (tmp_path / "base.yaml").write_text(text)
    for name, extra in more:
        (tmp_path / name).write_text(extra)
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    assert str(caught.value) == "\n".join(str(issue) for issue in caught.value.issues)
    return list(caught.value.issues)


def _one(tmp_path: Path, text: str, *more: tuple[str, str]) -> CatalogIssue:
    [issue] = _errors(tmp_path, text, *more)
    return issue


def test_the_base_fixture_is_valid(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(BASE)
    catalog = load_catalog(tmp_path)
    assert list(catalog.investments) == ["inv"]


def test_out_of_range_ratio_names_file_line_and_field(tmp_path: Path) -> None:
    issue = _one(tmp_path, _edit("target_ratio: 0.8", "target_ratio: 1.5"))
    assert str(issue) == f"{tmp_path / 'base.yaml'}:29: {INV}.target_ratio: must be between 0 and 1 (got 1.5)"
    assert issue == CatalogIssue(
        str(tmp_path / "base.yaml"), 29, f"{INV}.target_ratio", "must be between 0 and 1 (got 1.5)", "error"
    )


def test_a_misspelt_field_is_caught_with_a_hint_and_the_real_field_is_missing(tmp_path: Path) -> None:
    issues = _errors(tmp_path, _edit("target_ratio: 0.8", "target_ration: 0.8"))
    assert [(i.line, i.field, i.message) for i in issues] == [
        (21, f"{INV}.target_ratio", "required field is missing"),  # points at the investment itself
        (29, f"{INV}.target_ration", "unknown field (did you mean 'target_ratio'?)"),
    ]


def test_an_unknown_field_far_from_any_name_lists_the_allowed_ones(tmp_path: Path) -> None:
    unknown = _one(tmp_path, _edit("        depends_on: []", "        xyz: []"))
    assert unknown.line == 19
    assert unknown.field == "objectives[0].initiatives[0].xyz"
    assert unknown.message.startswith("unknown field; expected one of: id, name, domain, perspective, weight")


def test_an_invalid_domain_names_the_allowed_values(tmp_path: Path) -> None:
    issue = _one(tmp_path, _edit("domain: it_strategy", "domain: it_stratgy"))
    assert (issue.line, issue.field) == (17, "objectives[0].initiatives[0].domain")
    assert "'business_strategy', 'it_strategy', 'organisational_infrastructure' or 'it_infrastructure'" in (
        issue.message
    )
    assert issue.message.endswith("(got 'it_stratgy')")


def test_target_date_must_come_after_go_live(tmp_path: Path) -> None:
    issue = _one(tmp_path, _edit("target_date: 2026-12-31", "target_date: 2025-12-31"))
    assert (issue.line, issue.field) == (30, f"{INV}.target_date")
    assert issue.message == "must be after go_live (2026-01-01) (got 2025-12-31)"


def test_a_bad_email_in_a_flow_mapping_points_at_its_line(tmp_path: Path) -> None:
    issue = _one(tmp_path, _edit("email: ann@example.org", "email: ann.example.org"))
    assert (issue.line, issue.field) == (27, f"{INV}.owner.email")


def test_unknown_application_in_an_investment(tmp_path: Path) -> None:
    issue = _one(tmp_path, _edit("              - zoom", "              - zooom"))
    assert str(issue) == (
        f"{tmp_path / 'base.yaml'}:24: {INV}.applications[1]: unknown application 'zooom' (did you mean 'zoom'?)"
    )


def test_duplicate_ids_across_files_point_at_the_second_and_name_the_first(tmp_path: Path) -> None:
    issue = _one(tmp_path, BASE, ("other.yaml", "applications:\n  - id: zoom\n    name: Z\n    capability: c\n"))
    assert str(issue) == (
        f"{tmp_path / 'other.yaml'}:2: applications[0].id: duplicate application id 'zoom' "
        f"(first defined at {tmp_path / 'base.yaml'}:7)"
    )


def test_an_orphan_investment_may_not_reuse_an_initiative_investment_id(tmp_path: Path) -> None:
    orphan = """\
investments:
  - id: inv
    applications: [zoom]
    annual_cost: 1
    currency: EUR
    owner: {name: B, email: b@example.org}
    go_live: 2026-01-01
    target_ratio: 0.5
    target_date: 2026-02-01
"""
    issue = _one(tmp_path, BASE, ("orphans.yaml", orphan))
    assert (issue.file, issue.line, issue.field) == (str(tmp_path / "orphans.yaml"), 2, "investments[0].id")
    assert issue.message == f"duplicate investment id 'inv' (first defined at {tmp_path / 'base.yaml'}:21)"


def test_replaces_must_name_a_known_application(tmp_path: Path) -> None:
    issues = _errors(tmp_path, _edit("    match: {names: [zoom.exe]}", "    replaces: skype"))
    assert [(i.line, i.field, i.message) for i in issues] == [
        (10, "applications[1].replaces", "unknown application 'skype'")
    ]


def test_interchangeable_with_must_name_other_known_applications(tmp_path: Path) -> None:
    issues = _errors(
        tmp_path, _edit("    match: {names: [zoom.exe]}", "    interchangeable_with: [teams, zoom, temas]")
    )
    assert [(i.line, i.field, i.message) for i in issues] == [
        (10, "applications[1].interchangeable_with[1]", "an application cannot be interchangeable with itself"),
        (10, "applications[1].interchangeable_with[2]", "unknown application 'temas' (did you mean 'teams'?)"),
    ]


def test_a_price_needs_a_currency(tmp_path: Path) -> None:
    issue = _one(tmp_path, _edit("    match: {names: [zoom.exe]}", "    annual_cost_per_user: 96"))
    # The missing field points at its application, like every missing field.
    assert str(issue) == (
        f"{tmp_path / 'base.yaml'}:7: applications[1].currency: required when annual_cost_per_user is set, e.g. EUR"
    )
    negative = _one(tmp_path, _edit("    match: {names: [zoom.exe]}", "    annual_cost_per_user: -1"))
    assert (negative.line, negative.field) == (10, "applications[1].annual_cost_per_user")
    assert negative.message.startswith("Input should be greater than or equal to 0")
    currency = _one(tmp_path, _edit("    match: {names: [zoom.exe]}", "    currency: euro"))
    assert (currency.line, currency.field) == (10, "applications[1].currency")


def test_an_identifier_claimed_by_two_applications_is_ambiguous(tmp_path: Path) -> None:
    # 'Teams' and 'teams.exe' are the same exact rule: case-insensitive, '.exe' optional.
    issue = _one(tmp_path, _edit("    match: {names: [zoom.exe]}", "    match: {names: [zoom.exe, Teams]}"))
    assert str(issue) == (
        f"{tmp_path / 'base.yaml'}:10: applications[1].match.names[1]: 'teams' is also an exact rule of "
        f"application 'teams' ({tmp_path / 'base.yaml'}:6): an identifier must name one application"
    )


def test_a_name_and_a_bundle_id_collide_too(tmp_path: Path) -> None:
    issue = _one(tmp_path, _edit("    match: {names: [zoom.exe]}", "    match: {bundle_ids: [TEAMS.EXE]}"))
    assert (issue.line, issue.field) == (10, "applications[1].match.bundle_ids[0]")


def test_an_invalid_regex_is_reported_at_its_line(tmp_path: Path) -> None:
    issue = _one(tmp_path, _edit("    match: {names: [zoom.exe]}", '    match: {regexes: ["(zoom"]}'))
    assert (issue.line, issue.field) == (10, "applications[1].match.regexes[0]")
    assert issue.message.startswith("invalid regular expression: missing ), unterminated subpattern")


def test_depends_on_itself_and_on_an_unknown_id(tmp_path: Path) -> None:
    issues = _errors(tmp_path, _edit("depends_on: []", "depends_on: [ini, security]"))
    assert [(i.line, i.field, i.message) for i in issues] == [
        (19, "objectives[0].initiatives[0].depends_on[0]", "an initiative cannot depend on itself"),
        (19, "objectives[0].initiatives[0].depends_on[1]", "unknown initiative 'security'"),
    ]


def test_a_dependency_cycle_is_an_error(tmp_path: Path) -> None:
    cycle = """\
objectives:
  - id: second
    name: Second
    initiatives:
      - id: a
        name: A
        domain: business_strategy
        perspective: strategy_execution
        depends_on: [b]
      - id: b
        name: B
        domain: business_strategy
        perspective: strategy_execution
        depends_on: [ini, a]
"""
    issue = _one(tmp_path, BASE, ("cycle.yaml", cycle))
    assert str(issue) == (
        f"{tmp_path / 'cycle.yaml'}:9: objectives[0].initiatives[0].depends_on: dependency cycle: a -> b -> a"
    )


def test_yaml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    issue = _one(tmp_path, _edit("    name: Zoom", "    name: Zoom: Pro"))
    assert (issue.line, issue.field) == (8, "(yaml)")
    assert "mapping values are not allowed here" in issue.message


def test_a_repeated_key_is_an_error_not_silently_the_last_value(tmp_path: Path) -> None:
    issues = _errors(tmp_path, _edit("            annual_cost: 1200", "            currency: USD"))
    assert [(i.line, i.field, i.message) for i in issues] == [
        (21, f"{INV}.annual_cost", "required field is missing"),
        (26, f"{INV}.currency", "duplicate key (first at line 25)"),
    ]


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    issue = _one(tmp_path, BASE, ("list.yaml", "# a list\n- teams\n- zoom\n"))
    assert (issue.file, issue.line, issue.field) == (str(tmp_path / "list.yaml"), 2, "(root)")


def test_conflicting_settings_in_two_files(tmp_path: Path) -> None:
    issue = _one(tmp_path, BASE + "settings:\n  k: 5\n", ("z.yaml", "settings:\n  timezone: UTC\n  k: 10\n"))
    assert str(issue) == f"{tmp_path / 'z.yaml'}:3: settings.k: conflicts with 5 set at {tmp_path / 'base.yaml'}:33"


def test_an_unknown_time_zone(tmp_path: Path) -> None:
    issue = _one(tmp_path, BASE + "settings:\n  timezone: Europe/Amsterdm\n")
    assert (issue.line, issue.field) == (33, "settings.timezone")
    assert issue.message.startswith("unknown time zone")


def test_unknown_department_is_a_warning_only_with_a_directory(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(_edit("[Sales, Support]", "[Sales, Suport]"))
    assert load_catalog(tmp_path).warnings == ()

    directory = Directory({"u1": "Sales", "u2": "Support"})
    [warning] = load_catalog(tmp_path, directory).warnings
    assert str(warning) == (
        f"{tmp_path / 'base.yaml'}:31: {INV}.target_departments[1]: warning: department 'Suport' is not in "
        "the directory (did you mean 'Support'?)"
    )


def test_schema_errors_in_several_files_are_all_listed_in_file_and_line_order(tmp_path: Path) -> None:
    issues = _errors(
        tmp_path,
        _edit("target_ratio: 0.8", "target_ratio: -1"),
        ("a.yaml", "applications:\n  - id: has space\n    name: X\n    capability: c\n"),
    )
    assert [(Path(i.file).name, i.line, i.field) for i in issues] == [
        ("a.yaml", 2, "applications[0].id"),
        ("base.yaml", 29, f"{INV}.target_ratio"),
    ]
