"""`alignmon impact`'s command line: sql's --format, --output and --force, and errors that name the option typed.

A small fleet (12 days of the simulated organisation through the real pipeline code, two interventions 6 days
before the as-of day, estimated over 2-day windows) is enough: these tests are about the command, not the estimate
(tests/pipeline/test_impact.py checks that).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from alignmon.cli import main
from collectors.simulate import Organisation
from collectors.simulate.interventions import parse_intervention, with_unique_ids
from collectors.simulate.population import DEPARTMENTS
from collectors.simulate.stories import STORIES
from pipeline.impact.output import COLUMNS
from tests.support.fleet import stored_fleet

AS_OF = date(2026, 11, 18)
SPECS = ("inv-erp-s4:Sales:-6:20:training:12000", "inv-tableau:Finance:-6:0:communication")
IDS = ["inv-erp-s4-training-sales", "inv-tableau-communication-finance"]
TITLE = "Effect of interventions on adoption as of 2026-11-18"  # the table's first line


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tmp/fleet.duckdb (closed: the command opens it read-only) and tmp/catalog with its interventions.yaml."""
    tmp = tmp_path_factory.mktemp("impact-cli")
    names = [d.name for d in DEPARTMENTS]
    interventions = with_unique_ids([parse_intervention(s, AS_OF, STORIES, names) for s in SPECS])
    org = Organisation.build(1, 1.0, AS_OF, interventions=interventions)
    store, _catalog = stored_fleet(tmp, org, 12, b"impact-cli-key")
    store.close()
    org.write_interventions(tmp / "catalog" / "interventions.yaml")
    return tmp


def impact(fleet: Path, *args: str) -> int:
    """`alignmon impact ARGS` on the fleet, over 2-day windows, unless ARGS say otherwise; the exit status."""
    defaults = {
        "--database": str(fleet / "fleet.duckdb"),
        "--catalog": str(fleet / "catalog"),
        "--as-of": AS_OF.isoformat(),
        "--window": "2",
    }
    argv = ["impact", *args, *(word for o, v in defaults.items() if o not in args for word in (o, v))]
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return int(exc.code or 0)


class Terminal(io.StringIO):
    """Standard output as a terminal: what a person running the command sees."""

    def isatty(self) -> bool:
        return True


# --- formats, as sql chooses them ----------------------------------------------------------------------------


def test_a_pipe_gets_csv_and_a_terminal_the_table(
    fleet: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sql's rule: a table for a person at a terminal, CSV (every figure) when standard output is a pipe or a file."""
    assert impact(fleet) == 0
    piped = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(piped.out)))
    assert tuple(rows[0]) == COLUMNS and [r["intervention"] for r in rows] == IDS
    assert piped.err == ""

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert impact(fleet) == 0
    shown = terminal.getvalue()
    assert shown.startswith(TITLE) and all(f"\n{i}  " in shown for i in IDS)

    # --format chooses whatever standard output is.
    assert impact(fleet, "--format", "json") == 0
    assert [e["intervention"] for e in json.loads(terminal.getvalue()[len(shown) :])["effects"]] == IDS
    monkeypatch.undo()
    assert impact(fleet, "--format", "table") == 0
    assert capsys.readouterr().out.startswith(TITLE)


def test_output_writes_a_whole_file_in_the_format_its_name_says(
    fleet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "effects.json"
    assert impact(fleet, "--output", str(out)) == 0
    assert capsys.readouterr() == (f"{out}: 2 interventions (json)\n", "")  # nothing else on standard output
    written = out.read_bytes()
    assert [e["intervention"] for e in json.loads(written)["effects"]] == IDS
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as a shell's `>` would create it

    for name, starts in (("effects.csv", ",".join(COLUMNS[:3])), ("effects.txt", TITLE), ("effects.out", "interv")):
        assert impact(fleet, "-o", str(tmp_path / name)) == 0, name
        assert (tmp_path / name).read_text().startswith(starts), name  # an unknown extension: CSV, as sql writes
    capsys.readouterr()
    assert impact(fleet, "--output", "-", "--format", "table") == 0  # `-`: standard output
    assert capsys.readouterr().out.startswith(TITLE)

    # An existing file is replaced only with --force, and --format wins over the extension.
    assert impact(fleet, "--output", str(out)) == 1
    assert capsys.readouterr().err == (
        f"alignmon: error: {out} already exists: pass --force to replace it, or choose another --output\n"
    )
    assert out.read_bytes() == written
    assert impact(fleet, "--output", str(out), "--force", "--format", "csv") == 0
    assert out.read_text().startswith(",".join(COLUMNS[:3]))

    # A failure leaves no file, not even half of one.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "catalog.yaml").write_text("investments: [\n")
    assert impact(fleet, "--catalog", str(broken), "--output", str(tmp_path / "never.csv")) == 1
    assert capsys.readouterr().err.startswith(f"alignmon: error: --catalog {broken} is not valid:\n")
    expected = {"broken", "effects.csv", "effects.json", "effects.out", "effects.txt"}
    assert {p.name for p in tmp_path.iterdir()} == expected

    # A format the command does not write, and --force alone, are refused before any work.
    assert impact(fleet, "--output", str(tmp_path / "effects.md")) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"alignmon: error: --output {tmp_path / 'effects.md'}: a .md file is markdown, which")
    assert err.count("\n") == 1 and not (tmp_path / "effects.md").exists()
    assert impact(fleet, "--force") == 1
    assert capsys.readouterr().err.startswith("alignmon: error: --force goes with --output FILE")
    # The option's old name, --out, still works: argparse takes it as short for --output.
    assert impact(fleet, "--out", str(tmp_path / "old.csv")) == 0 and (tmp_path / "old.csv").exists()


