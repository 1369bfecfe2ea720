"""`alignmon metrics backfill`: past days' figures as the exporter would have published them, into a real Prometheus.

The fleet is the simulated organisation stored as the pipeline stores it. The figures of a past day are compared with
an independent computation: the pipeline's own sequence (`refresh_all` as of that day) on another copy of the file,
read by the exporter's collector. The integration tests run the real `promtool`, a real Prometheus and a real
pipeline process.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from alignmon.process import refresh_all
from alignmon.stack.kafka import ensure_topics
from alignmon.stack.process import free_port
from alignmon.stack.prometheus import prometheus_config, prometheus_service
from base.errors import AlignmonError, DatabaseInUseError
from base.settings import Settings
from base.sources import SOURCES
from collectors.simulate import Organisation
from metrics.backfill import (
    BLOCK_HOURS,
    Backfill,
    Days,
    Options,
    block_hours,
    check_data_dir,
    day_bounds,
    duration_s,
    find_promtool,
)
from metrics.exporter import PipelineCollector
from metrics.history import History
from pipeline.catalog import Catalog
from pipeline.figures.current import read_current
from pipeline.working_copy import CopyRequests, copy_file
from tests.support.fleet import stored_fleet

KEY = b"backfill-test-key"
DAYS = 35
PROMTOOL = "/usr/bin/promtool"
INTERVENTION, INTERVENTION_DAYS_AGO = "crm-training-sales", 15
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Fleet:
    def __init__(self, folder: Path, database: Path, catalog: Catalog, as_of: date) -> None:
        self.folder, self.database, self.catalog, self.as_of = folder, database, catalog, as_of

    def env(self, state: Path) -> dict[str, str]:
        """The settings of a CLI run on this fleet (stored_fleet's directory is not pseudonymised: not given)."""
        return {
            "ALIGNMON_DUCKDB_PATH": str(self.database),
            "ALIGNMON_CATALOG_DIR": str(self.folder / "catalog"),
            "ALIGNMON_STATE_DIR": str(state),
            "ALIGNMON_AS_OF": self.as_of.isoformat(),
        }

    def settings(self, state: Path) -> Settings:
        return Settings(
            duckdb_path=self.database, catalog_dir=self.folder / "catalog", state_dir=state, as_of=self.as_of
        )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    folder = tmp_path_factory.mktemp("backfill-fleet")
    as_of = date.today()  # relative to now: a real Prometheus keeps only recent days
    store, catalog = stored_fleet(folder, Organisation.build(7, 1.0, as_of), DAYS, KEY)
    # An intervention's row as the pipeline publishes it: the past days carry its marker for the drill-down too.
    store.con.execute(
        "INSERT INTO intervention_effects (intervention, investment, kind, first_day, last_day, verdict) "
        "VALUES (?, 'inv-crm-rollout', 'training', ?, ?, 'effect')",
        [INTERVENTION, as_of - timedelta(days=INTERVENTION_DAYS_AGO), as_of - timedelta(days=INTERVENTION_DAYS_AGO)],
    )
    store.close()  # the pipeline is stopped: the CLI copies the file itself
    return Fleet(folder, folder / "fleet.duckdb", catalog, as_of)


def samples(families: list[Metric]) -> Samples:
    return {(s.name, frozenset(s.labels.items())): float(s.value) for f in families for s in f.samples}


def exported_after_refresh(fleet: Fleet, day: date, tmp: Path, k: int = 5) -> tuple[Samples, duckdb.DuckDBPyConnection]:
    """What the live exporter publishes after the pipeline's own refresh as of `day`, on a copy of the fleet's file."""
    copy = copy_file(fleet.database, tmp / f"oracle-{day}-{uuid.uuid4().hex}.duckdb")
    con = duckdb.connect(str(copy))
    con.execute("SET TimeZone = 'UTC'")
    refresh_all(con, fleet.catalog, day, k)
    return samples(PipelineCollector(con.cursor, sources=SOURCES).figures()), con


def history(fleet: Fleet, tmp: Path, k: int = 5) -> History:
    copy = copy_file(fleet.database, tmp / f"history-{uuid.uuid4().hex}.duckdb")
    return History.open(copy, fleet.catalog, fleet.as_of, k=k, silent_days=7, sources=SOURCES)


# --- the figures of past days -----------------------------------------------------------------------------------


def test_each_past_day_is_what_the_exporter_publishes_after_a_refresh_as_of_that_day(
    fleet: Fleet, tmp_path: Path
) -> None:
    days = [fleet.as_of - timedelta(days=n) for n in (20, 9, 1)]  # in order, on one copy, as a backfill runs
    with history(fleet, tmp_path) as h:
        backfilled = {day: samples(h.families(day)) for day in days}
    marker = (
        "alignmon_intervention_start_timestamp_seconds",
        frozenset({"investment": "inv-crm-rollout", "intervention": INTERVENTION, "kind": "training"}.items()),
    )
    for day in days:
        expected, con = exported_after_refresh(fleet, day, tmp_path)
        con.close()
        assert backfilled[day] == expected, day
        assert backfilled[day][marker] == day_bounds(fleet.as_of - timedelta(days=INTERVENTION_DAYS_AGO), "UTC")[0]
    ratio = "alignmon_investment_adoption_ratio"
    by_day = [{k: v for k, v in backfilled[d].items() if k[0] == ratio} for d in days]
    assert by_day[0] and by_day[0] != by_day[2], "the days differ: each is its own as-of day, not today's figures"


def test_backfilled_days_suppress_small_groups_as_the_live_exporter_does(fleet: Fleet, tmp_path: Path) -> None:
    # Only Engineering (80 people) of the departments, and only the populations of 100 and 207 of the investments, reach
    # k: the others (60, 75 and 75 people) are small populations, and every smaller department is left out.
    k = 76
    day = fleet.as_of - timedelta(days=5)
    with history(fleet, tmp_path, k=k) as h:
        got = samples(h.families(day))
        sizes = dict(h.con.execute("SELECT department, count(*) FROM directory GROUP BY ALL").fetchall())
        populations = dict(h.con.execute("SELECT investment, population FROM adoption_current").fetchall())
    expected, con = exported_after_refresh(fleet, day, tmp_path, k=k)
    small = {f.investment for f in read_current(con) if f.status_reason == "small_population"}
    con.close()
    assert got == expected
    departments = {dict(labels)["department"] for name, labels in got if name == "alignmon_department_adoption_ratio"}
    assert departments and all(sizes[d] >= k for d in departments)
    assert small, "some target population is under k"
    assert all(populations[inv] is None for inv in small)
    ratios = {dict(labels)["investment"] for name, labels in got if name == "alignmon_investment_adoption_ratio"}
    assert ratios and not ratios & small
    reasons = {
        dict(labels)["investment"]
        for name, labels in got
        if name == "alignmon_investment_status_reason" and dict(labels)["reason"] == "small_population"
    }
    assert reasons == small


# --- OpenMetrics and promtool -----------------------------------------------------------------------------------


def _family(value: float = 0.5) -> Metric:
    family = GaugeMetricFamily("alignmon_test_ratio", 'A "quoted" help\nwith a line break', labels=["investment"])
    family.add_metric(['inv "x"\\y'], value)
    return family


def test_a_day_is_sampled_every_step_through_its_own_hours_in_the_organisations_time_zone() -> None:
    tz, short = "Europe/Amsterdam", date(2026, 3, 29)  # clocks go forward: a 23-hour day
    days = Days({"job": "alignmon-pipeline", "instance": "pipeline:9708"}, tz, 300)
    days.add(short, [_family()])
    start, end = day_bounds(short, tz)
    assert (start, end - start) == (1_774_738_800, 23 * 3600)  # 2026-03-28T23:00Z, 23 hours
    out = io.StringIO()
    assert days.write(out, start, end) == 23 * 12
    lines = out.getvalue().splitlines()
    assert lines[:2] == [
        '# HELP alignmon_test_ratio A \\"quoted\\" help\\nwith a line break',
        "# TYPE alignmon_test_ratio gauge",
    ]
    assert lines[2] == (
        f'alignmon_test_ratio{{instance="pipeline:9708",investment="inv \\"x\\"\\\\y",job="alignmon-pipeline"}} 0.5 '
        f"{start}"
    )
    assert lines[-2].endswith(f" {end - 300}") and lines[-1] == "# EOF"


def test_a_day_split_between_two_blocks_is_written_once_in_each_part() -> None:
    days = Days({"job": "j", "instance": "i"}, "UTC", 300)
    day = date(2026, 11, 3)
    days.add(day, [_family()])
    start, end = day_bounds(day, "UTC")
    cut = start + 7 * 3600 + 120  # not on a sample: the window boundary falls between two
    stamps = []
    for lo, hi in ((start, cut), (cut, end)):
        out = io.StringIO()
        days.write(out, lo, hi)
        stamps += [int(line.rsplit(" ", 1)[1]) for line in out.getvalue().splitlines() if not line.startswith("#")]
    assert stamps == list(range(start, end, 300))
    days.drop_until(cut)
    assert days.days == [day]  # still has samples after the cut
    days.drop_until(end)
    assert days.days == [] and all(not f.series for f in days.families.values())


def test_promtool_turns_the_openmetrics_into_a_block_with_the_same_values(tmp_path: Path) -> None:
    assert Path(PROMTOOL).exists(), "promtool missing: install the Debian package `prometheus` (make setup)"
    days = Days({"job": "alignmon-pipeline", "instance": "127.0.0.1:19708"}, "UTC", 300)
    first = date(2026, 10, 1)
    for n in range(3):
        days.add(first + timedelta(days=n), [_family(0.25 * (n + 1))])
    start, end = day_bounds(first, "UTC")[0], day_bounds(first + timedelta(days=2), "UTC")[1]
    om = tmp_path / "history.om"
    with om.open("w") as out:
        assert days.write(out, start, end) == 3 * 288
    result = subprocess.run(
        [
            PROMTOOL,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=162h",
            str(om),
            str(tmp_path / "db"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (tmp_path / "db" / "wal").mkdir()  # promtool 2.42's dump reads a WAL too
    dump = subprocess.run(
        [PROMTOOL, "tsdb", "dump", str(tmp_path / "db")], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(dump) == 3 * 288
    values = {line.split()[-2] for line in dump}
    assert values == {"0.25", "0.5", "0.75"}
    assert f"{end - 300}000" in dump[-1]  # promtool's milliseconds: the last sample of the third day


def test_block_sizes_keep_a_file_under_the_sample_cap_and_durations_parse() -> None:
    assert block_hours(160, 300) == 1458  # the demo: 60 days fit one file per block
    assert block_hours(90_000, 300) == 2  # 2,000 investments by 20 departments: the smallest blocks
    assert set(BLOCK_HOURS) >= {block_hours(n, 300) for n in (1, 1_000, 10_000)}
    assert duration_s("400d") == 400 * 86_400
    assert duration_s("1y2w") == 365 * 86_400 + 14 * 86_400
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        duration_s("15 days")


def test_openmetrics_files_and_their_script_build_the_blocks_where_prometheus_is(fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "openmetrics"
    out.mkdir()
    (out / "alignmon-history-2020-01-01T00.om").write_text("an earlier run's\n")
    day = fleet.as_of - timedelta(days=3)
    summary = Backfill(
        Options(prometheus_url="http://127.0.0.1:1", first=day, last=day, openmetrics=out, job="j", instance="i"),
        fleet.settings(tmp_path / "state"),
        print,
    ).run()
    assert summary.days == [day] and len(summary.files) in (1, 2)  # a day may straddle two blocks' windows
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f.name for f in summary.files), "create-blocks.sh"])
    data = tmp_path / "prometheus-data"
    (data / "wal").mkdir(parents=True)
    built = subprocess.run(
        ["sh", str(out / "create-blocks.sh"), str(data)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    blocks = [p for p in data.iterdir() if (p / "meta.json").exists()]
    assert len(blocks) == len(summary.files) and sorted(p.name for p in data.iterdir() if p not in blocks) == ["wal"]


# --- helpful errors ---------------------------------------------------------------------------------------------


def _run(fleet: Fleet, tmp: Path, **options: Any) -> None:
    Backfill(Options(prometheus_url="http://127.0.0.1:1", **options), fleet.settings(tmp / "state"), print).run()


def test_without_promtool_it_says_where_promtool_comes_from(fleet: Fleet, tmp_path: Path) -> None:
    with pytest.raises(AlignmonError, match=r"--promtool /nowhere/promtool is not an executable file.*Debian package"):
        _run(fleet, tmp_path, promtool="/nowhere/promtool", data_dir=tmp_path)
    assert find_promtool(None) == PROMTOOL


def test_a_missing_or_wrong_data_folder_is_named_with_what_to_give(fleet: Fleet, tmp_path: Path) -> None:
    with pytest.raises(AlignmonError, match=r"Prometheus data folder .*/absent not found: give --prometheus-data"):
        _run(fleet, tmp_path, data_dir=tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AlignmonError, match=r"does not look like a Prometheus data folder \(no wal/"):
        check_data_dir(tmp_path / "empty")
    assert not (tmp_path / "state" / "working-copies").exists() or not any(
        (tmp_path / "state" / "working-copies").iterdir()
    ), "checked before any copy is made"


def test_today_is_left_to_the_live_exporter(fleet: Fleet, tmp_path: Path) -> None:
    with pytest.raises(AlignmonError, match=r"--to .*: today .* and later are the live exporter's"):
        _run(fleet, tmp_path, last=fleet.as_of, output=tmp_path / "out")


def test_a_stopped_backfill_leaves_neither_copy_nor_staging_folder(fleet: Fleet, tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "blocks"
    args = ["--output", str(out), "--prometheus-url", "http://127.0.0.1:9", "--job", "j", "--instance", "i"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "alignmon.cli", "metrics", "backfill", *args],
        env={**os.environ, **fleet.env(state)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "days computed" in line:  # the working copy is made and the staging folder is there
            break
    assert list((state / "working-copies").glob("*.duckdb")) and list(out.glob(".alignmon-backfill-staging-*"))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert not list((state / "working-copies").glob("*.duckdb*")) and not list(out.glob(".alignmon-backfill-staging-*"))


# --- working copies ---------------------------------------------------------------------------------------------


def _hold(database: Path) -> subprocess.Popen[str]:
    """Another process holding the file for writing, as a running pipeline does."""
    code = (
        f"import duckdb, sys, time; c = duckdb.connect({str(database)!r}); print('held', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_file_held_by_a_pipeline_is_copied_by_that_pipeline_on_request(fleet: Fleet, tmp_path: Path) -> None:
    database = tmp_path / "held.duckdb"
    shutil.copyfile(fleet.database, database)
    holder = _hold(database)
    try:
        with pytest.raises(DatabaseInUseError, match="a running pipeline is asked for a copy"):
            copy_file(database, tmp_path / "copy.duckdb")
    finally:
        holder.kill()
        holder.wait()
    # The pipeline's side, here a thread on a connection of this process: the CLI's request is answered with a copy.
    requests = CopyRequests(tmp_path / "working-copies")
    live = duckdb.connect(str(database))
    stop = False

    def pipeline() -> None:
        while not stop:
            if requests.pending():
                requests.serve(live.cursor)
            time.sleep(0.05)

    thread = threading.Thread(target=pipeline)
    thread.start()
    try:
        copy = requests.ask(timeout_s=30)
    finally:
        stop = True
        thread.join()
        requests.wait()
    assert oct(copy.stat().st_mode & 0o777) == "0o600" and oct(copy.parent.stat().st_mode & 0o777) == "0o700"
    with duckdb.connect(str(copy), read_only=True) as con:
        assert (
            con.execute("SELECT count(*) FROM usage_user_daily").fetchone()
            == live.execute("SELECT count(*) FROM usage_user_daily").fetchone()
        )
    live.close()
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name], "request and answer are gone"


def test_a_request_nobody_answers_times_out_withdrawn(tmp_path: Path) -> None:
    requests = CopyRequests(tmp_path / "working-copies")
    with pytest.raises(AlignmonError, match=r"did not answer within 1 s.*is ALIGNMON_STATE_DIR the pipeline's"):
        requests.ask(timeout_s=1)
    assert not requests.pending()


def test_a_copy_left_by_a_killed_run_is_deleted_by_the_next(tmp_path: Path) -> None:
    requests = CopyRequests(tmp_path / "working-copies")
    requests.open()
    old, fresh = requests.folder / "old.duckdb", requests.folder / "fresh.duckdb"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (time.time() - 7 * 3600, time.time() - 7 * 3600))
    assert requests.drop_abandoned() == 1
    assert not old.exists() and fresh.exists()


def test_requests_and_taken_requests_left_by_a_killed_run_are_deleted_too(tmp_path: Path) -> None:
    now = [time.time()]
    requests = CopyRequests(tmp_path / "working-copies", clock=lambda: now[0])
    requests.open()
    left = [
        requests.folder / name for name in ("a.request.json", "b.taken.json", "c.answer.json", ".c.answer.json.tmp")
    ]
    for path in left:
        path.write_text("{}")
    assert requests.drop_abandoned() == 0, "young: the run that left them may still wait"
    now[0] += 7 * 3600
    assert requests.drop_abandoned() == len(left)
    assert not any(requests.folder.iterdir())


def _taking_pipeline(requests: CopyRequests, database: Path, go: threading.Event) -> threading.Thread:
    """The pipeline's side: takes the request at once, then makes the copy only once `go` is set."""
    live = duckdb.connect(str(database))

    def cursor() -> duckdb.DuckDBPyConnection:
        go.wait(30)
        return live.cursor()

    def answer() -> None:
        try:
            while not requests.pending():
                time.sleep(0.02)
            requests.answer_all(cursor)
        finally:
            live.close()

    thread = threading.Thread(target=answer)
    thread.start()
    return thread


@pytest.mark.parametrize("when", ["while the copy is made", "after the answer came"])
def test_a_request_withdrawn_after_the_pipeline_took_it_leaves_nothing(fleet: Fleet, tmp_path: Path, when: str) -> None:
    """Ctrl-C, SIGTERM or the timeout end `ask` after the pipeline took the request: the copy it makes is deleted,
    by the pipeline (it finds the request withdrawn once the copy is made) or by `ask` (the answer was there)."""
    database = tmp_path / "live.duckdb"
    shutil.copyfile(fleet.database, database)
    requests = CopyRequests(tmp_path / "working-copies")
    go = threading.Event()
    pipeline = _taking_pipeline(requests, database, go)

    def waiting(_waited: float) -> None:
        if not list(requests.folder.glob("*.taken.json")) and pipeline.is_alive():
            return  # not taken yet
        if when == "after the answer came":
            go.set()
            pipeline.join(60)  # answered: the copy and its answer are there
            assert list(requests.folder.glob("*.duckdb"))
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            requests.ask(timeout_s=60, waiting=waiting)
    finally:
        go.set()
        pipeline.join(60)
    assert sorted(p.name for p in requests.folder.iterdir()) == [], "no copy, answer or request is left"


def _canonical(value: Any) -> Any:
    """A JSON object's text with its keys sorted (their order follows the rows' order, which DuckDB does not fix)."""
    if isinstance(value, str) and value.startswith("{"):
        return json.dumps(json.loads(value), sort_keys=True)
    return value


def test_a_refresh_while_the_pipeline_copies_its_file_is_unchanged(fleet: Fleet, tmp_path: Path) -> None:
    """COPY FROM DATABASE needs the copy attached to the pipeline's own DuckDB instance, where every cursor sees it
    (as it sees the analysts' database while a publication is made): the refresh's looks at DuckDB's catalog must not
    count that file's tables, which have the same names."""
    database = tmp_path / "live.duckdb"
    shutil.copyfile(fleet.database, database)
    day = fleet.as_of - timedelta(days=1)
    con = duckdb.connect(str(database))
    con.execute("SET TimeZone = 'UTC'")

    def state() -> dict[str, Any]:
        tables = con.execute(
            "SELECT table_name, table_oid FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
        clock = {"computed_at", "ingested_at", "published_at", "refreshed_at", "loaded_at", "updated_at"}
        out: dict[str, Any] = {}
        for name, oid in tables:
            columns = [c[0] for c in con.execute(f'DESCRIBE "{name}"').fetchall() if c[0] not in clock]
            selected = ", ".join(f'"{c}"' for c in columns)
            rows = sorted(
                repr(tuple(map(_canonical, r))) for r in con.execute(f'SELECT {selected} FROM "{name}"').fetchall()
            )
            out[name] = (oid, rows)  # the same table (not dropped and made anew), the same rows
        return out

    try:
        refresh_all(con, fleet.catalog, day, 5)
        before = state()
        # As copy_database leaves the instance while COPY FROM DATABASE runs: the copy, its tables in, attached.
        con.execute(f"ATTACH '{tmp_path / 'copy.duckdb'}' AS alignmon_working_copy")
        con.execute('COPY FROM DATABASE "live" TO alignmon_working_copy')
        refresh_all(con, fleet.catalog, day, 5)
        con.execute("DETACH alignmon_working_copy")
        assert state() == before
    finally:
        con.close()


# --- the command, on real services ------------------------------------------------------------------------------


def _cli(args: list[str], env: dict[str, str], timeout: float = 280) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "alignmon.cli", "metrics", "backfill", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, Path, float]]:
    """A real Prometheus of its own (URL, data folder, start time), with the 400-day retention the stack gives it."""
    port = free_port()
    config = prometheus_config({"alignmon-pipeline": [f"127.0.0.1:{free_port()}"]}, [], "127.0.0.1:1", 1.0)
    state = tmp_path / "prometheus-state"
    service = prometheus_service(state, port, config, tag=str(state))
    started = time.time()
    service.start()
    try:
        yield f"http://127.0.0.1:{port}", state / "prometheus" / "data", started
    finally:
        service.stop()


def _query(url: str, expr: str, at: float) -> dict[frozenset[tuple[str, str]], float]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": at}, timeout=10).json()
    assert answer["status"] == "success", answer
    return {
        frozenset((k, v) for k, v in r["metric"].items() if k != "__name__"): float(r["value"][1])
        for r in answer["data"]["result"]
    }


@pytest.mark.integration
@pytest.mark.timeout(600)  # Prometheus looks for new blocks once a minute, and the command runs twice
def test_prometheus_answers_a_day_from_before_it_started_with_the_pipelines_figure(
    fleet: Fleet, tmp_path: Path, prometheus: tuple[str, Path, float]
) -> None:
    url, data, started = prometheus
    day = fleet.as_of - timedelta(days=12)
    noon = day_bounds(day, "UTC")[0] + 12 * 3600
    assert noon < started - 86_400  # a point from well before this Prometheus started
    env = fleet.env(tmp_path / "state")
    target = ["--job", "alignmon-pipeline", "--instance", "127.0.0.1:9"]
    span = ["--from", str(day - timedelta(days=1)), "--to", str(day + timedelta(days=1))]
    database_before = hashlib.sha256(fleet.database.read_bytes()).hexdigest()
    first = _cli(["--prometheus-url", url, *span, *target], env)  # data folder: the one Prometheus names
    assert f"block(s) in {data}" in first.stdout, first.stdout
    assert "Prometheus shows the history" in first.stdout, first.stdout
    assert hashlib.sha256(fleet.database.read_bytes()).hexdigest() == database_before, "the live file is not written"
    assert not any((tmp_path / "state" / "working-copies").iterdir()), "the working copy is deleted"

    # The pipeline's own computation of that day: `alignmon refresh --as-of` on a copy, its adoption_current.
    expected, con = exported_after_refresh(fleet, day, tmp_path)
    figures = {f.investment: f for f in read_current(con)}
    con.close()
    job = {("job", "alignmon-pipeline"), ("instance", "127.0.0.1:9")}
    ratios = _query(url, "alignmon_investment_adoption_ratio", noon)
    assert ratios, "Prometheus answers the backfilled day"
    for labels, value in ratios.items():
        f = figures[dict(labels)["investment"]]
        assert f.adoption_ratio is not None and math.isclose(value, f.adoption_ratio, rel_tol=0, abs_tol=1e-12)
        assert job <= labels
    assert {dict(labels)["investment"] for labels in ratios} == {
        inv for inv, f in figures.items() if f.adoption_ratio is not None
    }
    statuses = _query(url, "alignmon_investment_status == 1", noon)
    assert {dict(lab)["investment"]: dict(lab)["status"] for lab in statuses} == {
        inv: f.status for inv, f in figures.items()
    }
    departments = _query(url, "alignmon_department_adoption_ratio", noon)
    assert departments == {  # Prometheus drops an empty label (an orphan's initiative), as it does when scraping
        frozenset((k, v) for k, v in labels if v) | job: value
        for (name, labels), value in expected.items()
        if name == "alignmon_department_adoption_ratio"
    }
    # The drill-down's marker of an intervention is there on the backfilled day too: its first day, in seconds.
    first_day = day_bounds(fleet.as_of - timedelta(days=INTERVENTION_DAYS_AGO), "UTC")[0]
    assert list(_query(url, "alignmon_intervention_start_timestamp_seconds", noon).values()) == [first_day]
    # Every sample of the day, not only noon's: the line is unbroken at Prometheus's 5-minute lookback.
    start, end = day_bounds(day, "UTC")
    answer = httpx.get(
        f"{url}/api/v1/query_range",
        params={
            "query": 'count(alignmon_investment_info{job="alignmon-pipeline"})',
            "start": start,
            "end": end - 1,
            "step": 60,
        },
        timeout=10,
    ).json()
    points = answer["data"]["result"][0]["values"]
    assert len(points) == (end - start) // 60 and {v for _t, v in points} == {str(len(figures))}

    blocks = sorted(p.name for p in data.iterdir() if len(p.name) == 26)
    second = _cli(["--prometheus-url", url, *span, *target], env)  # run twice: nothing is written again
    assert "3 of 3 days" in second.stdout and "left as they are" in second.stdout, second.stdout
    assert "nothing to backfill" in second.stdout
    assert sorted(p.name for p in data.iterdir() if len(p.name) == 26) == blocks
    assert _query(url, "alignmon_investment_adoption_ratio", noon) == ratios


@pytest.mark.integration
@pytest.mark.timeout(600)  # a pipeline to start and catch up, then the backfill: minutes on a busy 2-core machine
def test_backfill_asks_a_running_pipeline_for_its_working_copy(
    kafka_bootstrap: str, tmp_path: Path, wait_for: Callable[..., Any]
) -> None:
    from collectors.publish import publish

    as_of = date.today()
    org = Organisation.build(7, 0.3, as_of)
    state = tmp_path / "state"
    (tmp_path / "catalog").mkdir()
    org.write_catalog(tmp_path / "catalog" / "catalog.yaml")
    org.write_directory(tmp_path / "directory.csv", pseudonymise_with=KEY)
    topic = f"backfill.{uuid.uuid4().hex[:12]}"
    ensure_topics(kafka_bootstrap, {topic: 3, f"{topic}.dlq": 1})
    history_days = [as_of - timedelta(days=n) for n in range(8, 0, -1)]
    events = (e for d in history_days for e in org.dicts_for_day(d, pseudonymise_with=KEY, with_department=True))
    sent = publish(kafka_bootstrap, topic, events)  # all in Kafka before the pipeline starts: it must catch up first
    env = {
        "ALIGNMON_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_DLQ_TOPIC": f"{topic}.dlq",
        "ALIGNMON_CATALOG_DIR": str(tmp_path / "catalog"),
        "ALIGNMON_DIRECTORY_CSV": str(tmp_path / "directory.csv"),
        "ALIGNMON_DUCKDB_PATH": str(tmp_path / "alignmon.duckdb"),
        "ALIGNMON_SNAPSHOT_PATH": str(tmp_path / "snapshot.duckdb"),
        "ALIGNMON_STATE_DIR": str(state),
        "ALIGNMON_EXPORTER_PORT": str(free_port()),
        "ALIGNMON_AS_OF": as_of.isoformat(),
    }
    log = tmp_path / "pipeline.log"
    pipeline = subprocess.Popen(
        [sys.executable, "-m", "alignmon.cli", "pipeline"],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for((tmp_path / "alignmon.duckdb").exists, timeout=60, what=f"the pipeline's file ({log})")
        out = tmp_path / "openmetrics"
        result = _cli(
            ["--openmetrics", str(out), "--prometheus-url", "http://127.0.0.1:9", "--job", "j", "--instance", "i"], env
        )
        assert "is held by the running pipeline: asking it for a working copy" in result.stdout, result.stdout
        assert pipeline.poll() is None, f"the pipeline runs on ({log})"
    finally:
        pipeline.send_signal(signal.SIGTERM)
        pipeline.wait(timeout=60)
    assert not list((state / "working-copies").glob("*.duckdb*")), "the working copy is deleted"
    assert (out / "create-blocks.sh").exists()
    written: dict[date, dict[str, float]] = {}
    for path in sorted(out.glob("alignmon-history-*.om")):
        for family in text_string_to_metric_families(path.read_text()):
            for s in family.samples:
                if s.name == "alignmon_investment_adoption_ratio":
                    assert s.timestamp is not None
                    day = datetime.fromtimestamp(float(s.timestamp), UTC).date()  # the organisation's days: UTC
                    written.setdefault(day, {})[s.labels["investment"]] = s.value
    stored = duckdb.connect(str(tmp_path / "alignmon.duckdb"), read_only=True)
    assert stored.execute("SELECT sum(events) FROM ingest_totals").fetchone() == (sent,)
    first = stored.execute("SELECT min(day) FROM usage_user_daily").fetchone()[0]  # type: ignore[index]
    stored.close()
    assert sorted(written) == [d for d in history_days if d >= first], "every day of the history up to yesterday"
    # The copy held the stored events: the pipeline's own figures of the stopped file agree with the copy's.
    fleet = Fleet(tmp_path, tmp_path / "alignmon.duckdb", _catalog(tmp_path), as_of)
    expected, con = exported_after_refresh(fleet, history_days[3], tmp_path)
    con.close()
    assert written[history_days[3]] == {
        dict(labels)["investment"]: value
        for (name, labels), value in expected.items()
        if name == "alignmon_investment_adoption_ratio"
    }


def _catalog(folder: Path) -> Catalog:
    from base.directory import load_directory
    from pipeline.catalog import load_catalog

    return load_catalog(folder / "catalog", load_directory(folder / "directory.csv", None))
