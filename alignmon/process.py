"""The pipeline process: consumer, exporter, alignment views and snapshot around one DuckDB writer.

The shell wires the layers here, so the pipeline package never imports its outputs (metrics, alignment).
`refresh_all` is the one sequence that brings every figure to a day, for the process and `alignmon refresh` alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from kafka.errors import KafkaError
from prometheus_client.registry import Collector

from alignment import views
from alignmon.analysts import ANALYSTS_OBJECTS
from alignmon.stack.kafka import ensure_topics
from base.errors import AlignmonError, InvalidFileError, TransientError
from base.kafka_security import KafkaSecurity
from base.settings import EXAMPLE_CATALOG, Settings
from base.sources import SOURCES
from metrics.exporter import PipelineCollector, StandbyCollector, serve
from metrics.exposition import Exposition
from metrics.health import Bounds, Routes, StandbyProbes, WriterProbes, routes
from pipeline.catalog import Catalog, CatalogError, CatalogSource, catalog_files
from pipeline.catalog.interventions import Intervention
from pipeline.consumer import Consumer
from pipeline.domain.impact import Options
from pipeline.errors import BrokerUnavailableError
from pipeline.figures import series
from pipeline.figures.fleet import SILENT_DAYS
from pipeline.impact.published import fingerprint, interventions_for, lacks_days, write_effects
from pipeline.lake.location import Lake
from pipeline.lake.publisher import offload
from pipeline.lake.publisher import publish as publish_days
from pipeline.lake.publisher import retain as retain_lake
from pipeline.lake.publisher import unwritten as unwritten_days
from pipeline.lake.rebuild import rebuild, superseded
from pipeline.lease import Lease
from pipeline.refresh import refresh, sync_catalog
from pipeline.requests import RequestFolder
from pipeline.retention import Retention, enforce
from pipeline.snapshot import publish
from pipeline.store import Store
from pipeline.working_copy import SWEEP_S, CopyRequests, working_copies

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_BACKOFF_S, MAX_BACKOFF_S = 1.0, 60.0  # waits between attempts to start after a transient failure
CAUGHT_UP_RECORDS = 10_000  # a few seconds of a large fleet's events: the closed days' records are all in
LOG_EVERY_S = 60.0  # a transient failure that persists is logged at most this often
LAG_CHECK_S = 5.0  # how often the loop asks Kafka for the consumer lag (for /readyz)
COPY_LAG_RECORDS = 1_000  # a working copy is made once fewer records than this wait in Kafka (live use goes on)


def requests_folder(settings: Settings) -> Path:
    """Where `alignmon privacy subject|erase` leave requests for the running pipeline (beside its state)."""
    return settings.state_dir / "privacy-requests"


def open_lake(settings: Settings) -> Lake | None:
    """The lake ALIGNMON_LAKE_URL names, or None."""
    if not settings.lake_url:
        return None
    secret = settings.lake_s3_secret_key.get_secret_value() if settings.lake_s3_secret_key else None
    return Lake.open(
        settings.lake_url,
        endpoint=settings.lake_s3_endpoint,
        access_key=settings.lake_s3_access_key,
        secret_key=secret,
    )


def open_lease(settings: Settings) -> Lease:
    """Membership of the writers' group of pipelines sharing this lake (standby mode, pipeline.lease)."""
    if not settings.lake_url:
        raise AlignmonError(
            "ALIGNMON_STANDBY needs ALIGNMON_LAKE_URL: a standby takes over from the lake the writer keeps"
        )
    topic = f"{settings.topic}.pipeline-lease"
    security = KafkaSecurity.from_settings(settings)
    security.check(settings.kafka_bootstrap)  # a refused certificate or password: one line, not a 30 s timeout
    try:
        ensure_topics(settings.kafka_bootstrap, {topic: 1}, security=security)
    except (KafkaError, OSError) as exc:
        raise BrokerUnavailableError(settings.kafka_bootstrap, exc) from exc
    group = f"{settings.topic}.pipeline-writers"
    return Lease(settings.kafka_bootstrap, topic, group, settings.lease_timeout_s, security)


def _remove(path: Path) -> None:
    """Delete a superseded file and its WAL: its per-person rows are in the lake or erased since (a copy kept aside
    would escape erasure and retention); what only it held (dead letters, retention runs) goes with it."""
    for name in (path.name, f"{path.name}.wal"):
        (path.parent / name).unlink(missing_ok=True)


