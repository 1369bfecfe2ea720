"""import_paths: argument checks, unreadable files, and events unique by id."""

from __future__ import annotations

from pathlib import Path

import pytest

from base.errors import AlignmonError
from collectors.importers.service import import_paths

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("kind", "kwargs", "needs"),
    [
        ("activitywatch", {}, "--user"),
        ("whatpulse", {"device": "pc-1"}, "--user"),
        ("whatpulse", {"user": "alice"}, "--device"),
        ("rescuetime", {"user": "alice"}, "choose one of activitywatch, whatpulse, osquery"),
        ("osquery", {"tz": "Mars/Olympus_Mons"}, "unknown time zone"),
    ],
)
def test_bad_arguments_are_user_errors(kind: str, kwargs: dict[str, str], needs: str) -> None:
    with pytest.raises(AlignmonError, match=needs):
        import_paths(kind, [FIXTURES / "osquery-batch.log"], **kwargs)


def test_missing_file_is_an_error_and_other_files_still_import(tmp_path: Path) -> None:
    missing = tmp_path / "nope.log"
    result = import_paths("osquery", [missing, FIXTURES / "osquery-batch.log"])

    assert result.files == 2
    assert [(e.file, e.locator) for e in result.errors] == [(str(missing), "file")]
    assert len(result.events) == 1
