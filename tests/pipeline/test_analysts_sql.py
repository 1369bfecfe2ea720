"""`alignmon sql` for people and scripts, on the demo's data, and every SQL example of the docs run on it.

The demo's organisation (alignmon/demo.py: its seed, the whole scale, its days of history) is stored, refreshed
and published the pipeline's way into a real DuckDB file and a real analysts' database; `alignmon sql` runs as the
real command in a subprocess, on a pipe, on a terminal (a pty) and into files.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import pty
import re
import select
import shlex
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from alignment import views
from alignmon.analysts import ANALYSTS_OBJECTS
from alignmon.demo import BACKFILL_DAYS, SEED
from base.directory import parse_directory
from collectors.simulate import Organisation
from pipeline.batch import Record, decode
from pipeline.catalog import load_catalog
from pipeline.figures.series import MAX_BACKFILL_DAYS
from pipeline.refresh import refresh, sync_catalog
from pipeline.snapshot import publish
from pipeline.store import Store
from tests.support.events import KEY, focus
from tests.support.fleet import stored_fleet

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 11, 20)
# Malformed records, so that the runbooks' look at rejected events has something to show on the demo's data.
BROKEN = (b"{not json", b'{"event_id": "x", "kind": "focus"}', b'{"event_id": "y", "kind": "sleep"}')
# Docs whose SQL runs on something other than the analysts' database or the pipeline's file: the lake's Parquet
# datasets (docs/lake.md), read with DuckDB or pyarrow on their own.
NOT_ON_THE_DATABASES = {"lake.md"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo's data: the pipeline's own file (closed, so a reader may open it) and the analysts' database."""
    tmp = tmp_path_factory.mktemp("demo-sql")
    org = Organisation.build(SEED, 1.0, AS_OF)
    store, catalog = stored_fleet(tmp, org, BACKFILL_DAYS, KEY, name="alignmon.duckdb")
    try:
        now = int(time.time() * 1000)
        batch = decode([Record("t", 1, i, now, value) for i, value in enumerate(BROKEN)])
        assert len(batch.rejected) == len(BROKEN)
        store.write(batch)
        views.refresh(store.con, catalog, AS_OF)
        publish(store.con, tmp / "analysts.duckdb", ANALYSTS_OBJECTS)
    finally:
        store.close()
    return {"pipeline": tmp / "alignmon.duckdb", "analysts": tmp / "analysts.duckdb", "tmp": tmp}


