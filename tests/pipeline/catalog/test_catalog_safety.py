"""A catalog file that says nothing, nests without end or expands through aliases is a located error.

Issue 11, finding 9: an empty file passed as a catalog of 0 investments, a 3,000-deep document raised
RecursionError and a billion-laughs file cost 90 s of CPU.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alignmon.cli import main
from pipeline.catalog import CatalogError, load_catalog, yamlfile
from pipeline.catalog.yamlfile import MAX_ALIAS_VALUES, MAX_DEPTH, parse_yaml

EXAMPLE = Path(__file__).resolve().parents[3] / "catalog" / "example" / "catalog.yaml"
SECTIONS = "a catalog file holds applications:, objectives:, investments: or settings:"

APPS = """\
applications:
  - id: teams
    name: Teams
    capability: chat
    match: {names: [ms-teams.exe]}
"""

INVESTMENT = """\
  - id: {id}
    applications: [teams]
    annual_cost: 100
    currency: EUR
    owner: {owner}
    go_live: 2026-01-01
    target_ratio: 0.8
    target_date: 2026-06-01
"""


def _errors(path: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here yet\n# (the catalog moved)\n", "---\n"])
def test_an_empty_or_comment_only_file_is_an_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "catalog.yaml").write_text(EXAMPLE.read_text())
    (tmp_path / "empty.yaml").write_text(text)
    assert _errors(tmp_path) == [
        f"{tmp_path / 'empty.yaml'}: (file): the file is empty (only comments or blank lines); {SECTIONS}"
    ]


@pytest.mark.parametrize("text", ["{}\n", "applications: []\n", "objectives: []\ninvestments: []\n"])
def test_a_file_with_no_catalog_content_is_an_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "catalog.yaml").write_text(EXAMPLE.read_text())
    (tmp_path / "blank.yaml").write_text(text)
    assert _errors(tmp_path) == [f"{tmp_path / 'blank.yaml'}: (file): the file holds no catalog content; {SECTIONS}"]


def test_a_catalog_without_investments_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "apps.yaml").write_text(APPS)
    (tmp_path / "settings.yaml").write_text("settings:\n  k: 5\n")
    assert _errors(tmp_path) == [f"{tmp_path}: (catalog): the catalog holds no investments"]
    assert _errors(tmp_path / "apps.yaml") == [f"{tmp_path / 'apps.yaml'}: (catalog): the catalog holds no investments"]


def test_check_exits_1_on_a_comment_only_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("# to be written\n")
    assert main(["catalog", "check", str(catalog)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{catalog}: (file): the file is empty (only comments or blank lines); {SECTIONS}",
        f"1 error in catalog {catalog}",
    ]


def test_a_3000_deep_document_is_a_located_error_not_a_recursion_error(tmp_path: Path) -> None:
    file = tmp_path / "deep.yaml"
    file.write_text(APPS + "investments: " + "[" * 3000 + "]" * 3000 + "\n")
    assert _errors(file) == [f"{file}:6: (yaml): nested deeper than {MAX_DEPTH} levels"]


def test_the_depth_limit_is_exactly_max_depth() -> None:
    doc, issues = parse_yaml(Path("f.yaml"), "[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert issues == [] and doc is not None
    value = doc.data
    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == []

    doc, issues = parse_yaml(Path("f.yaml"), "\n" + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert doc is None
    assert [str(issue) for issue in issues] == [f"f.yaml:2: (yaml): nested deeper than {MAX_DEPTH} levels"]


@pytest.mark.timeout(20)
def test_a_billion_laughs_file_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    lines = ["lol0: &lol0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 10) + "]" for i in range(1, 10)]
    file = tmp_path / "laughs.yaml"
    file.write_text("\n".join(lines) + "\n")
    began = time.process_time()
    errors = _errors(file)
    assert time.process_time() - began < 1.0
    # lol4 (line 5) is the first list over the bound: 111,111 values from 56 written ones.
    assert errors == [f"{file}:5: (yaml): aliases expand this by more than {MAX_ALIAS_VALUES:,} values"]


def test_aliases_that_nest_too_deep_once_expanded_are_refused() -> None:
    # Each anchor is 40 levels deep on its own; through the alias the second one is 80.
    text = "a: &a " + "[" * 40 + "]" * 40 + "\nb: &b " + "[" * 39 + "*a" + "]" * 39 + "\n"
    doc, issues = parse_yaml(Path("f.yaml"), text)
    assert doc is None
    assert [str(issue) for issue in issues] == [
        f"f.yaml:2: (yaml): nested deeper than {MAX_DEPTH} levels once aliases are expanded"
    ]


def test_a_recursive_alias_is_refused() -> None:
    doc, issues = parse_yaml(Path("f.yaml"), "settings:\n  a: &loop [1, *loop]\n")
    assert doc is None
    assert [str(issue) for issue in issues] == [
        "f.yaml:2: (yaml): an alias names a node that contains it (a recursive document)"
    ]


def test_ordinary_aliases_still_work(tmp_path: Path) -> None:
    owner = "&owner {name: Ann, email: ann@example.org}"
    text = APPS + "investments:\n" + INVESTMENT.format(id="a", owner=owner) + INVESTMENT.format(id="b", owner="*owner")
    (tmp_path / "catalog.yaml").write_text(text)
    investments = load_catalog(tmp_path).investments
    assert [placed.investment.owner.email for placed in investments.values()] == ["ann@example.org"] * 2


def test_check_help_names_the_limits(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["catalog", "check", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert f"deeper than {MAX_DEPTH} levels" in text
    assert f"YAML aliases that add more than {MAX_ALIAS_VALUES:,} values" in text


def test_values_written_out_are_not_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    # Their cost follows the file's size; only what aliases add is bounded (here lowered to 100).
    monkeypatch.setattr(yamlfile, "MAX_ALIAS_VALUES", 100)
    apps = "".join(f"  - {{id: a{i}, name: A{i}, capability: c, match: {{names: [a{i}.exe]}}}}\n" for i in range(50))
    doc, issues = parse_yaml(Path("f.yaml"), "applications:\n" + apps)
    assert issues == [] and doc is not None
    assert len(doc.data["applications"]) == 50

    doc, issues = parse_yaml(Path("f.yaml"), "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [" + ", ".join(["*a"] * 12) + "]\n")
    assert doc is None
    assert [str(issue) for issue in issues] == ["f.yaml:2: (yaml): aliases expand this by more than 100 values"]
