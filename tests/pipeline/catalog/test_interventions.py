"""interventions.yaml beside the catalog: loaded and checked like the catalog, `alignmon interventions list|check`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from alignmon.cli import main
from base.directory import parse_directory
from pipeline.catalog import CatalogError, catalog_files, load_catalog
from pipeline.catalog.interventions import InterventionsDocument, load_interventions
from pipeline.catalog.reference import model_docs, undocumented

ROOT = Path(__file__).resolve().parents[3]
MIDSIZE = ROOT / "catalog" / "midsize"
EXAMPLE = ROOT / "catalog" / "example"
GOOD = """interventions:
  - id: teams-training
    investment: teams-e3
    kind: training
    date: 2026-10-01
    target_departments: [Sales]
    owner: {name: Head of Workplace, email: workplace@example.org}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLE / "catalog.yaml", tmp_path / "catalog.yaml")
    return tmp_path


def issues(folder: Path, text: str, directory: str | None = None) -> list[str]:
    (folder / "interventions.yaml").write_text(text)
    known = parse_directory(directory, b"k") if directory else None
    with pytest.raises(CatalogError) as caught:
        load_interventions(folder, load_catalog(folder, known))
    return [str(issue) for issue in caught.value.issues]


def test_the_midsize_interventions_pass_the_check_with_its_directory(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["interventions", "check", str(MIDSIZE), "--directory", str(MIDSIZE / "directory.csv")]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"interventions {MIDSIZE / 'interventions.yaml'} OK: 3 interventions on 3 investments "
        "(1 communication, 1 enablement, 1 training)"
    ]
    # It shows every field an intervention has.
    doc = yaml.safe_load((MIDSIZE / "interventions.yaml").read_text())
    used = {name for item in doc["interventions"] for name in item}
    assert used == set(InterventionsDocument.model_fields["interventions"].annotation.__args__[0].model_fields)  # type: ignore[union-attr]


def test_the_interventions_file_is_not_a_catalog_file(folder: Path) -> None:
    (folder / "interventions.yaml").write_text(GOOD)
    assert catalog_files(folder) == [folder / "catalog.yaml"]
    catalog = load_catalog(folder)
    assert catalog.files == (folder / "catalog.yaml",)
    (item,) = load_interventions(folder, catalog).items
    assert (item.id, item.investment, item.kind, item.target_departments) == (
        "teams-training",
        "teams-e3",
        "training",
        ["Sales"],
    )
    assert item.last_day == item.date
    # Beside a single catalog file, too.
    assert load_interventions(folder / "catalog.yaml", catalog).file == folder / "interventions.yaml"