def sql(demo: dict[str, Path], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`alignmon sql ARGS` on the demo's analysts' database, its standard output a pipe."""
    return subprocess.run(
        [sys.executable, "-m", "alignmon.cli", "sql", *args],
        env={**os.environ, "ALIGNMON_SNAPSHOT_PATH": str(demo["analysts"])},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def on_a_terminal(demo: dict[str, Path], *args: str) -> str:
    """What `alignmon sql ARGS` shows when its standard output is a terminal (a pty)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignmon.cli", "sql", *args],
        env={**os.environ, "ALIGNMON_SNAPSHOT_PATH": str(demo["analysts"])},
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if not ready:
            continue
        try:
            data = os.read(leader, 1 << 16)
        except OSError:  # EIO: the command closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")  # the terminal turns each newline into CR LF


def fetch(path: Path, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with duckdb.connect(str(path), read_only=True) as con:
        cur = con.execute(query)
        return [d[0] for d in cur.description], cur.fetchall()


def as_csv_field(value: Any) -> str:
    """The CSV text of a value, as the command promises it: whole numbers, ISO dates, true/false, NULL empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# --- formats ----------------------------------------------------------------------------------------------------


def test_a_terminal_gets_every_column_and_every_row_as_a_table(demo: dict[str, Path]) -> None:
    columns, rows = fetch(demo["analysts"], "SELECT * FROM adoption_current ORDER BY investment")
    shown = on_a_terminal(demo, "SELECT * FROM adoption_current ORDER BY investment").splitlines()
    assert len(columns) >= 35  # DuckDB's box printed 7 or 8 of them
    assert shown[0].split() == columns
    assert set(shown[1]) == {"-", " "}
    assert [line.split()[1] for line in shown[2:-1]] == [r[1] for r in rows]  # investment, after as_of
    assert shown[-1] == f"({len(rows)} rows)"
    # Numbers are rounded for reading, and aligned to the right under their name.
    erp = next(line for line in shown if "inv-erp-s4" in line)
    assert re.search(r"\b0\.293333\b", erp)  # adoption_ratio 0.29333333333333333
    # Every row, however many: the box format stopped at 200.
    (count,) = fetch(demo["analysts"], "SELECT count(*) FROM usage_daily")[1][0]
    assert count > 1000
    assert on_a_terminal(demo, "SELECT * FROM usage_daily").splitlines()[-1] == f"({count:,} rows)"


def test_a_pipe_gets_csv_with_every_value_whole(demo: dict[str, Path]) -> None:
    for query in ("SELECT * FROM adoption_current ORDER BY investment", "SELECT * FROM usage_daily ORDER BY ALL"):
        columns, rows = fetch(demo["analysts"], query)
        result = sql(demo, query)
        assert result.returncode == 0, result.stderr
        got = list(csv.reader(io.StringIO(result.stdout)))
        assert got[0] == columns
        assert got[1:] == [[as_csv_field(v) for v in row] for row in rows]
        assert result.stderr == ""
    # NULL is an empty field: the orphan investment serves no initiative.
    orphan = sql(demo, "SELECT investment, initiative FROM adoption_current WHERE investment = 'inv-zoom'")
    assert orphan.stdout == "investment,initiative\ninv-zoom,\n"


def test_json_keeps_types_nulls_and_embedded_json(demo: dict[str, Path]) -> None:
    columns, rows = fetch(demo["analysts"], "SELECT * FROM adoption_current ORDER BY investment")
    result = sql(demo, "--format", "json", "SELECT * FROM adoption_current ORDER BY investment")
    assert result.returncode == 0, result.stderr
    want = [{c: v.isoformat() if isinstance(v, date) else v for c, v in zip(columns, row, strict=True)} for row in rows]
    got = json.loads(result.stdout)
    assert got == want
    assert [list(r) for r in got] == [columns] * len(rows)  # every column, in the query's order
    assert any(r["initiative"] is None for r in got) and any(r["at_risk"] in (True, False) for r in got)
    # A JSON column (alignment_inputs.inputs) is data in the document, not a string of JSON.
    inputs = json.loads(sql(demo, "--format", "json", "SELECT as_of, inputs FROM alignment_inputs").stdout)
    assert inputs and all(isinstance(r["inputs"], dict) and "usage" in r["inputs"] for r in inputs)
    empty = sql(demo, "--format", "json", "SELECT * FROM adoption_current WHERE false")
    assert json.loads(empty.stdout) == []


def test_markdown_is_a_table_for_documents(demo: dict[str, Path]) -> None:
    query = "SELECT investment, department, population, adoption_ratio FROM department_adoption ORDER BY ALL"
    _columns, rows = fetch(demo["analysts"], query)
    lines = sql(demo, "--format", "markdown", query).stdout.splitlines()
    assert lines[0] == "| investment | department | population | adoption_ratio |"
    assert lines[1] == "|---|---|---:|---:|"  # numbers to the right
    assert len(lines) == 2 + len(rows) and lines[2].startswith(f"| {rows[0][0]} | {rows[0][1]} | {rows[0][2]} | ")
    assert sql(demo, "--format", "markdown", "SELECT 'a|b' AS t").stdout.splitlines()[2] == "| a\\|b |"


def test_max_rows_caps_the_rows_and_says_so(demo: dict[str, Path]) -> None:
    (count,) = fetch(demo["analysts"], "SELECT count(*) FROM usage_daily")[1][0]
    capped = sql(demo, "--max-rows", "10", "SELECT * FROM usage_daily")
    assert capped.returncode == 0
    assert len(list(csv.reader(io.StringIO(capped.stdout)))) == 1 + 10
    assert "the first 10 rows written; the result has more" in capped.stderr
    whole = sql(demo, "--max-rows", str(count), "SELECT * FROM usage_daily")
    assert len(list(csv.reader(io.StringIO(whole.stdout)))) == 1 + count and whole.stderr == ""
    header = sql(demo, "--max-rows", "0", "--format", "json", "SELECT * FROM shadow_it")
    assert json.loads(header.stdout) == [] and "the first 0 rows written" in header.stderr
    refused = sql(demo, "--max-rows", "-1", "SELECT 1")
    assert refused.returncode == 2 and "not a number of rows" in refused.stderr


def test_output_writes_a_whole_file_and_never_replaces_one_unasked(demo: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "status.json"
    done = sql(demo, "--output", str(out), "SELECT investment, status FROM adoption_current ORDER BY investment")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}: 5 row(s) (json)\n"  # the extension chose the format
    assert [r["investment"] for r in json.loads(out.read_text())][1] == "inv-erp-s4"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as a shell's `>` would create it
    before = out.read_text()

    exists = sql(demo, "--output", str(out), "SELECT 1")
    assert exists.returncode == 1 and out.read_text() == before
    assert f"{out} already exists: pass --force to replace it" in exists.stderr
    replaced = sql(demo, "--output", str(out), "--force", "--format", "csv", "SELECT 1 AS one")
    assert replaced.returncode == 0 and out.read_text() == "one\n1\n"

    failed = sql(demo, "--output", str(tmp_path / "bad.csv"), "SELECT * FROM no_such_table")
    assert failed.returncode == 1 and "no_such_table does not exist" in failed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]  # no file, no half-written temp file

    (tmp_path / "folder").mkdir()
    (tmp_path / "link.csv").symlink_to(out)
    for target, message in (
        (tmp_path / "folder", "is a folder: --output names the file to write"),
        (tmp_path / "missing" / "x.csv", f"the folder {tmp_path / 'missing'} does not exist"),
        (tmp_path / "link.csv", "is not a regular file"),
        (unwritable(tmp_path) / "x.csv", "Permission denied"),
    ):
        refused = sql(demo, "--output", str(target), "--force", "SELECT 1")
        assert refused.returncode == 1 and message in refused.stderr, (target, refused.stderr)
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert out.read_text() == "one\n1\n"  # the link's target untouched
    dash = sql(demo, "--output", "-", "SELECT 1 AS one")  # `-`: standard output
    assert (dash.returncode, dash.stdout) == (0, "one\n1\n")
    alone = sql(demo, "--force", "SELECT 1")
    assert alone.returncode == 1 and "--force goes with --output" in alone.stderr


def unwritable(tmp_path: Path) -> Path:
    """A folder this process may not create files in: a read-only one, or sysfs when running as root."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def test_a_reader_that_stops_early_is_no_error(demo: dict[str, Path]) -> None:
    env = {**os.environ, "ALIGNMON_SNAPSHOT_PATH": str(demo["analysts"])}
    command = f"{shlex.quote(sys.executable)} -m alignmon.cli sql 'SELECT * FROM range(1000000) r(i)' | head -n 2"
    result = subprocess.run(
        ["bash", "-c", f"{command}; echo status ${{PIPESTATUS[0]}}"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.stdout.splitlines() == ["i", "0", "status 141"] and result.stderr == ""


def test_sql_on_the_pipelines_own_file(demo: dict[str, Path]) -> None:
    """--database opens the pipeline's file (the privacy role's), read-only, with the same formats."""
    (stored,) = fetch(demo["analysts"], "SELECT sum(events)::BIGINT FROM ingest_totals")[1][0]
    result = sql(demo, "--database", str(demo["pipeline"]), "--format", "json", "SELECT count(*) AS n FROM events")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"n": stored}] and stored > 10_000
    refused = sql(demo, "--database", str(demo["pipeline"]), "CREATE TABLE x (a INT)")
    assert refused.returncode == 1 and "read-only" in refused.stderr


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("", "the query holds no SQL statement: give one"),
        ("-- a comment", "the query holds no SQL statement: give one"),
        (";", "the query holds no SQL statement: give one"),
        ("SELECT 1; SELECT 2", "the query holds 2 SQL statements: give one at a time"),  # DuckDB showed the last
    ],
)
def test_a_query_of_no_statement_or_several_is_one_line(
    demo: dict[str, Path], query: str, said: str, tmp_path: Path
) -> None:
    result = sql(demo, query)
    assert result.returncode == 1 and result.stderr.startswith(f"alignmon: error: {said}"), result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    to_file = sql(demo, "--output", str(tmp_path / "result.csv"), query)
    assert to_file.returncode == 1 and said in to_file.stderr
    assert list(tmp_path.iterdir()) == []  # not even the temporary copy the result would have been written to