def test_a_reader_that_stops_early_is_no_error(
    fleet: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`alignmon impact | head -1`: no message, and 141 as a program killed by SIGPIPE reports (as sql does)."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes
    with open(write, "w", encoding="utf-8") as pipe:
        monkeypatch.setattr(sys, "stdout", pipe)
        assert impact(fleet, "--format", "table") == 141
        monkeypatch.undo()
    assert capsys.readouterr() == ("", "")


# --- errors --------------------------------------------------------------------------------------------------


def test_a_bad_value_of_any_option_is_a_usage_error_naming_it(fleet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 as for any usage error, argparse's usage, then one line naming the option as typed (not the field)."""
    for args, said in (
        (("--window", "0"), "argument --window: not a number of days from 1 to 3,650: '0'"),
        (("--window", "99999"), "argument --window: not a number of days from 1 to 3,650: '99999'"),  # overflowed
        (("--window", "four"), "argument --window: not a number of days from 1 to 3,650: 'four'"),
        (("--level", "1.5"), "argument --level: not a confidence level between 0 and 1, e.g. 0.95: '1.5'"),
        (("--level", "99"), "argument --level: not a confidence level between 0 and 1, e.g. 0.95: '99'"),
        (("--level", "nan"), "argument --level: not a confidence level between 0 and 1, e.g. 0.95: 'nan'"),
        (("--resamples", "0"), "argument --resamples: not a number of resamples from 1 to 1,000,000: '0'"),
        (("--resamples", "1e9"), "argument --resamples: not a number of resamples from 1 to 1,000,000: '1e9'"),
        (("--seed", "0.5"), "argument --seed: not a whole number: '0.5'"),
        (("--as-of", "2026-02-30"), "argument --as-of: not a day (YYYY-MM-DD): '2026-02-30'"),
    ):
        assert impact(fleet, *args) == 2, args
        out, err = capsys.readouterr()
        *usage, last = err.splitlines()
        assert last == f"alignmon impact: error: {said}", args
        assert usage[0].startswith("usage: alignmon impact") and out == ""


def test_a_file_option_that_names_no_usable_file_is_one_line_naming_it(
    fleet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 1, one line, no traceback: the option and the file as typed, or the setting the file came from."""
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    yaml = fleet / "catalog" / "catalog.yaml"
    for args, said in (
        (("--database", "nowhere.duckdb"), "--database nowhere.duckdb: no such file"),
        (("--database", str(tmp_path)), f"--database {tmp_path} is a folder: name the pipeline's DuckDB file"),
        (("--database", str(yaml)), f"--database {yaml} cannot be opened as a DuckDB file: IO Error: "),
        (("--database", str(empty)), f"--database {empty} is not the pipeline's own DuckDB file: Catalog Error: "),
        (("--catalog", "nowhere"), "--catalog nowhere: no such folder or file"),
        (("--interventions", "nowhere.yaml"), "--interventions nowhere.yaml: no such file"),
        # After the data: its days would pass for known (coverage counts 28 days back) and give a verdict.
        (("--as-of", "2026-12-01"), "--as-of 2026-12-01: the database is computed up to 2026-11-18"),
    ):
        assert impact(fleet, *args) == 1, args
        out, err = capsys.readouterr()
        assert err.startswith(f"alignmon: error: {said}") and err.count("\n") == 1, err
        assert out == ""
    # Left out, the file is the setting's, and the message says so.
    monkeypatch.setenv("ALIGNMON_DUCKDB_PATH", str(tmp_path / "none.duckdb"))
    assert main(["impact", "--catalog", str(fleet / "catalog")]) == 1
    assert capsys.readouterr().err == (
        f"alignmon: error: {tmp_path / 'none.duckdb'} (ALIGNMON_DUCKDB_PATH): no such file: run the pipeline "
        "first, or name its file with --database\n"
    )
    # An invalid catalog lists its errors, each located, under a line naming the option.
    assert impact(fleet, "--catalog", str(fleet / "fleet.duckdb")) == 1
    first, *located = capsys.readouterr().err.splitlines()
    assert first == f"alignmon: error: --catalog {fleet / 'fleet.duckdb'} is not valid:"
    assert located and all(line.startswith(str(fleet / "fleet.duckdb")) for line in located)
