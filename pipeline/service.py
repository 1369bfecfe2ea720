"""The pipeline process: consumer, exporter and snapshot publisher around one DuckDB writer."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from alignment import views
from alignmon.settings import Settings
from metrics.exporter import PipelineCollector, serve
from pipeline.catalog import CatalogError, CatalogSource, catalog_files
from pipeline.consumer import Consumer
from pipeline.refresh import refresh, sync_catalog
from pipeline.snapshot import publish
from pipeline.store import Store

log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """Everything `alignmon pipeline` runs; `stop()` ends it cleanly from another thread."""

    settings: Settings
    store: Store
    consumer: Consumer

    catalog: CatalogSource | None = None
    _generation: int = -1
    _warned: bool = False
    _refreshed: tuple[object, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> Pipeline:
        store = Store(
            settings.duckdb_path, settings.timezone, settings.duckdb_memory_limit, settings.dedup_horizon_days
        )
        views.install(store.con)
        consumer = Consumer(
            store,
            settings.kafka_bootstrap,
            settings.topic,
            settings.dlq_topic,
            max_batch_bytes=int(settings.batch_max_mib * 1024 * 1024),
            event_bounds=settings.event_bounds(),
        )
        pipeline = cls(settings, store, consumer)
        pipeline.find_catalog()
        return pipeline

    def find_catalog(self) -> bool:
        """Start watching the catalog once its files exist (they may be written after the pipeline starts)."""
        s = self.settings
        try:
            catalog_files(s.catalog_dir)
        except CatalogError as exc:
            if not self._warned:
                log.warning("%s: ingesting only, no adoption figures until a catalog is there", exc)
                self._warned = True
            return False
        self.catalog = CatalogSource(s.catalog_dir, s.directory_csv, s.pseudonym_key())
        return True

    def refresh(self) -> bool:
        """Reload the catalog if it changed, then bring adoption up to the as-of day.

        Returns False when nothing could have changed since the last refresh (same day, same
        catalog, no batch since), so an idle pipeline neither recomputes nor republishes.
        """
        if self.catalog is None and not self.find_catalog():
            return False
        self.consumer.flush()  # the refresh shares the writer's connection: never while it writes
        assert self.catalog is not None
        try:
            catalog = self.catalog.current()
        except CatalogError as exc:
            # Never valid so far: keep ingesting (nothing is lost) and say what to fix.
            log.error("catalog not usable, adoption not computed until it is fixed:\n%s", exc)
            return False
        if self.catalog.generation != self._generation:
            log.info("catalog loaded: %d investments", len(catalog.investments))
            sync_catalog(self.store.con, catalog)
            self._generation = self.catalog.generation
        as_of = self.settings.today()
        key = (as_of, self._generation, self.consumer.stats.batches)
        if key == self._refreshed:
            return False
        began = time.perf_counter()
        refresh(self.store.con, catalog, as_of, self.settings.k_anonymity)
        views.refresh(self.store.con, catalog, as_of)  # the alignment model's views for analysts
        self.consumer.stats.last_refresh_s = time.perf_counter() - began
        self._refreshed = key
        return True

    def run(self) -> None:
        s = self.settings
        collector = PipelineCollector(self.store.cursor, self.consumer.stats, catalog=lambda: self.catalog)
        server = serve(collector, s.exporter_host, s.exporter_port)
        last_report = last_refresh = last_snapshot = time.monotonic()
        self.refresh()
        changed = True  # the refresh wrote figures: the first snapshot is due at once
        last_snapshot -= s.snapshot_interval_s
        try:
            while not self.consumer.stopping.is_set():
                changed |= self.consumer.step() > 0
                if time.monotonic() - last_refresh >= s.refresh_interval_s:
                    changed |= self.refresh()
                    last_refresh = time.monotonic()
                # Publish from the loop, not after a batch, so the last events reach analysts even
                # when the stream goes quiet; and only when something changed since the last copy.
                if changed and time.monotonic() - last_snapshot >= s.snapshot_interval_s:
                    self.snapshot()
                    last_snapshot, changed = time.monotonic(), False
                if time.monotonic() - last_report >= 10:
                    st = self.consumer.stats
                    log.info(
                        "%d events stored, %d duplicates dropped, %d rejected",
                        st.events,
                        st.duplicates,
                        st.rejected,
                    )
                    last_report = time.monotonic()
        finally:
            server.shutdown()
            self.snapshot()
            self.consumer.close()
            self.store.close()

    def snapshot(self) -> None:
        self.consumer.flush()  # the copy holds every batch handed over so far
        cur = self.store.cursor()
        try:
            publish(cur, self.settings.snapshot_path)
        finally:
            cur.close()
        self.consumer.stats.snapshot_at = time.time()

    def stop(self) -> None:
        self.consumer.stopping.set()


def run_until_signal(pipeline: Pipeline) -> None:
    """Run in the foreground; SIGINT/SIGTERM stop after the batch in flight is committed."""
    import signal  # noqa: PLC0415

    def stop(_sig: int, _frame: object) -> None:
        log.info("stopping after the current batch")
        pipeline.stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    pipeline.run()