# --- the analysts' views as their docs say -----------------------------------------------------------------------


def test_adoption_daily_starts_at_each_go_live_and_no_data_is_null(demo: dict[str, Path]) -> None:
    _c, rows = fetch(
        demo["analysts"],
        "SELECT d.investment, min(d.day), max(d.day), count(*), any_value(c.go_live), "
        "count(*) FILTER (WHERE d.coverage = 0 AND d.adoption_ratio IS NOT NULL), "
        "count(*) FILTER (WHERE d.coverage = 0), count(*) FILTER (WHERE d.planned_ratio IS NULL) "
        "FROM adoption_daily d JOIN adoption_current c USING (investment) GROUP BY ALL ORDER BY 1",
    )
    assert len(rows) == 5
    first_computed = AS_OF - timedelta(days=MAX_BACKFILL_DAYS)
    for inv, first, last, days, go_live, zero_use, _no_data, unplanned in rows:
        # From the go-live on (or the first day the pipeline computed, 400 days back), every day to the as-of day.
        assert (first, last, days) == (max(go_live, first_computed), AS_OF, (AS_OF - first).days + 1), inv
        assert unplanned == 0, inv  # every day shown has its planned ratio
        assert zero_use == 0, inv  # a day without telemetry has no ratio, never 0
    # The demo's telemetry is 60 days old; investments live before that show the days without data as such.
    assert {inv: no_data > 0 for inv, *_, no_data, _u in rows} == {
        "inv-crm-rollout": True, "inv-erp-s4": True, "inv-tableau": True, "inv-teams": True, "inv-zoom": True,
    }  # fmt: skip


