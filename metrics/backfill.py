"""`alignmon metrics backfill`: every past day's figures into Prometheus, so the dashboards show the whole history.

Prometheus only holds what it scraped since it started; the pipeline's DuckDB file holds months (backfills, imports).
For each past day D the figures are recomputed as the exporter would have published them on D (metrics.history:
the pipeline's refresh as of D on a private working copy, read by the exporter's own collector, k-anonymity and
all), written as OpenMetrics with a sample every `step` seconds through D in the organisation's time zone, labelled
with the job and instance Prometheus scrapes the pipeline as (a backfilled day and a live one are the same series),
and turned into TSDB blocks by Prometheus's own tool, `promtool tsdb create-blocks-from openmetrics`. The blocks are
built in a staging folder inside Prometheus's data folder and moved in whole; Prometheus loads them within a minute.

Days Prometheus already holds figures for (scraped live, or backfilled by an earlier run) are left as they are, so a
second run adds only the days the first did not write; days older than Prometheus's retention, and days whose 28-day
window lost its per-person rollups to the pipeline's retention, are not written. docs/operations.md, "History in
Grafana", says what each of these means for an operator.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

import httpx
from prometheus_client.core import Metric

from base.errors import AlignmonError, DatabaseInUseError
from pipeline.working_copy import CopyRequests, copy_file, working_copies

if TYPE_CHECKING:
    from base.settings import Settings
    from metrics.history import History

DEFAULT_STEP_S = 300  # Prometheus's default lookback: every moment of a day finds a sample, lines do not break
MAX_SAMPLES_PER_FILE = 5_000_000  # under 1 GB of OpenMetrics text (promtool maps a file whole, reads it twice)
LOAD_WAIT_S = 150.0  # Prometheus looks for new blocks in its data folder every minute
PIPELINE_JOB = "alignmon-pipeline"  # the scrape job of docker-compose's and the local stack's Prometheus
STAGING = ".alignmon-backfill-staging"  # inside the data folder (same file system: blocks move in by rename)
OPENMETRICS_PREFIX = "alignmon-history-"
SCRIPT = "create-blocks.sh"
_DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400, "y": 365 * 86_400}
_OM_TYPES = {"untyped": "unknown"}  # prometheus_client's name -> OpenMetrics'
BLOCK_HOURS = (2, 6, 18, 54, 162, 486, 1458)  # the TSDB's block ranges (2 h times powers of 3)


# --- days, samples and OpenMetrics text -------------------------------------------------------------------------


def day_bounds(day: date, timezone: str) -> tuple[int, int]:
    """Unix seconds of the day's first moment and of the next day's, in the organisation's time zone (DST days last
    23 or 25 hours)."""
    tz = ZoneInfo(timezone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    return int(start.timestamp()), int(end.timestamp())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    """A sample value as OpenMetrics writes it (Go's float syntax)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _labels(labels: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def block_hours(series: int, step_s: int) -> int:
    """The longest TSDB block range (promtool's: 2 h times a power of 3) whose OpenMetrics file of `series` series
    stays under MAX_SAMPLES_PER_FILE: one file per block, so promtool reads each file twice, not once per block."""
    fitting = [h for h in BLOCK_HOURS if series * h * 3600 // step_s <= MAX_SAMPLES_PER_FILE]
    return fitting[-1] if fitting else BLOCK_HOURS[0]


@dataclass
class Family:
    """One metric family across days: its samples by (sample name, labels), one value per day."""

    name: str
    type: str
    help: str
    series: dict[tuple[str, tuple[tuple[str, str], ...]], dict[date, float]] = field(default_factory=dict)


class Days:
    """Past days' families, written as OpenMetrics one time window (one TSDB block) at a time."""

    def __init__(self, target: Mapping[str, str], timezone: str, step_s: int) -> None:
        self.target = tuple(sorted(target.items()))  # job and instance, as Prometheus labels the pipeline's series
        self.timezone, self.step_s = timezone, step_s
        self.families: dict[str, Family] = {}
        self.bounds: dict[date, tuple[int, int]] = {}

    @property
    def days(self) -> list[date]:
        return sorted(self.bounds)

    def add(self, day: date, families: Sequence[Metric]) -> int:
        """Keep one day's families; returns its number of series."""
        self.bounds[day] = day_bounds(day, self.timezone)
        count = 0
        for metric in families:
            fam = self.families.setdefault(
                metric.name, Family(metric.name, _OM_TYPES.get(metric.type, metric.type), metric.documentation)
            )
            for sample in metric.samples:
                labels = tuple(sorted({**sample.labels, **dict(self.target)}.items()))
                fam.series.setdefault((sample.name, labels), {})[day] = float(sample.value)
                count += 1
        return count

    def write(self, out: TextIO, start: int, end: int) -> int:
        """The OpenMetrics text of the samples from `start` to before `end` (Unix seconds): each family once, each
        series' samples in time order, `# EOF` last; returns the samples written."""
        written = 0
        for fam in self.families.values():
            head_written = False
            for (name, labels), values in sorted(fam.series.items()):
                head = name + _labels(labels) + " "
                for day in sorted(values):
                    day_start, day_end = self.bounds[day]
                    first = day_start + max(0, -(-(start - day_start) // self.step_s)) * self.step_s
                    stamps = range(first, min(day_end, end), self.step_s)
                    if not stamps:
                        continue
                    if not head_written:
                        out.write(f"# HELP {fam.name} {_escape(fam.help)}\n# TYPE {fam.name} {fam.type}\n")
                        head_written = True
                    line = f"{head}{_number(values[day])} "
                    out.write("".join(f"{line}{t}\n" for t in stamps))
                    written += len(stamps)
        out.write("# EOF\n")
        return written

    def drop_until(self, end: int) -> None:
        """Forget the days that end by `end` (all their samples written)."""
        done = {day for day, (_start, day_end) in self.bounds.items() if day_end <= end}
        for day in done:
            del self.bounds[day]
        for fam in self.families.values():
            for key in list(fam.series):
                values = fam.series[key]
                for day in done & values.keys():
                    del values[day]
                if not values:
                    del fam.series[key]


# --- Prometheus --------------------------------------------------------------------------------------------------


def duration_s(text: str) -> float:
    """Seconds of a Prometheus duration such as `400d`, `1y2w` or `15d12h` (0 when empty)."""
    parts = _DURATION.findall(text)
    if "".join(n + unit for n, unit in parts) != text.strip():
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNIT_S[unit] for n, unit in parts)


class Prometheus:
    """The few questions the backfill asks a running Prometheus (its HTTP API)."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._flags: dict[str, str] | None = None

    def _get(self, path: str, params: Mapping[str, str | float] | None = None) -> Any:
        answer = httpx.get(f"{self.url}{path}", params=params, timeout=self.timeout_s)
        answer.raise_for_status()
        body = answer.json()
        if body.get("status") != "success":
            raise httpx.HTTPError(f"{path}: {body}")
        return body["data"]

    def reachable(self) -> bool:
        try:
            self.flags()
        except (httpx.HTTPError, ValueError):
            return False
        return True

    def flags(self) -> dict[str, str]:
        if self._flags is None:
            self._flags = dict(self._get("/api/v1/status/flags"))
        return self._flags

    def data_path(self) -> str:
        return self.flags().get("storage.tsdb.path", "")

    def retention_s(self) -> float:
        """How long Prometheus keeps samples (its default, 15 days, when neither time nor size is set)."""
        flags = self.flags()
        kept = duration_s(flags.get("storage.tsdb.retention.time", "0s") or "0s")
        size = flags.get("storage.tsdb.retention.size", "0B") or "0B"
        if kept == 0 and size.rstrip("B") in ("", "0"):
            kept = 15 * 86_400
        return kept or math.inf

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/query", {"query": expr, "time": at})["result"])

    def pipeline_targets(self) -> list[dict[str, str]]:
        """The job and instance of each pipeline Prometheus scrapes now, the writer's first (standby pipelines)."""
        now = time.time()
        for expr in ("alignmon_pipeline_writer == 1", "alignmon_up"):
            found = {(r["metric"].get("job", ""), r["metric"].get("instance", "")) for r in self.query(expr, now)}
            if found:
                return [{"job": job, "instance": instance} for job, instance in sorted(found)]
        return []

    def has_figures(self, day: date, timezone: str) -> bool:
        """Whether Prometheus holds any investment figure sampled within `day` (live or backfilled)."""
        start, end = day_bounds(day, timezone)
        width = end - 1 - start
        return bool(self.query(f"count(count_over_time(alignmon_investment_info[{width}s]))", end - 1))


# --- promtool and the data folder --------------------------------------------------------------------------------


def find_promtool(explicit: str | None) -> str:
    """The promtool to run: `explicit`, else the one on PATH; an AlignmonError saying how to get one."""
    path = shutil.which(explicit or "promtool")
    if path is None:
        where = f"--promtool {explicit} is not an executable file" if explicit else "promtool is not on PATH"
        raise AlignmonError(
            f"{where}: it comes with Prometheus (Debian package `prometheus`, which `make setup` installs; the "
            "prom/prometheus image has it at /bin/promtool). Or write the OpenMetrics files with --openmetrics DIR "
            "and run the create-blocks.sh written beside them where Prometheus and its promtool are"
        )
    return path


def check_data_dir(path: Path) -> Path:
    """A Prometheus data folder (--storage.tsdb.path): it exists and holds a TSDB (a wal/ folder)."""
    if not path.is_dir():
        raise AlignmonError(
            f"Prometheus data folder {path} not found: give --prometheus-data, the folder Prometheus's "
            "--storage.tsdb.path names (docker compose: the prometheus-data volume, /prometheus in the container), "
            "or --output DIR to write the blocks elsewhere and move them in yourself"
        )
    if not (path / "wal").is_dir():
        raise AlignmonError(
            f"{path} does not look like a Prometheus data folder (no wal/ in it): give the folder Prometheus's "
            "--storage.tsdb.path names, or --output DIR to write the blocks into a folder of your choice"
        )
    return path


def create_blocks(promtool: str, openmetrics: Path, out: Path, block_hours: int) -> list[Path]:
    """Run `promtool tsdb create-blocks-from openmetrics` on one file; returns the blocks it wrote into `out`."""
    before = {p.name for p in out.iterdir()} if out.exists() else set()
    result = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            f"--max-block-duration={block_hours}h",
            str(openmetrics),
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip()
        raise AlignmonError(f"promtool could not turn {openmetrics} into blocks (exit {result.returncode}): {said}")
    return sorted(p for p in out.iterdir() if p.name not in before and (p / "meta.json").exists())


def _script(files: Sequence[tuple[Path, int]]) -> str:
    lines = [
        "#!/bin/sh",
        "# Written by `alignmon metrics backfill --openmetrics`. Run it where Prometheus runs, as the user Prometheus",
        "# runs as, with its data folder (--storage.tsdb.path):   sh create-blocks.sh /prometheus",
        "# Each file becomes TSDB blocks (promtool tsdb create-blocks-from openmetrics), built in a staging folder and",
        "# moved in whole; Prometheus loads them within a minute.",
        "set -eu",
        'data="${1:?give the Prometheus data folder}"',
        'here="$(cd "$(dirname "$0")" && pwd)"',
        f'staging="$data/{STAGING}"',
        'rm -rf "$staging"',
        'mkdir "$staging"',
    ]
    for path, hours in files:
        lines.append(
            f'promtool tsdb create-blocks-from openmetrics --quiet --max-block-duration={hours}h "$here/{path.name}" '
            '"$staging"'
        )
    lines += ['for block in "$staging"/*; do', '  [ -e "$block" ] && mv "$block" "$data"/', "done", 'rmdir "$staging"']
    return "\n".join(lines) + "\n"


# --- the command -------------------------------------------------------------------------------------------------


@dataclass
class Options:
    """What `alignmon metrics backfill` was asked (metrics.commands builds it from the command line)."""

    first: date | None = None
    last: date | None = None
    prometheus_url: str = ""
    data_dir: Path | None = None  # Prometheus's data folder (default: what Prometheus says, else the local stack's)
    output: Path | None = None  # blocks into this folder instead
    openmetrics: Path | None = None  # only the OpenMetrics files (and create-blocks.sh) into this folder
    promtool: str | None = None
    step_s: int = DEFAULT_STEP_S
    job: str | None = None
    instance: str | None = None
    timeout_s: float = 1800.0  # waiting for a running pipeline's working copy


@dataclass
class Summary:
    """What a backfill wrote."""

    days: list[date] = field(default_factory=list)
    series: int = 0
    samples: int = 0
    blocks: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


Say = Callable[[str], None]


def _print(text: str) -> None:
    print(text, flush=True)


def run(options: Options, settings: Settings, say: Say = _print) -> Summary:
    """Backfill as `options` ask, with `settings` for the database, the catalog, the time zone and the local stack."""
    return Backfill(options, settings, say).run()


class Backfill:
    """One run: checks first (promtool, the data folder, Prometheus), then the working copy, the days, the blocks."""

    def __init__(self, options: Options, settings: Settings, say: Say = _print) -> None:
        self.options, self.settings, self.say = options, settings, say
        self.prometheus = Prometheus(options.prometheus_url)
        self.reachable = False
        self.data_dir: Path | None = None

    def run(self) -> Summary:
        began = time.monotonic()
        o, s = self.options, self.settings
        if o.step_s < 1:
            raise AlignmonError(f"--step {o.step_s}: give a number of seconds, at least 1")
        today = s.today()
        last = o.last or today - timedelta(days=1)
        if last >= today:
            raise AlignmonError(f"--to {last}: today ({today}) and later are the live exporter's; give a day before")
        if o.first is not None and o.first > last:
            raise AlignmonError(f"--from {o.first} is after --to {last}")
        promtool = None if o.openmetrics else find_promtool(o.promtool)
        self.reachable = self.prometheus.reachable()
        if not self.reachable:
            self.say(
                f"Prometheus does not answer at {self.prometheus.url}: every day asked for is written (days it holds "
                "already would be there twice) and its retention is not checked"
            )
        if o.openmetrics is None and o.output is None:
            self.data_dir = check_data_dir(self._data_dir())
        if o.openmetrics is not None:  # an earlier run's files: turned into blocks already, or never to be
            o.openmetrics.mkdir(parents=True, exist_ok=True)
            for old in [*o.openmetrics.glob(OPENMETRICS_PREFIX + "*.om"), o.openmetrics / SCRIPT]:
                old.unlink(missing_ok=True)
        target = self._target()
        copies = CopyRequests(working_copies(s.state_dir))
        copies.open()
        copy = self._working_copy(copies)
        try:
            summary = self._backfill(copy, target, promtool, last)
        finally:
            for path in (copy, copy.with_name(copy.name + ".wal")):
                path.unlink(missing_ok=True)
        took = time.monotonic() - began
        if not summary.days:
            self.say(f"nothing to backfill ({took:.1f} s)")
            return summary
        where = o.openmetrics or o.output or self.data_dir
        files = f"{len(summary.files)} OpenMetrics file(s)"
        what = f"{len(summary.blocks)} block(s)" if o.openmetrics is None else files
        self.say(
            f"backfilled {len(summary.days)} days ({_span(summary.days)}) of {summary.series:,} series: "
            f"{summary.samples:,} samples, {what} in {where}, in {took:.1f} s"
        )
        if self.data_dir is not None and self.reachable:
            self._wait_loaded(summary.days[-1])
        return summary

    def _data_dir(self) -> Path:
        if self.options.data_dir is not None:
            return self.options.data_dir
        if self.reachable and self.prometheus.data_path():
            said = Path(self.prometheus.data_path())
            if said.is_absolute() and said.is_dir():
                return said
        return Path(self.settings.state_dir).resolve() / "prometheus" / "data"  # the local stack's

    def _target(self) -> dict[str, str]:
        """The job and instance labels: given, else those Prometheus scrapes the pipeline with, else the defaults."""
        o = self.options
        if o.job and o.instance:
            return {"job": o.job, "instance": o.instance}
        found = self.prometheus.pipeline_targets() if self.reachable else []
        found = [t for t in found if o.job in (None, t["job"]) and o.instance in (None, t["instance"])]
        if len(found) > 1:
            named = ", ".join(f"job={t['job']} instance={t['instance']}" for t in found)
            raise AlignmonError(f"Prometheus scrapes several pipelines ({named}): choose one with --job and --instance")
        if found:
            return found[0]
        chosen = {
            "job": o.job or PIPELINE_JOB,
            "instance": o.instance or f"{self.settings.exporter_host}:{self.settings.exporter_port}",
        }
        self.say(
            f"labelling the series job={chosen['job']} instance={chosen['instance']} (Prometheus scrapes no pipeline "
            "now): they must be the labels Prometheus scrapes the pipeline with, else give --job and --instance"
        )
        return chosen

    def _working_copy(self, copies: CopyRequests) -> Path:
        """A private copy of the pipeline's file: made here when no pipeline holds it, else by the running one."""
        began = time.monotonic()
        database = self.settings.duckdb_path
        try:
            copy = copy_file(database, copies.folder / f"{uuid.uuid4().hex}.duckdb")
        except DatabaseInUseError:
            self.say(
                f"{database} is held by the running pipeline: asking it for a working copy (it makes one once it has "
                "stored what Kafka holds)"
            )
            note = [15.0]

            def waiting(waited: float) -> None:
                if waited >= note[0]:
                    self.say(f"  still waiting for the pipeline's working copy ({waited:.0f} s)")
                    note[0] += 15.0

            copy = copies.ask(self.options.timeout_s, waiting)
        self.say(f"working copy of {database} made in {time.monotonic() - began:.1f} s")
        return copy

    def _backfill(self, copy: Path, target: dict[str, str], promtool: str | None, last: date) -> Summary:
        from base.directory import load_directory  # noqa: PLC0415
        from base.sources import SOURCES  # noqa: PLC0415
        from metrics.history import History  # noqa: PLC0415
        from pipeline.catalog import load_catalog  # noqa: PLC0415

        o, s = self.options, self.settings
        # Like the pipeline: a directory of pseudonyms, no key. The working copy's tables are the pipeline's own; the
        # catalog gives the refresh its structure (attainment's initiatives and weights, the applications' rules).
        directory = load_directory(s.directory_csv, None) if s.directory_csv else None
        catalog = load_catalog(s.catalog_dir, directory)
        summary = Summary()
        with History.open(
            copy,
            catalog,
            s.today(),
            k=s.k_anonymity,
            silent_days=s.silent_days,
            sources=(*SOURCES, *s.extra_source_names()),
            memory_limit=s.duckdb_memory_limit,
        ) as history:
            days = self._days(history, last)
            if not days:
                return summary
            self.say(f"recomputing {len(days)} days, {_span(days)}, as the pipeline would have on each")
            writer = _Writer(o, promtool, self.data_dir, self.say)
            try:
                held = Days(target, s.timezone, o.step_s)
                block_s = 0
                began = noted = time.monotonic()
                for n, day in enumerate(days, 1):
                    series = held.add(day, history.families(day))
                    summary.series = max(summary.series, series)
                    block_s = block_s or block_hours(series, o.step_s) * 3600  # sized on the first day's series
                    if time.monotonic() - noted >= 5 or n == len(days):
                        self.say(f"  {n}/{len(days)} days computed (up to {day}, {time.monotonic() - began:.0f} s)")
                        noted = time.monotonic()
                    # A block's window is complete once a day ends at or after it: later days start later.
                    writer.flush(held, block_s, upto=held.bounds[day][1] if n < len(days) else None)
                summary.days = days
                writer.finish()
            finally:
                writer.cleanup()
            summary.samples = writer.samples
            summary.blocks, summary.files = writer.blocks, [path for path, _hours in writer.files]
        return summary

    def _days(self, history: History, last: date) -> list[date]:
        """From --from (default: the first day of the usage history) to `last`, less the days that can no longer be
        recomputed, that Prometheus would not keep, or that it holds already."""
        first_data = history.first_day()
        if first_data is None:
            self.say("the pipeline's database holds no usage history yet")
            return []
        first = self.options.first or first_data
        recomputable = history.recomputable_from()
        if recomputable is not None and first < recomputable:
            self.say(
                f"days before {recomputable} are not written: the pipeline's retention deleted the per-person daily "
                "rollups their 28-day windows need (ALIGNMON_DAILY_RETENTION_DAYS)"
            )
            first = recomputable
        tz = self.settings.timezone
        if self.reachable and (kept_s := self.prometheus.retention_s()) != math.inf:
            kept_from = datetime.fromtimestamp(time.time() - kept_s, ZoneInfo(tz)).date() + timedelta(days=1)
            if first < kept_from:
                self.say(
                    f"days before {kept_from} are not written: Prometheus keeps {kept_s / 86_400:g} days "
                    "(--storage.tsdb.retention.time) and would delete them at once"
                )
                first = kept_from
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        if self.reachable and days:
            held = [d for d in days if self.prometheus.has_figures(d, tz)]
            if held:
                self.say(
                    f"{len(held)} of {len(days)} days ({_span(held)}) are left as they are: Prometheus holds figures "
                    "for them already (scraped live, or written by an earlier backfill)"
                )
                days = [d for d in days if d not in set(held)]
        return days

    def _wait_loaded(self, day: date) -> None:
        """Wait until Prometheus shows a backfilled day (it looks for new blocks every minute)."""
        began = time.monotonic()
        self.say(f"waiting for Prometheus at {self.prometheus.url} to load the blocks (it looks every minute)")
        while time.monotonic() - began < LOAD_WAIT_S:
            try:
                if self.prometheus.has_figures(day, self.settings.timezone):
                    self.say(f"Prometheus shows the history ({time.monotonic() - began:.0f} s)")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(2.0)
        said = self.prometheus.data_path() if self.prometheus.reachable() else "unknown"
        raise AlignmonError(
            f"Prometheus at {self.prometheus.url} did not load the blocks written to {self.data_dir} within "
            f"{LOAD_WAIT_S:.0f} s: is that its data folder (its --storage.tsdb.path is {said})? Can it read them "
            f"(they belong to uid {os.getuid()})? Its log says why it refuses a block"
        )


def _span(days: Sequence[date]) -> str:
    return str(days[0]) if len(days) == 1 else f"{days[0]} to {days[-1]}"


class _Writer:
    """Where each block's window of samples goes: an OpenMetrics file that promtool (in a thread, while the next days
    are computed) turns into a block in a staging folder, moved whole into Prometheus's data folder (or --output);
    or, with --openmetrics, the files and a create-blocks.sh into that folder."""

    def __init__(self, options: Options, promtool: str | None, data_dir: Path | None, say: Say) -> None:
        self.options, self.promtool, self.say = options, promtool, say
        self.destination = data_dir or options.output
        self.blocks: list[Path] = []
        self.files: list[tuple[Path, int]] = []
        self.samples = 0
        self.written_to = 0  # Unix seconds: every sample before it is written
        self._promtool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promtool")
        self._pending: list[Future[None]] = []
        if options.openmetrics is not None:
            self.folder = options.openmetrics
        else:
            assert self.destination is not None
            self.destination.mkdir(parents=True, exist_ok=True)
            self.folder = self.destination / f"{STAGING}-{os.getpid()}"
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir()

    def flush(self, days: Days, block_s: int, upto: int | None) -> None:
        """Write every block window that ends by `upto` (None: all that is held), forgetting the days written."""
        while days.bounds:
            start = max(min(b[0] for b in days.bounds.values()) // block_s * block_s, self.written_to)
            end = (start // block_s + 1) * block_s
            if upto is not None and end > upto:
                return
            self._window(days, start, end, block_s // 3600)
            self.written_to = end
            days.drop_until(end)

    def _window(self, days: Days, start: int, end: int, hours: int) -> None:
        first = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H")
        path = self.folder / f"{OPENMETRICS_PREFIX}{first}.om"
        with path.open("w", encoding="utf-8") as out:
            samples = days.write(out, start, end)
        self.samples += samples
        if samples == 0:
            path.unlink()
            return
        if self.options.openmetrics is not None:
            self.files.append((path, hours))
            self.say(f"  {path.name}: {samples:,} samples ({path.stat().st_size / 1e6:.0f} MB)")
            return
        self._pending.append(self._promtool.submit(self._blocks, path, hours, samples))

    def _blocks(self, path: Path, hours: int, samples: int) -> None:
        assert self.promtool is not None and self.destination is not None
        began = time.monotonic()
        try:
            blocks = create_blocks(self.promtool, path, self.folder / "blocks", hours)
        finally:
            path.unlink(missing_ok=True)
        for block in blocks:
            moved = self.destination / block.name
            os.replace(block, moved)  # whole or not at all: Prometheus never sees half a block
            self.blocks.append(moved)
        self.say(f"  {path.name}: {samples:,} samples, {len(blocks)} block(s) ({time.monotonic() - began:.1f} s)")

    def finish(self) -> None:
        """Wait for promtool; raise its first failure. With --openmetrics, write create-blocks.sh."""
        for future in self._pending:
            future.result()
        if self.options.openmetrics is not None and self.files:
            script = self.folder / SCRIPT
            script.write_text(_script(self.files), encoding="utf-8")
            script.chmod(0o755)
            self.say(f"  run `sh {script} DATA_DIR` where Prometheus runs, as its user, to build the blocks")

    def cleanup(self) -> None:
        for future in self._pending:
            future.cancel()
        self._promtool.shutdown(wait=True)
        if self.options.openmetrics is None:
            shutil.rmtree(self.folder, ignore_errors=True)
