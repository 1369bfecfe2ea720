"""`alignmon directory pseudonymise`: HR's directory as the pipeline may read it, made where the key is."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from base.directory import load_directory

SECRET = "directory-secret-0123456789"


def _pseudonym(user: str) -> str:
    """Computed here independently of the code under test."""
    return "u_" + hmac.new(SECRET.encode(), user.strip().casefold().encode(), hashlib.sha256).hexdigest()[:32]


def test_the_hr_directory_is_pseudonymised_and_only_that_passes_the_pipeline(alignmon: Any, tmp_path: Path) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_text("user,department\nAnn.Smith,Sales\nbob,Support\n")
    out = tmp_path / "directory.csv"
    result = alignmon.run(["directory", "pseudonymise", str(hr), str(out)], {"ALIGNMON_PSEUDONYM_SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    assert "2 people in 2 departments" in result.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    rows = out.read_text().splitlines()
    assert rows[0] == "user,department"
    assert sorted(rows[1:]) == sorted([f"{_pseudonym('ann.smith')},Sales", f"{_pseudonym('bob')},Support"])
    assert "ann" not in out.read_text().casefold() and "bob" not in out.read_text()

    # Without the key (the pipeline): the pseudonymised file loads, HR's file is refused line by line.
    assert dict(load_directory(out, None).members) == {_pseudonym("ann.smith"): "Sales", _pseudonym("bob"): "Support"}
    refused = alignmon.run(
        ["refresh"], {"ALIGNMON_DIRECTORY_CSV": str(hr), "ALIGNMON_DUCKDB_PATH": str(tmp_path / "p.duckdb")}
    )
    assert refused.returncode == 1
    assert f"{hr}:2: user: not a pseudonym (and 1 more lines)" in refused.stderr
    assert "Ann" not in refused.stderr and "bob" not in refused.stderr  # real names stay out of logs
    assert "alignmon directory pseudonymise" in refused.stderr


def test_a_bad_hr_file_is_refused_with_its_lines_and_nothing_written(alignmon: Any, tmp_path: Path) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_text("user,department\nann,Sales\nann,Support\n,Legal\n")
    out = tmp_path / "directory.csv"
    result = alignmon.run(["directory", "pseudonymise", str(hr), str(out)], {"ALIGNMON_PSEUDONYM_SECRET": SECRET})
    assert result.returncode == 1
    assert f"{hr}:3: department" in result.stderr and f"{hr}:4: user: empty user" in result.stderr
    assert not out.exists()


def test_the_hr_file_is_never_replaced_by_its_pseudonyms(alignmon: Any, tmp_path: Path) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_text("user,department\nann,Sales\n")
    same = tmp_path / "." / "hr.csv"  # the same file by another spelling
    result = alignmon.run(["directory", "pseudonymise", str(hr), str(same)], {"ALIGNMON_PSEUDONYM_SECRET": SECRET})
    assert result.returncode == 1
    assert "is the directory itself: write the pseudonyms to another file" in result.stderr
    assert hr.read_text() == "user,department\nann,Sales\n"


def test_a_refresh_replaces_the_pseudonymised_file_whole(alignmon: Any, tmp_path: Path) -> None:
    """The monthly feed over last month's file: a reader that opened the old one reads it whole, never a mix."""
    hr = tmp_path / "hr.csv"
    hr.write_text("user,department\nann,Sales\nbob,Support\ncid,Support\n")
    out = tmp_path / "directory.csv"
    out.write_text(f"user,department\n{_pseudonym('ann')},Legal\n")
    with out.open() as reader:  # a pipeline reading the old file when the refresh runs
        result = alignmon.run(["directory", "pseudonymise", str(hr), str(out)], {"ALIGNMON_PSEUDONYM_SECRET": SECRET})
        assert result.returncode == 0, result.stderr
        assert reader.read() == f"user,department\n{_pseudonym('ann')},Legal\n"
    assert len(load_directory(out, None).members) == 3
    assert out.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["directory.csv", "hr.csv"]  # no partial file left