def test_department_adoption_has_the_day_and_the_investments_plan(demo: dict[str, Path]) -> None:
    _c, rows = fetch(
        demo["analysts"],
        "SELECT d.investment, d.department, d.as_of, r.as_of, d.planned_ratio, c.planned_ratio, d.gap, "
        "d.adoption_ratio FROM department_adoption d JOIN adoption_current c USING (investment) "
        "CROSS JOIN refresh_state r",
    )
    assert len(rows) >= 8 and {r[0] for r in rows} == {
        "inv-crm-rollout", "inv-erp-s4", "inv-tableau", "inv-teams", "inv-zoom",
    }  # fmt: skip
    for _inv, _dept, as_of, refreshed, planned, investment_planned, gap, ratio in rows:
        assert as_of == refreshed == AS_OF
        assert planned == investment_planned and planned is not None
        assert gap == pytest.approx(planned - ratio)
    # The ERP is behind plan in both its departments, as its owner's alert says.
    assert sorted(r[1] for r in rows if r[0] == "inv-erp-s4" and r[6] > 0.1) == ["Finance", "Sales"]


ONE_INVESTMENT = """
applications:
  - {id: teams, name: Microsoft Teams, capability: chat, match: {names: [teams.exe]}}
objectives:
  - id: work
    name: Work
    initiatives:
      - id: comms
        name: Comms
        domain: it_strategy
        perspective: technology_transformation
        investments:
          - id: teams-e3
            applications: [teams]
            seats: 20
            annual_cost: 2000
            currency: EUR
            owner: {name: Head of Workplace, email: workplace@example.org}
            go_live: 2026-09-01
            target_ratio: 0.8
            target_date: 2027-03-01
            curve: linear
            target_departments: [Sales, Support]
"""