def open_store(settings: Settings) -> Store:
    """The pipeline's DuckDB file, opened for writing, with the alignment model's views installed.

    A new file next to a lake is first rebuilt from it (pipeline.lake.rebuild); if the lake cannot be read, the new
    file is removed again and the start is retried, so a half-empty file never overwrites the lake's history. A
    standby's file that another pipeline's lake writes have overtaken is deleted and rebuilt the same way.
    """
    if settings.standby and settings.duckdb_path.exists() and (lake := open_lake(settings)) is not None:
        store = _store(settings)
        try:
            behind = superseded(store.con, lake)
        except OSError as exc:
            raise TransientError(f"cannot read the lake {settings.lake_url}: {exc}") from exc
        finally:
            store.close()
        if behind:
            log.warning(
                "the lake holds days another pipeline wrote or erased since this file last did: %s is deleted and "
                "rebuilt from the lake",
                settings.duckdb_path,
            )
            _remove(settings.duckdb_path)
    new = not settings.duckdb_path.exists()
    store = _store(settings)
    try:
        views.install(store.con)
        lake = open_lake(settings) if new else None
        if lake is not None:
            try:
                hot_from = settings.today() - timedelta(days=settings.lake_hot_days - 1)
                keys_from = datetime.now(UTC).date() - timedelta(days=settings.dedup_horizon_days)  # as the store's
                days = rebuild(store.con, lake, hot_from, keys_from)
            except BaseException as exc:  # a half-filled file must not start writing to the lake: none is left
                store.close()
                settings.duckdb_path.unlink(missing_ok=True)
                if isinstance(exc, OSError):
                    raise TransientError(
                        f"cannot read the lake {settings.lake_url} to rebuild a new file: {exc}"
                    ) from exc
                raise
            if days:
                log.info("rebuilt from the lake: %d closed days; Kafka is read again from where the lake ends", days)
    except BaseException:
        store.close()
        raise
    return store


def _store(settings: Settings) -> Store:
    return Store(settings.duckdb_path, settings.timezone, settings.duckdb_memory_limit, settings.dedup_horizon_days)


def refresh_all(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    as_of: date,
    k: int,
    *,
    sync: bool = True,
    silent_days: int = SILENT_DAYS,
    interventions: Sequence[Intervention] | None = None,
    freeze: bool = True,
) -> float:
    """Every figure as of `as_of`: the catalog's tables (unless `sync` is off: unchanged), adoption, the collectors'
    health (devices silent after `silent_days` days), the effects of `interventions` (None: left as they are; frozen
    once estimated unless `freeze` is off), alignment (whose roadmap reads those effects).

    Returns the seconds it took.
    """
    began = time.perf_counter()
    if sync:
        sync_catalog(con, catalog)
    refresh(con, catalog, as_of, k, silent_days)
    if interventions is not None:
        write_effects(con, interventions, as_of, Options(k=k), freeze=freeze)
    views.refresh(con, catalog, as_of, catalog_changed=sync)  # the alignment model's views for analysts
    return time.perf_counter() - began


def caught_up(con: duckdb.DuckDBPyConnection) -> bool:
    """Fewer than CAUGHT_UP_RECORDS records were in Kafka, not stored, when the pipeline last looked."""
    row = con.execute("SELECT coalesce(sum(high_watermark - next_offset), 0) FROM kafka_offsets").fetchone()
    return row is not None and row[0] < CAUGHT_UP_RECORDS


def retrying(start: Callable[[], T], stopping: threading.Event, first_backoff_s: float = FIRST_BACKOFF_S) -> T | None:
    """`start()` once it succeeds: a TransientError is retried with a backoff (to 60 s) and logged once a minute.

    A different kind of failure is logged at once. Any other error propagates (terminal: the CLI exits non-zero
    with the reason); None if stopped while waiting.
    """
    backoff, logged_at, logged_kind = first_backoff_s, -LOG_EVERY_S, None
    while not stopping.is_set():
        try:
            return start()
        except TransientError as exc:
            if type(exc) is not logged_kind or time.monotonic() - logged_at >= LOG_EVERY_S:
                log.warning("cannot start yet, retrying (next attempt in %.0f s): %s", backoff, exc)
                logged_at, logged_kind = time.monotonic(), type(exc)
            stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
    return None


