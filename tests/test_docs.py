"""Docs that cannot drift: generated reference sections, the quick start, and the analysts' columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from alignmon import docgen
from pipeline.catalog import reference
from pipeline.schema import PUBLISHED
from pipeline.store import Store

ROOT = Path(__file__).resolve().parents[1]


def test_generated_reference_sections_are_current() -> None:
    # Settings, CLI commands and exported metrics are rendered from the code; a change without the docs fails here.
    assert docgen.main(["--check"]) == 0, "run `python -m alignmon.docgen` and commit the docs"


def test_every_catalog_field_has_a_description() -> None:
    # docs/catalog.md's reference is generated from these descriptions: a field without one fails here first.
    assert reference.undocumented() == [], "give each a Field(description=...) in pipeline/catalog/model.py"


def test_every_catalog_field_is_in_the_catalog_reference() -> None:
    doc = (ROOT / "docs" / "catalog.md").read_text()
    for model in reference.model_docs():
        section = doc.split(f"\n### {model.name}\n", 1)
        assert len(section) == 2, f"docs/catalog.md has no section for {model.name}"
        body = section[1].split("\n#", 1)[0]
        documented = re.findall(r"^\| `(\w+)` \| [^|]+ \| [^|]+ \| .*\S.* \|$", body, re.M)
        assert documented == list(model.model.model_fields), model.name


def test_a_catalog_field_without_a_description_stops_the_reference() -> None:
    class Block(BaseModel):
        """A block."""

        described: int = Field(1, description="Has one.")
        bare: int = 2

    assert reference.undocumented(Block) == ["Block.bare"]
    with pytest.raises(ValueError, match=r"without a description \(Field\(description=\.\.\.\)\): Block\.bare"):
        reference.markdown(Block)


def test_quick_start_is_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo DEMO_SECONDS=120", "make test"]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == "make test"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: lint$", makefile, re.M) and re.search(r"^demo: setup$", makefile, re.M)


def test_every_doc_the_readme_links_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(((?:docs/|collectors/|LICENSE)[^)#]*)\)", readme):
        assert (ROOT / target).exists(), target


@pytest.mark.parametrize("view", PUBLISHED)
def test_every_analyst_view_column_is_documented(view: str, tmp_path: Path) -> None:
    store = Store(tmp_path / "docs.duckdb")
    columns = [d[0] for d in store.con.execute(f"SELECT * FROM {view} LIMIT 0").description]
    store.close()
    doc = (ROOT / "docs" / "analysts.md").read_text()
    section = doc.split(f"### {view}\n", 1)
    assert len(section) == 2, f"docs/analysts.md has no section for {view}"
    body = section[1].split("\n### ", 1)[0]
    documented = re.findall(r"^\| (\w+) \|", body, re.M)
    assert [c for c in documented if c != "column"] == columns


def test_every_test_a_doc_names_exists() -> None:
    """A promise in the docs is a test: every `test_…` a page names (alone or as path::name) and every tests/ path."""
    defined = {
        name
        for path in (ROOT / "tests").rglob("test_*.py")
        for name in re.findall(r"^def (test_\w+)", path.read_text(), re.M)
    }
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        named = set(re.findall(r"`(?:[\w/]+\.py::)?(test_\w+)\b(?!\.py)", text))
        assert named <= defined, (doc.name, sorted(named - defined))
        for path in re.findall(r"`(tests/[\w/]+\.py)", text):
            assert (ROOT / path).exists(), (doc.name, path)
