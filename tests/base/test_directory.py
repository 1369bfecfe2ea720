"""The directory CSV: pseudonymised with the gateway's key, and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.directory import Directory, load_directory
from base.errors import InvalidFileError, Issue
from base.pseudonym import pseudonymise

KEY = b"test-key"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directory.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _issues(path: Path) -> list[Issue]:
    with pytest.raises(InvalidFileError) as caught:
        load_directory(path, KEY)
    return list(caught.value.issues)


def test_users_are_keyed_by_the_gateway_pseudonym(tmp_path: Path) -> None:
    path = _write(tmp_path, "user,department\nalice,Sales\n Bob ,Support\n\ncarol,Sales\nALICE,Sales\n")
    directory = load_directory(path, KEY)

    alice, bob, carol = (pseudonymise(name, KEY) for name in ("alice", "bob", "carol"))
    assert dict(directory.members) == {alice: "Sales", bob: "Support", carol: "Sales"}
    assert directory.path == path
    assert len(directory) == 3
    assert directory.departments == ["Sales", "Support"]
    assert directory.department_of(bob) == "Support"
    assert directory.department_of("u_unknown") is None
    assert directory.members_of("Sales") == {alice, carol}
    assert directory.population(["Support"]) == {bob}
    assert directory.population(None) == directory.population([]) == {alice, bob, carol}
    assert "alice" not in repr(directory)  # raw names are not kept


def test_extra_columns_any_order_and_an_excel_bom_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes("\ufeffDepartment,email,User\nFinance,x@example.org,dave\n".encode())
    assert dict(load_directory(path, KEY).members) == {pseudonymise("dave", KEY): "Finance"}


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_spreadsheets_semicolons_or_tabs_are_read_as_separators(tmp_path: Path, separator: str) -> None:
    """Spreadsheets in locales whose decimal mark is a comma save 'CSV' with semicolons; the header tells."""
    path = _write(tmp_path, f"user{separator}department\nalice{separator}Sales, EMEA\nbob{separator}Support\n")
    assert dict(load_directory(path, KEY).members) == {
        pseudonymise("alice", KEY): "Sales, EMEA",
        pseudonymise("bob", KEY): "Support",
    }
    # A comma in the header decides for commas: a semicolon in a field stays in the field.
    path = _write(tmp_path, "user,department\nalice,Sales;EMEA\n")
    assert dict(load_directory(path, KEY).members) == {pseudonymise("alice", KEY): "Sales;EMEA"}


def test_a_missing_column_is_reported_on_the_header_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "user,dept\nalice,Sales\n")
    [issue] = _issues(path)
    assert (issue.file, issue.line, issue.field) == (str(path), 1, "(header)")
    assert issue.message.startswith("missing column 'department'")


def test_an_empty_file_needs_a_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "")
    assert [(i.line, i.field) for i in _issues(path)] == [(1, "(header)")]


def test_empty_users_and_conflicting_duplicates_are_all_reported_with_their_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "user,department\n"  # 1
        "alice,Sales\n"  # 2
        ",Support\n"  # 3
        "bob,\n"  # 4
        "carol,Sales\n"  # 5
        "Alice,Finance\n"  # 6: alice again, in another department
        "solo\n",  # 7: too few columns
    )
    issues = _issues(path)
    assert [(i.line, i.field) for i in issues] == [
        (3, "user"),
        (4, "department"),
        (6, "department"),
        (7, "(row)"),
    ]
    assert str(issues[2]) == (
        f"{path}:6: department: user 'Alice' is in 'Finance' here but in 'Sales' at line 2 ('alice'); "
        "a user belongs to one department"
    )


def test_line_numbers_count_physical_lines_of_quoted_fields(tmp_path: Path) -> None:
    path = _write(tmp_path, 'user,department\n"x\ny",Sales\n,Support\n')
    [issue] = _issues(path)
    assert (issue.line, issue.field) == (4, "user")


def test_an_unreadable_file_names_the_file(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path / "absent.csv")
    assert str(issue).startswith(f"{tmp_path / 'absent.csv'}: (file): cannot read")


def test_a_directory_built_in_memory_needs_no_file() -> None:
    directory = Directory({"u1": "A", "u2": "B", "u3": "A"})
    assert directory.population(["A", "B", "C"]) == {"u1", "u2", "u3"}
    assert directory.members_of("C") == frozenset()