@dataclass
class Pipeline:
    """Everything `alignmon pipeline` runs; `stop()` ends it cleanly from another thread."""

    settings: Settings
    store: Store
    consumer: Consumer
    retention: Retention
    requests: RequestFolder

    catalog: CatalogSource | None = None
    _generation: int = -1
    _warned: bool = False
    _refreshed: tuple[object, ...] = ()
    _retained_on: date | None = None
    _effects_for: tuple[object, ...] = ()  # (day, catalog generation, interventions file) of the last effects
    lake: Lake | None = None
    lease: Lease | None = None  # standby mode: write only while holding it
    copies: CopyRequests | None = None  # working copies asked for by `alignmon metrics backfill`
    # The first day whose daily figures may differ from the last publication (None: any day; date.max: none), and
    # that publication's file as it was left (size, mtime, inode): only then is it the base of the next one.
    _history_from: date | None = None
    _published: tuple[int, int, int] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, lease: Lease | None = None) -> Pipeline:
        """The process's parts, opened; DatabaseInUseError or BrokerUnavailableError (transient) if not yet."""
        retention = Retention(
            settings.raw_retention_days, settings.daily_retention_days
        )  # refused before anything opens
        security = KafkaSecurity.from_settings(settings)  # likewise
        store = open_store(settings)
        try:
            consumer = Consumer(
                store,
                settings.kafka_bootstrap,
                settings.topic,
                settings.dlq_topic,
                max_batch_bytes=int(settings.batch_max_mib * 1024 * 1024),
                event_bounds=settings.event_bounds(),
                security=security,
            )
        except BaseException:
            store.close()
            raise
        pipeline = cls(settings, store, consumer, retention, RequestFolder(requests_folder(settings)))
        pipeline.find_catalog()
        pipeline.lake, pipeline.lease = open_lake(settings), lease
        pipeline.copies = CopyRequests(working_copies(settings.state_dir))
        return pipeline

    def find_catalog(self) -> bool:
        """Start watching the catalog once its files exist (they may be written after the pipeline starts)."""
        s = self.settings
        try:
            catalog_files(s.catalog_dir)
        except CatalogError as exc:  # the folder or its files are missing: they may come later
            if not self._warned:
                log.warning("%s: ingesting only, no adoption figures until a catalog is there", exc)
                self._warned = True
            return False
        if s.catalog_dir == EXAMPLE_CATALOG:
            log.warning("monitoring the example catalog %s: set ALIGNMON_CATALOG_DIR to your own", EXAMPLE_CATALOG)
        # No key: the pipeline reads a pseudonymised directory and never a real name (docs/privacy.md).
        self.catalog = CatalogSource(s.catalog_dir, s.directory_csv)
        return True

    def refresh(self) -> bool:
        """Reload the catalog if it changed, then bring adoption up to the as-of day.

        Returns False when nothing could have changed since the last refresh (same day, same
        catalog, no batch since), so an idle pipeline neither recomputes nor republishes.
        """
        self.consumer.flush()  # the refresh shares the writer's connection: never while it writes
        self.retain()
        if self.catalog is None and not self.find_catalog():
            return False
        assert self.catalog is not None
        try:
            catalog = self.catalog.current()
        except InvalidFileError as exc:
            # Never valid so far: keep ingesting (nothing is lost); the source has said what to fix, once.
            log.debug("catalog not usable yet: %s", exc)
            return False
        changed = self.catalog.generation != self._generation
        if changed:
            log.info("catalog loaded: %d investments", len(catalog.investments))
            self._generation = self.catalog.generation
        as_of = self.settings.today()
        key = (as_of, self._generation, self.consumer.stats.batches)
        if key == self._refreshed:
            return False
        if changed:  # every day's figures may change with the catalog or the directory
            self._history_from = None
        elif self._history_from is not None:  # None already means every day
            self._history_from = _earliest(self._history_from, self._changed_from(as_of))
        s = self.settings
        # The effects are estimated once a day, when the catalog or interventions.yaml changes (their bootstrap
        # takes seconds; rows with figures stay frozen), and when days an estimate lacked arrive (a backfill, late
        # telemetry): tests/alignmon/test_effects_schedule.py.
        effects_key = (as_of, self._generation, fingerprint(s.catalog_dir))
        interventions = None
        backlog = not self.caught_up()  # days may be missing yet: estimate, but do not freeze, and not each batch
        if effects_key != self._effects_for or (not backlog and lacks_days(self.store.con)):
            interventions = interventions_for(s.catalog_dir, catalog)
        self.consumer.stats.last_refresh_s = refresh_all(
            self.store.con,
            catalog,
            as_of,
            s.k_anonymity,
            sync=changed,
            silent_days=s.silent_days,
            interventions=interventions,
            freeze=not backlog,
        )
        self._effects_for = effects_key  # only once written: a refresh that failed tries them again
        self.consumer.stats.refreshes += 1  # the exporter renders the figures again
        self._refreshed = key
        return True

    def retain(self) -> None:
        """Once a day (and at start): delete the per-person rows past their retention, in the writer's thread."""
        today = self.settings.today()
        if self._retained_on == today:
            return
        deleted = enforce(self.store.con, self.retention, today, self.settings.timezone)
        log.info(
            "retention: deleted %d raw events, %d per-person daily rows and %d devices' days",
            deleted.events,
            deleted.daily,
            deleted.device_days,
        )
        self._retained_on = today

    def caught_up(self) -> bool:
        """Kafka holds fewer than CAUGHT_UP_RECORDS records the pipeline has not stored (a steady stream never
        leaves it idle, so an idle step alone would never say so)."""
        cur = self.store.cursor()
        try:
            return caught_up(cur)
        finally:
            cur.close()

    def count_unwritten(self) -> None:
        """Closed days not in the lake yet, for alignmon_lake_unwritten_days."""
        if self.lake is None:
            return
        self.consumer.flush()
        s, stats = self.settings, self.consumer.stats
        stats.lake_unwritten_days = unwritten_days(self.store.con, s.today(), s.lake_close_after_days)
        stats.lake_checked_at = time.time()

    def to_lake(self) -> None:
        """Write the closed days not yet in the lake; an unreachable store leaves them for the next try (they stay
        in the pipeline's file meanwhile)."""
        if self.lake is None:
            return
        self.consumer.flush()  # shares the writer's connection
        computed = self.store.con.execute("SELECT computed_to FROM refresh_state").fetchone()
        if computed is None or computed[0] is None:  # no figures yet (no valid catalog): empty aggregates
            self.count_unwritten()
            return
        s = self.settings
        today = s.today()
        try:
            cycle = publish_days(self.store.con, self.lake, today, s.timezone, s.lake_close_after_days)
            retain_lake(self.lake, self.retention.raw_from(today), self.retention.daily_from(today))
            offloaded = offload(self.store.con, today - timedelta(days=s.lake_hot_days - 1), s.timezone)
        except OSError as exc:
            log.warning("the lake %s is not reachable, days not written yet: %s", s.lake_url, exc)
            return
        finally:
            self.count_unwritten()
        if cycle.written or cycle.amended or offloaded:
            log.info(
                "lake: %d closed days written, %d amended with late events; %d raw events older than %d days "
                "left to the lake",
                len(cycle.written),
                len(cycle.amended),
                offloaded,
                s.lake_hot_days,
            )

    def still_writer(self) -> bool:
        """In standby mode, whether this process still holds the writers' lease (its own thread keeps it)."""
        return self.lease is None or self.lease.held()

    def run(self) -> bool:
        """Run until stopped (True) or, in standby mode, until the lease is lost (False: another pipeline writes)."""
        s = self.settings
        collector = PipelineCollector(
            self.store.cursor,
            self.consumer.stats,
            catalog=lambda: self.catalog,
            sources=(*SOURCES, *s.extra_source_names()),
        )
        figures = Exposition(collector, version=lambda: self.consumer.stats.refreshes)  # rendered once per refresh
        self.consumer.stats.loop_at = time.monotonic()  # the first refresh is the loop's first round
        probes = WriterProbes(self.consumer.stats, Bounds.from_settings(s), self.consumer.stopping.is_set)
        try:
            server = exporter(figures, s, routes(probes))
        except AlignmonError:
            figures.close()
            self.close()
            raise
        finished = writer = False
        try:
            writer = self._loop()
            finished = True
        finally:
            server.shutdown()
            server.server_close()  # a standby that lost the lease serves the port again
            figures.close()
            try:
                # After a failure the file may refuse the copy, and without the lease another pipeline publishes:
                # the last snapshot stays.
                if finished and writer:
                    self.snapshot()
            finally:
                self.close()
        return writer

    def _loop(self) -> bool:
        s = self.settings
        last_report = last_refresh = time.monotonic()
        self.refresh()
        changed = True  # the refresh wrote figures: the first snapshot is due at once
        last_snapshot = time.monotonic() - s.snapshot_interval_s
        last_lake = time.monotonic() - s.lake_interval_s
        last_lag = last_copy = time.monotonic() - LAG_CHECK_S
        last_sweep = time.monotonic() - SWEEP_S
        while not self.consumer.stopping.is_set():
            self.consumer.stats.loop_at = time.monotonic()
            if self._stepped_down():
                return False
            stepped = self.consumer.step()
            if time.monotonic() - last_lag >= LAG_CHECK_S:
                self.consumer.check_lag()
                last_lag = time.monotonic()
            changed |= stepped > 0
            if self.requests.pending():  # a data-subject request: answered on the writer's connection, between batches
                self.consumer.flush()
                changed |= self.requests.answer_all(self.store.con, self.lake) > 0
            # What killed backfills left (per-person rows among it) goes after COPY_MAX_AGE_S, though no backfill
            # follows; before the requests are served, so a stale one is not answered.
            if self.copies and not self.copies.busy() and time.monotonic() - last_sweep >= SWEEP_S:
                self.copies.drop_abandoned()
                last_sweep = time.monotonic()
            # A working copy for `alignmon metrics backfill` (pipeline.working_copy), once what Kafka holds is stored:
            # the lag is asked afresh, as the request may follow a backfill into Kafka by a moment.
            if self.copies and self.copies.pending() and not self.copies.busy() and time.monotonic() - last_copy >= 1:
                self.consumer.flush()
                lag, last_copy = self.consumer.check_lag(), time.monotonic()
                if lag is not None and lag < COPY_LAG_RECORDS:
                    self.copies.serve(self.store.cursor)
            if time.monotonic() - last_refresh >= s.refresh_interval_s:
                changed |= self.refresh()
                last_refresh = time.monotonic()
            # Only once caught up: a backlog still holds events of days that look closed.
            if time.monotonic() - last_lake >= s.lake_interval_s:
                if stepped == 0 or self.caught_up():
                    changed |= self.refresh()  # the lake's aggregates are written as the figures stand
                    if self._stepped_down():  # asked again before the shared outputs: a pause may have ended here
                        return False
                    self.to_lake()
                else:
                    self.count_unwritten()  # LakeBehind sees the lake fall behind while the pipeline catches up
                last_lake = time.monotonic()
            # Publish from the loop, not after a batch, so the last events reach analysts even
            # when the stream goes quiet; and only when something changed since the last copy.
            if changed and time.monotonic() - last_snapshot >= s.snapshot_interval_s:
                if self._stepped_down():
                    return False
                self.snapshot()
                last_snapshot, changed = time.monotonic(), False
            if time.monotonic() - last_report >= 10:
                st = self.consumer.stats
                log.info("%d events stored, %d duplicates dropped, %d rejected", st.events, st.duplicates, st.rejected)
                last_report = time.monotonic()
        return True

    def _stepped_down(self) -> bool:
        """In standby mode, True (and the batch in flight committed to this file) once the lease is no longer held."""
        if self.still_writer():
            return False
        log.error(
            "lost the writers' lease (no heartbeat acknowledged lately, or another pipeline holds it): this one stops "
            "writing and waits"
        )
        self.consumer.flush()
        return True

    def close(self) -> None:
        try:
            self.consumer.close()
        finally:
            if self.copies is not None:
                self.copies.wait()  # a working copy in progress reads through the store's connection
            self.store.close()

    def _changed_from(self, as_of: date) -> date | None:
        """The first day whose daily figures a refresh now would change: days with events stored since the last
        one, and the first day of the adoption series it recomputes."""
        row = self.store.con.execute("SELECT dirty_from FROM refresh_state").fetchone()
        return _earliest(row[0] if row else None, series.first_day(self.store.con, as_of))

    def snapshot(self) -> None:
        """Publish the analysts' database: from a copy of the last publication when this process left it there and
        knows from which day the daily figures changed, else whole."""
        self.consumer.flush()  # the copy holds every batch handed over so far
        path = self.settings.snapshot_path
        since = self._history_from if self._published is not None and self._published == _signature(path) else None
        cur = self.store.cursor()
        try:
            if since is not None:  # and the days of events stored since the last refresh (usage_daily is live)
                dirty = cur.execute("SELECT dirty_from FROM refresh_state").fetchone()
                since = _earliest(since, dirty[0] if dirty else None)
            publish(cur, path, ANALYSTS_OBJECTS, since)
        finally:
            cur.close()
        self._published, self._history_from = _signature(path), date.max
        self.consumer.stats.snapshot_at = time.time()

    def stop(self) -> None:
        self.consumer.stopping.set()


