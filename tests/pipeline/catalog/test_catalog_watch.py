"""CatalogSource reloads on a file change and keeps the last good catalog when an edit is invalid."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from base.pseudonym import pseudonymise
from pipeline.catalog import CatalogError, CatalogSource

KEY = b"k"

CATALOG = """\
applications:
  - id: teams
    name: Teams
    capability: chat
    match: {names: [ms-teams.exe]}
investments:
  - id: teams-e3
    applications: [teams]
    annual_cost: 100
    currency: EUR
    owner: {name: Ann, email: ann@example.org}
    go_live: 2026-01-01
    target_ratio: 0.8
    target_date: 2026-06-01
    target_departments: [Sales]
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _write(path: Path, text: str, bump: int = 0) -> None:
    path.write_text(text)
    # Make the change visible even on file systems with a coarse mtime.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def test_reloads_on_change_and_keeps_the_last_good_on_an_invalid_edit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "catalog.yaml"
    _write(file, CATALOG)
    source = CatalogSource(tmp_path, check_interval_s=0)

    first = source.current()
    assert first.investments["teams-e3"].investment.target_ratio == 0.8
    assert source.current() is first  # nothing changed: same object, no reload
    assert source.generation == 1

    _write(file, CATALOG.replace("target_ratio: 0.8", "target_ratio: 0.6"), bump=1)
    second = source.current()
    assert second is not first
    assert second.investments["teams-e3"].investment.target_ratio == 0.6
    assert source.generation == 2

    with caplog.at_level(logging.ERROR, logger="pipeline.catalog.watch"):
        _write(file, CATALOG.replace("target_ratio: 0.8", "target_ratio: 6"), bump=2)
        assert source.current() is second
    assert source.generation == 2
    assert source.last_error is not None
    assert [str(i) for i in source.last_error.issues] == [
        f"{file}:13: investments[0].target_ratio: must be between 0 and 1 (got 6)"
    ]
    assert "keeping the last good catalog" in caplog.text
    assert f"{file}:13: investments[0].target_ratio" in caplog.text
    caplog.clear()
    assert source.current() is second  # the broken file is not re-parsed (or re-logged) until it changes
    assert caplog.text == ""

    _write(file, CATALOG.replace("target_ratio: 0.8", "target_ratio: 0.7"), bump=3)
    third = source.current()
    assert third.investments["teams-e3"].investment.target_ratio == 0.7
    assert source.generation == 3
    assert source.last_error is None