def test_a_department_without_telemetry_has_no_ratio_and_no_gap(tmp_path: Path) -> None:
    """Missing data is never zero use: a target department nobody in which reports has no ratio and no gap."""
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "catalog.yaml").write_text(ONE_INVESTMENT)
    people = ["user,department"] + [f"sales{i},Sales" for i in range(10)] + [f"sup{i},Support" for i in range(5)]
    catalog = load_catalog(tmp_path / "cat", parse_directory("\n".join(people), KEY))
    store = Store(tmp_path / "t.duckdb")
    try:
        payloads = [focus(i, f"sales{i}", "teams.exe", AS_OF - timedelta(days=1), 30) for i in range(6)]
        store.write(decode([Record("t", 0, i, int(time.time() * 1000), p) for i, p in enumerate(payloads)]))
        sync_catalog(store.con, catalog)
        refresh(store.con, catalog, AS_OF)
        got = {
            r[0]: r[1:]
            for r in store.con.execute(
                "SELECT department, population, active_users, coverage, adoption_ratio, planned_ratio, gap, as_of "
                "FROM department_adoption"
            ).fetchall()
        }
    finally:
        store.close()
    planned = 0.8 * 80 / 181  # linear plan from 2026-09-01 to 2027-03-01, as of 2026-11-20
    sales, support = got["Sales"], got["Support"]
    assert sales[:3] == (10, 6, 0.6) and sales[3] == pytest.approx(0.6)
    assert sales[4] == pytest.approx(planned) and sales[5] == pytest.approx(planned - 0.6) and sales[6] == AS_OF
    # No data: no count, ratio or gap, not 0, 0 and -plan.
    assert support[:4] == (5, None, 0.0, None) and support[5] is None
    assert support[4] == pytest.approx(planned) and support[6] == AS_OF


def test_attainment_follows_the_definitions_of_metrics_md(demo: dict[str, Path]) -> None:
    """Σ cost · min(1, adoption / planned) / Σ cost over on_track or low investments; objectives weighted."""
    _c, investments = fetch(
        demo["analysts"],
        "SELECT initiative, objective, annual_cost, adoption_ratio, planned_ratio, status FROM adoption_current",
    )
    _c, initiatives = fetch(
        demo["analysts"], "SELECT initiative, objective, weight, attainment FROM initiative_attainment"
    )
    want: dict[str, float | None] = {}
    for initiative, *_ in initiatives:
        counted = [
            (cost, min(1.0, ratio / planned))
            for ini, _o, cost, ratio, planned, status in investments
            if ini == initiative and status in ("on_track", "low") and planned
        ]
        # An initiative none of whose investments qualifies has no attainment (empty), not 0.
        want[initiative] = sum(c * a for c, a in counted) / sum(c for c, _a in counted) if counted else None
    got = {ini: attainment for ini, _o, _w, attainment in initiatives}
    assert {i: a for i, a in got.items() if a is None} == {i: a for i, a in want.items() if a is None}
    assert {i: a for i, a in got.items() if a is not None} == pytest.approx(
        {i: a for i, a in want.items() if a is not None}
    )
    assert len([a for a in got.values() if a is not None]) == 4 and min(a for a in got.values() if a) < 0.5
    _c, objectives = fetch(demo["analysts"], "SELECT objective, attainment FROM objective_attainment")
    assert len(objectives) == 2
    for objective, attainment in objectives:
        mine = [(w, a) for _i, o, w, a in initiatives if o == objective and a is not None]
        assert attainment == pytest.approx(sum(w * a for w, a in mine) / sum(w for w, _a in mine)), objective


def test_refresh_state_says_the_day_and_k(demo: dict[str, Path]) -> None:
    assert fetch(demo["analysts"], "SELECT * FROM refresh_state")[1] == [(None, AS_OF, True, AS_OF, 5)]