def exporter(collector: Collector | Exposition, settings: Settings, probes: Routes | None = None) -> Any:
    """/metrics (and the probes, /healthz and /readyz) served on the pipeline's port; a port taken is a terminal
    error saying so."""
    try:
        return serve(collector, settings.exporter_host, settings.exporter_port, probes)
    except (OverflowError, OSError) as exc:
        raise _port_problem(settings, exc) from None


def check_exporter_port(settings: Settings) -> None:
    """Fail before anything is opened or created (the DuckDB file, Kafka clients) when the port cannot be served."""
    import socket  # noqa: PLC0415

    family = socket.AF_INET6 if ":" in settings.exporter_host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server binds it
            sock.bind((settings.exporter_host, settings.exporter_port))
    except (OverflowError, OSError) as exc:
        raise _port_problem(settings, exc) from None


def _port_problem(settings: Settings, exc: OverflowError | OSError) -> AlignmonError:
    if isinstance(exc, OverflowError):
        return AlignmonError(f"cannot serve /metrics on port {settings.exporter_port}: choose one from 1 to 65535")
    where = f"{settings.exporter_host}:{settings.exporter_port}"
    return AlignmonError(
        f"cannot serve /metrics on {where} ({exc.strerror or exc}): stop what listens there (another pipeline?), "
        "or choose another ALIGNMON_EXPORTER_PORT (ALIGNMON_EXPORTER_HOST: an address of this machine)"
    )