def test_a_new_file_in_the_folder_is_picked_up(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", CATALOG)
    source = CatalogSource(tmp_path, check_interval_s=0)
    assert list(source.current().applications) == ["teams"]

    _write(tmp_path / "b.yaml", "applications:\n  - id: zoom\n    name: Zoom\n    capability: meetings\n")
    assert list(source.current().applications) == ["teams", "zoom"]

    (tmp_path / "b.yaml").unlink()
    assert list(source.current().applications) == ["teams"]


def test_an_invalid_first_load_raises(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", CATALOG.replace("currency: EUR", "currency: euro"))
    source = CatalogSource(tmp_path, check_interval_s=0)
    with pytest.raises(CatalogError) as caught:
        source.current()
    assert [(i.line, i.field) for i in caught.value.issues] == [(10, "investments[0].currency")]

    _write(tmp_path / "a.yaml", CATALOG, bump=1)
    assert list(source.current().investments) == ["teams-e3"]


def test_files_are_only_checked_once_per_interval(tmp_path: Path) -> None:
    file = tmp_path / "a.yaml"
    _write(file, CATALOG)
    clock = FakeClock()
    source = CatalogSource(tmp_path, check_interval_s=5, clock=clock)
    first = source.current()

    _write(file, CATALOG.replace("annual_cost: 100", "annual_cost: 200"), bump=1)
    clock.now += 4.9
    assert source.current() is first
    clock.now += 0.2
    assert source.current().investments["teams-e3"].investment.annual_cost == 200


def test_the_directory_csv_is_watched_too(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    _write(folder / "a.yaml", CATALOG)
    csv = tmp_path / "directory.csv"
    _write(csv, "user,department\nann,Sales\n")
    source = CatalogSource(folder, csv, KEY, check_interval_s=0)

    catalog = source.current()
    assert catalog.directory is not None and len(catalog.directory) == 1
    assert catalog.warnings == ()

    _write(csv, "user,department\nann,Sales\nbob,Sales\ncid,Support\n", bump=1)
    catalog = source.current()
    assert catalog.directory is not None and len(catalog.directory) == 3
    assert catalog.population("teams-e3") is not None and len(catalog.population("teams-e3") or ()) == 2

    _write(csv, "user,department\nann,Sales\nann,Support\n", bump=2)  # invalid: keep the last good
    assert source.current() is catalog
    assert source.last_error is not None and source.last_error.issues[0].line == 3


def test_the_pipeline_reads_a_pseudonymised_directory_and_refuses_real_names(tmp_path: Path) -> None:
    """Without the key (the pipeline's case) only pseudonyms pass; a real name is refused with its line."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    _write(folder / "a.yaml", CATALOG)
    csv = tmp_path / "directory.csv"
    ann, bob = pseudonymise("ann", KEY), pseudonymise("bob", KEY)
    _write(csv, f"user,department\n{ann},Sales\n{bob},Support\n")
    source = CatalogSource(folder, csv, check_interval_s=0)
    catalog = source.current()
    assert catalog.directory is not None and dict(catalog.directory.members) == {ann: "Sales", bob: "Support"}

    _write(csv, f"user,department\n{ann},Sales\nbob,Support\n", bump=1)
    assert source.current() is catalog  # the last good one stays
    assert source.last_error is not None
    [issue] = source.last_error.issues
    assert (issue.line, issue.field) == (3, "user")
    assert "not a pseudonym" in issue.message and "alignmon directory pseudonymise" in issue.message
    assert "bob" not in str(source.last_error)  # a real name is never shown: it would reach the pipeline's logs
    _write(csv, f"user,department\n{ann},Sales\nbob,\n", bump=2)  # nor when its department is what is wrong
    source.current()
    assert source.last_error is not None and "bob" not in str(source.last_error)


@pytest.mark.parametrize("broken", ["", "# the catalog moved to git\n", "settings:\n  k: 5\n"])
def test_an_emptied_catalog_keeps_the_last_good_one_and_reports_the_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    file = tmp_path / "catalog.yaml"
    _write(file, CATALOG)
    wall = FakeClock()
    source = CatalogSource(tmp_path, check_interval_s=0, wall_clock=wall)
    good = source.current()
    assert (source.valid, source.last_error, source.failed_since, source.load_errors) == (True, None, None, 0)

    wall.now = 2000.0
    with caplog.at_level(logging.ERROR, logger="pipeline.catalog.watch"):
        _write(file, broken, bump=1)
        assert source.current() is good  # adoption goes on with the last good catalog, not with nothing
    assert "keeping the last good catalog" in caplog.text
    assert (source.valid, source.failed_since, source.load_errors, source.generation) == (False, 2000.0, 1, 1)
    assert source.last_error is not None
    assert str(source.last_error) in (
        f"{file}: (file): the file is empty (only comments or blank lines); a catalog file holds applications:, "
        "objectives:, investments: or settings:",
        f"{file}: (catalog): the catalog holds no investments",
    )

    wall.now = 3000.0
    _write(file, broken + "\n", bump=2)  # still broken: counted again, but failing since the first time
    assert source.current() is good
    assert (source.valid, source.failed_since, source.load_errors) == (False, 2000.0, 2)

    _write(file, CATALOG, bump=3)
    assert source.current() is not good
    assert (source.valid, source.last_error, source.failed_since, source.load_errors) == (True, None, None, 2)
    assert source.generation == 2


def test_a_catalog_folder_emptied_of_files_keeps_the_last_good_one(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", CATALOG)
    source = CatalogSource(tmp_path, check_interval_s=0)
    good = source.current()
    (tmp_path / "a.yaml").unlink()
    assert source.current() is good
    assert not source.valid
    assert source.last_error is not None
    assert str(source.last_error) == f"{tmp_path}: (folder): no catalog files (*.yaml, *.yml) in this folder"


def test_no_catalog_yet_is_not_valid(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", "")
    source = CatalogSource(tmp_path, check_interval_s=0)
    with pytest.raises(CatalogError):
        source.current()
    assert not source.valid
    assert source.load_errors == 1


def test_an_edit_of_the_interventions_file_reloads_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "catalog.yaml", CATALOG)
    source = CatalogSource(tmp_path, check_interval_s=0)
    first = source.current()
    _write(tmp_path / "interventions.yaml", "interventions: []\n", bump=5)
    assert source.current() is first and source.generation == 1
    _write(tmp_path / "catalog.yaml", CATALOG.replace("0.8", "0.7"), bump=5)
    assert source.current() is not first and source.generation == 2