def test_rejected_events_are_counted_per_field_without_their_payloads(demo: dict[str, Path]) -> None:
    _c, rows = fetch(demo["analysts"], "SELECT field, events, example_reason FROM rejected_events_summary ORDER BY 1")
    assert [(field, events) for field, events, _r in rows] == [("device_id", 1), ("event", 1), ("kind", 1)]
    assert rows[2][2].startswith("kind: Input should be 'focus', 'open' or 'launch'")
    with duckdb.connect(str(demo["analysts"]), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        text = " ".join(str(v) for table in tables for row in con.execute(f'SELECT * FROM "{table}"').fetchall()
                        for v in row)  # fmt: skip
    assert "{not json" not in text and '"sleep"' not in text  # the payloads stay in the pipeline's file


# --- the docs' examples ----------------------------------------------------------------------------------------

_QUOTED_SQL = re.compile(r"""(?<![\w'])(["'])((?:SELECT|WITH)\b.*?)\1""", re.S)


def sql_examples() -> list[tuple[str, str, str | None]]:
    """(doc, query, the --database it names) for every quoted SELECT or WITH in README.md and docs/*.md."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.name in NOT_ON_THE_DATABASES:
            continue
        text = path.read_text()
        for m in _QUOTED_SQL.finditer(text):
            line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()]
            database = re.search(r"--database\s+(\S+)", line)
            found.append((path.name, " ".join(m.group(2).split()), database[1] if database else None))
    return found


def test_every_sql_example_of_the_docs_is_found() -> None:
    """Each SELECT in the docs is one the next test runs: a new example cannot be left out by its quoting."""
    found = sql_examples()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.name not in NOT_ON_THE_DATABASES:
            in_doc = len(re.findall(r"\bSELECT\b", path.read_text()))
            in_examples = sum(len(re.findall(r"\bSELECT\b", q)) for doc, q, _d in found if doc == path.name)
            assert in_doc == in_examples, path.name
    assert {doc for doc, _q, _d in found} >= {"analysts.md", "cli.md", "runbooks.md", "deploy.md"}
    assert any("investment = 'inv-erp-s4'" in q for _doc, q, _d in found)


def sql_commands() -> list[tuple[str, list[str]]]:
    """(doc, arguments) of every `alignmon sql` command with a query in README.md and docs/*.md, as written: the
    lines of code blocks, and inline code (which may wrap)."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        blocks = re.findall(r"^```.*?^```", text, re.S | re.M)
        inline = re.findall(r"`([^`]+)`", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M))
        lines = [line for block in blocks for line in block.splitlines()] + [" ".join(s.split()) for s in inline]
        for line in lines:
            if m := re.search(r"\balignmon sql (.*)", line):
                args = shlex.split(m.group(1), comments=True)
                if any(re.match(r"(SELECT|WITH)\b", a) for a in args):
                    found.append((path.name, args))
    return found


@pytest.mark.parametrize(("doc", "args"), sql_commands(), ids=lambda v: str(v)[:60])
def test_the_docs_sql_commands_run_as_written(demo: dict[str, Path], doc: str, args: list[str], tmp_path: Path) -> None:
    """Each documented `alignmon sql` line, its options as written (--database: the demo's pipeline file)."""
    args = [
        str(demo["pipeline"]) if before == "--database" else a for before, a in zip(["", *args[:-1]], args, strict=True)
    ]
    result = sql(demo, *args, cwd=tmp_path)
    assert result.returncode == 0 and "error" not in result.stderr, (doc, args, result.stderr)
    written = list(tmp_path.iterdir())
    assert len(result.stdout.splitlines()) > 1 or (written and len(written[0].read_text().splitlines()) > 1)


@pytest.mark.parametrize(("doc", "query", "database"), sql_examples(), ids=lambda v: str(v)[:60])
def test_the_docs_sql_examples_return_rows_on_the_demo(
    demo: dict[str, Path], doc: str, query: str, database: str | None
) -> None:
    """Run as `alignmon sql` runs them: on the analysts' database, or with --database on the pipeline's file."""
    args = ["--database", str(demo["pipeline"])] if database else []
    result = sql(demo, *args, "--format", "json", query)
    assert result.returncode == 0, (doc, query, result.stderr)
    rows = json.loads(result.stdout)
    assert rows, (doc, query)
    assert all(any(v not in (None, 0) for v in row.values()) for row in rows), (doc, query, rows[:3])


def test_the_python_example_of_the_analysts_guide_runs_as_written(demo: dict[str, Path]) -> None:
    text = (ROOT / "docs" / "analysts.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1 and ".alignmon/alignmon-snapshot.duckdb" in blocks[0]
    code = blocks[0].replace(".alignmon/alignmon-snapshot.duckdb", str(demo["analysts"]))
    tree = ast.parse(code)
    *body, last = tree.body
    assert isinstance(last, ast.Expr)
    scope: dict[str, Any] = {}
    exec(compile(ast.Module(body=body, type_ignores=[]), "analysts.md", "exec"), scope)
    table = eval(compile(ast.Expression(last.value), "analysts.md", "eval"), scope)
    scope["con"].close()
    assert table.num_rows > 100 and set(table.column("investment").to_pylist()) == {"inv-erp-s4"}