def wait_for_lease(lease: Lease, settings: Settings, stopping: threading.Event) -> bool:
    """Wait as a standby until this process holds the writers' lease (True) or is stopped (False), exporting
    alignmon_pipeline_writer 0 meanwhile on the pipeline's port."""
    log.info("standby: waiting for the writers' lease (Kafka group of %s)", lease.topic)
    server = exporter(StandbyCollector(), settings, routes(StandbyProbes(lease.alive)))
    try:
        held = lease.wait(stopping)
    finally:
        server.shutdown()
        server.server_close()  # the writer's exporter takes the port next
    if held:
        log.info("holding the writers' lease: this pipeline writes")
    return held


def _earliest(a: date | None, b: date | None) -> date | None:
    """The earlier of two days, either of which may be unknown (None)."""
    return min(a, b) if a is not None and b is not None else a or b


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def run_until_signal(settings: Settings) -> None:
    """Start (waiting out transient failures) and run in the foreground until SIGINT/SIGTERM.

    A signal stops after the batch in flight is committed; a terminal error propagates (the CLI exits 1 with it).
    """
    _run_until_signal(settings)
    log.info("pipeline stopped cleanly: every batch read is committed and its files and Kafka clients are closed")


def _run_until_signal(settings: Settings) -> None:
    import signal  # noqa: PLC0415

    stopping = threading.Event()
    pipeline: Pipeline | None = None

    def stop(_sig: int, _frame: object) -> None:
        log.info("stopping" if pipeline is None else "stopping after the current batch")
        stopping.set()
        if pipeline is not None:
            pipeline.stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    Retention(settings.raw_retention_days, settings.daily_retention_days)  # settings that cannot work come first
    check_exporter_port(settings)
    if not settings.standby:
        pipeline = retrying(lambda: Pipeline.from_settings(settings), stopping)
        if pipeline is None:
            return
        if stopping.is_set():  # a signal between the start and here
            pipeline.stop()
        pipeline.run()
        return
    backoff = FIRST_BACKOFF_S
    while not stopping.is_set():
        lease = retrying(lambda: open_lease(settings), stopping)
        if lease is None:
            return
        try:
            if not wait_for_lease(lease, settings, stopping):
                return
            try:
                pipeline = Pipeline.from_settings(settings, lease)
            except TransientError as exc:  # e.g. the lake unreachable from here: another machine may do better
                log.warning("cannot start as the writer, leaving the lease for %.0f s: %s", backoff, exc)
                lease.close()
                lease = None
                stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = FIRST_BACKOFF_S
            if stopping.is_set():
                pipeline.stop()
            if pipeline.run():
                return
            pipeline = None  # the lease was lost: wait for it again
        finally:
            if lease is not None:
                lease.close()  # leaves the group: a standby takes over without waiting for the session timeout