def test_no_interventions_file_is_no_interventions(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = load_interventions(folder, load_catalog(folder))
    assert found.items == () and found.file is None
    assert main(["interventions", "list", str(folder)]) == 0
    assert capsys.readouterr().out == "no interventions\n"
    assert main(["interventions", "check", str(folder)]) == 1
    assert capsys.readouterr().out == f"no interventions file in {folder} (interventions.yaml or interventions.yml)\n"


def test_schema_errors_name_file_line_and_field(folder: Path) -> None:
    bad = GOOD.replace("kind: training", "kind: webinar").replace(
        "date: 2026-10-01", "date: 2026-10-01\n    until: 2026-09-30"
    )
    bad = bad.replace("target_departments:", "target_department:") + "    cost: -5\n"
    where = f"{folder / 'interventions.yaml'}"
    assert issues(folder, bad) == [
        f"{where}:4: interventions[0].kind: Input should be 'training', 'communication', 'enablement', "
        "'licence_change' or 'other' (got 'webinar')",
        f"{where}:6: interventions[0].until: must not be before date (2026-10-01) (got 2026-09-30)",
        f"{where}:7: interventions[0].target_department: unknown field (did you mean 'target_departments'?)",
        f"{where}:9: interventions[0].cost: Input should be greater than or equal to 0 (got -5)",
    ]


def test_a_day_that_does_not_exist_or_an_endless_cost_is_a_located_error(folder: Path) -> None:
    """2026-10-32 raised a ValueError out of the YAML parser: a traceback, and a pipeline stopped by it."""
    where = f"{folder / 'interventions.yaml'}"
    assert issues(folder, GOOD.replace("2026-10-01", "2026-10-32")) == [
        f"{where}:5: (yaml): '2026-10-32' is not a date: day is out of range for month"
    ]
    assert issues(folder, GOOD + "    cost: 1e400\n") == [
        f"{where}:8: interventions[0].cost: Input should be a finite number (got '1e400')"
    ]


def test_cross_checks_against_the_catalog_and_the_directory(folder: Path) -> None:
    text = (
        GOOD
        + GOOD.split("\n", 1)[1].replace("date: 2026-10-01", "date: 2026-10-02")
        + GOOD.split("\n", 1)[1].replace("teams-training", "other").replace("teams-e3", "teams-e5")
        + GOOD.split("\n", 1)[1].replace("teams-training", "third").replace("[Sales]", "[Sales, Sales, Finance]")
        + GOOD.split("\n", 1)[1].replace("teams-training", "fourth").replace("[Sales]", "[Support]")
    )
    where = f"{folder / 'interventions.yaml'}"
    assert issues(folder, text, "user,department\na,Sales\nb,Finance\n") == [
        f"{where}:8: interventions[1].id: duplicate intervention id 'teams-training' (first at line 2)",
        f"{where}:15: interventions[2].investment: unknown investment 'teams-e5' (did you mean 'teams-e3'?)",
        f"{where}:24: interventions[3].target_departments[1]: department 'Sales' is listed twice",
        f"{where}:24: interventions[3].target_departments[2]: department 'Finance' is not a target department of "
        "'teams-e3' (Sales, Support)",
        f"{where}:30: interventions[4].target_departments[0]: department 'Support' is not in the directory",
    ]


def test_an_empty_or_shapeless_file_is_an_error(folder: Path) -> None:
    where = f"{folder / 'interventions.yaml'}"
    assert issues(folder, "# nothing yet\n") == [f"{where}: (file): the file is empty; an interventions file holds "
                                                  "interventions:"]  # fmt: skip
    assert issues(folder, "- a\n") == [f"{where}:1: (root): an interventions file is a mapping; an interventions file "
                                       "holds interventions:"]  # fmt: skip
    assert issues(folder, "interventions:\n  - id: [\n") [0].startswith(f"{where}:3: (yaml): ")  # fmt: skip
    assert issues(folder, GOOD.replace("    target_departments: [Sales]\n", "    target_departments: []\n")) == [
        f"{where}:6: interventions[0].target_departments: List should have at least 1 item after validation, not 0"
    ]


def test_check_prints_every_error_and_exits_1(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "interventions.yaml").write_text(GOOD.replace("teams-e3", "teams-e5").replace("Sales", "Saels"))
    assert main(["interventions", "check", str(folder)]) == 1
    where = folder / "interventions.yaml"
    assert capsys.readouterr().out.splitlines() == [
        f"{where}:3: interventions[0].investment: unknown investment 'teams-e5' (did you mean 'teams-e3'?)",
        f"1 error in interventions {where}",
    ]
    (folder / "interventions.yaml").write_text(GOOD.replace("[Sales]", "[Saels]"))
    assert main(["interventions", "check", str(folder)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{where}:6: interventions[0].target_departments[0]: department 'Saels' is not a target department of "
        "'teams-e3' (Sales, Support) (did you mean 'Sales'?)",
        f"1 error in interventions {where}",
    ]


def test_a_currency_without_a_cost_is_a_warning(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "interventions.yaml").write_text(GOOD + "    currency: EUR\n")
    assert main(["interventions", "check", str(folder)]) == 0
    first, summary = capsys.readouterr().out.splitlines()
    where = folder / "interventions.yaml"
    assert first == f"{where}:8: interventions[0].currency: warning: a currency without a cost says nothing"
    assert summary.endswith("OK: 1 intervention on 1 investment (1 training)")


def test_every_intervention_field_has_a_description_and_is_in_the_catalog_reference() -> None:
    assert undocumented(InterventionsDocument) == []
    doc = (ROOT / "docs" / "catalog.md").read_text()
    reference = doc.split("<!-- generated:interventions -->", 1)[1].split("<!-- end:interventions -->", 1)[0]
    for model in model_docs(InterventionsDocument):
        if model.name == "Owner":
            continue  # the catalog's, documented once above
        for field in model.fields:
            assert f"| `{field.name}` |" in reference, (model.name, field.name)
