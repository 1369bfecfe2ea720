"""App identity: exact > path glob > regex, on basenames, backslashes and any case."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.catalog import Application, AppMatch, AppMatcher
from pipeline.catalog.identity import compile_glob, exact_key


def _app(app_id: str, **match: list[str]) -> Application:
    return Application(id=app_id, name=app_id, capability="x", match=match)


def _matcher(*apps: Application, **kwargs: Any) -> AppMatcher:
    return AppMatcher(apps, **kwargs)


TEAMS = _app("teams", names=["Teams", "ms-teams.exe"], bundle_ids=["com.microsoft.teams2"])
EXCEL = _app("excel", paths=["C:/Program Files/*/EXCEL.EXE"])
OFFICE_ANY = _app("office-any", paths=["C:/Program Files/**"])
LIBRE = _app("libreoffice", paths=["/usr/bin/libreoffice*", "/usr/lib/libreoffice/program/soffice*"])
JETBRAINS = _app("jetbrains", regexes=[r"(?i)(idea|pycharm)(64)?(\.exe)?$"])
CATCH_ALL = _app("anything-office", regexes=[r"(?i)office"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ms-teams.exe", AppMatch("teams", "exact", "ms-teams.exe")),
        ("MS-TEAMS.EXE", AppMatch("teams", "exact", "ms-teams.exe")),
        ("ms-teams", AppMatch("teams", "exact", "ms-teams.exe")),  # .exe is optional
        ("teams.exe", AppMatch("teams", "exact", "Teams")),  # ... on both sides
        ("  Teams ", AppMatch("teams", "exact", "Teams")),
        ("com.microsoft.teams2", AppMatch("teams", "bundle", "com.microsoft.teams2")),
        ("COM.Microsoft.Teams2", AppMatch("teams", "bundle", "com.microsoft.teams2")),
        ("C:\\Program Files\\Microsoft\\Teams\\ms-teams.exe", AppMatch("teams", "basename", "ms-teams.exe")),
        ("/opt/teams/Teams", AppMatch("teams", "basename", "Teams")),
        ("/Applications/Teams.app/Contents/MacOS/MSTeams", AppMatch("teams", "basename", "Teams")),
        ("com.microsoft.teams", None),
        ("teams2", None),
        ("", None),
        ("   ", None),
    ],
)
def test_exact_rules(raw: str, expected: AppMatch | None) -> None:
    assert _matcher(TEAMS).resolve(raw) == expected


def test_exact_beats_glob_beats_regex() -> None:
    # The same path is claimed by a regex, a broad glob, a narrow glob and an exact basename.
    path = "C:\\Program Files\\Microsoft Office\\EXCEL.EXE"
    office_regex = _app("office-regex", regexes=[r"(?i)excel"])
    by_name = _app("excel-by-name", names=["excel"])

    assert _matcher(office_regex).match(path) == "office-regex"
    assert _matcher(office_regex, OFFICE_ANY).match(path) == "office-any"
    assert _matcher(office_regex, OFFICE_ANY, EXCEL).match(path) == "excel"
    assert _matcher(office_regex, OFFICE_ANY, EXCEL, by_name).match(path) == "excel-by-name"
    # Order of the applications does not matter, only the kind and specificity of the rule.
    assert _matcher(by_name, EXCEL, OFFICE_ANY, office_regex).match(path) == "excel-by-name"


def test_the_glob_with_more_literal_characters_wins_whatever_the_order() -> None:
    path = "C:/Program Files/Microsoft Office/EXCEL.EXE"
    assert _matcher(OFFICE_ANY, EXCEL).resolve(path) == AppMatch("excel", "path", "C:/Program Files/*/EXCEL.EXE")
    assert _matcher(EXCEL, OFFICE_ANY).match(path) == "excel"
    # Outside Program Files/*/ only the broad one applies.
    assert _matcher(EXCEL, OFFICE_ANY).match("C:/Program Files/A/B/other.exe") == "office-any"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C:\\Program Files\\Microsoft Office\\EXCEL.EXE", "excel"),  # backslashes
        ("c:/program files/microsoft office/excel.exe", "excel"),  # case
        ("C:/Program Files/Microsoft Office/root/EXCEL.EXE", None),  # '*' stays within one folder
        ("/usr/bin/libreoffice7.6", "libreoffice"),
        ("/usr/lib/libreoffice/program/soffice.bin", "libreoffice"),
        ("/usr/local/bin/libreoffice", None),  # a glob matches the whole path
    ],
)
def test_path_globs(raw: str, expected: str | None) -> None:
    assert _matcher(EXCEL, LIBRE).match(raw) == expected


def test_double_star_spans_any_number_of_folders_including_none() -> None:
    regex, literal = compile_glob("/opt/**/bin/tool")
    assert literal == len("/opt/") + len("bin/tool")
    assert regex.match("/opt/bin/tool")
    assert regex.match("/opt/a/b/bin/tool")
    assert not regex.match("/opt/a/bin/tool2")


def test_glob_character_classes_and_question_mark() -> None:
    regex, literal = compile_glob("/usr/bin/python3.1[0-3]?")
    assert literal == len("/usr/bin/python3.1")
    assert regex.match("/usr/bin/python3.12m")
    assert not regex.match("/usr/bin/python3.14m")
    assert not regex.match("/usr/bin/python3.12/")  # '?' does not match a folder separator


def test_regexes_search_the_normalised_identifier_in_catalog_order() -> None:
    matcher = _matcher(JETBRAINS, CATCH_ALL)
    assert matcher.resolve("C:\\Tools\\IDEA64.exe") == AppMatch("jetbrains", "regex", JETBRAINS.match.regexes[0])
    assert matcher.match("/snap/pycharm/bin/pycharm") == "jetbrains"
    assert matcher.match("soffice-OFFICE-helper") == "anything-office"
    assert matcher.match("notepad.exe") is None
    # Both regexes match: the first application in the catalog wins.
    both = "/opt/office/idea"
    assert _matcher(JETBRAINS, CATCH_ALL).match(both) == "jetbrains"
    assert _matcher(CATCH_ALL, JETBRAINS).match(both) == "anything-office"


def test_regexes_see_forward_slashes() -> None:
    matcher = _matcher(_app("vendor-tool", regexes=[r"/Vendor/[^/]+/tool$"]))
    assert matcher.match("D:\\Vendor\\v2\\tool") == "vendor-tool"


def test_results_are_cached_per_raw_string() -> None:
    matcher = _matcher(TEAMS, EXCEL, cache_size=2)
    for _ in range(3):
        assert matcher.match("ms-teams.exe") == "teams"
    assert matcher.resolve("ms-teams.exe") == AppMatch("teams", "exact", "ms-teams.exe")
    info = matcher.cache_info()
    assert (info.hits, info.misses, info.maxsize, info.currsize) == (3, 1, 2, 1)
    matcher.match("a")
    matcher.match("b")
    assert matcher.cache_info().currsize == 2  # bounded
    matcher.cache_clear()
    assert matcher.cache_info().currsize == 0


def test_exact_key_folds_case_and_drops_exe() -> None:
    assert exact_key(" Ms-Teams.EXE ") == "ms-teams"
    assert exact_key(".exe") == ".exe"  # nothing left to strip from
