"""Reload the catalog without a restart: a cheap stat on each call, the last good catalog kept on errors."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.catalog.catalog import Catalog
from pipeline.catalog.directory import Directory, load_directory
from pipeline.catalog.errors import CatalogError
from pipeline.catalog.loader import CATALOG_SUFFIXES, load_catalog

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


class CatalogSource:
    """The current catalog of a folder (plus an optional directory CSV), reloaded when a file changes.

    `current()` stats the files (at most every `check_interval_s`) and reloads when a name, mtime or size
    differs. An invalid edit is logged and the last good catalog stays in use; `last_error` holds it.
    """

    def __init__(
        self,
        catalog_dir: Path,
        directory_csv: Path | None = None,
        key: bytes | None = None,
        *,
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if directory_csv is not None and key is None:
            raise ValueError("a directory CSV needs the pseudonym key the gateway uses")
        self.catalog_dir = catalog_dir
        self.directory_csv = directory_csv
        self._key = key
        self._interval = check_interval_s
        self._clock = clock
        self._checked_at: float | None = None
        self._fingerprint: Fingerprint | None = None
        self._catalog: Catalog | None = None
        self.generation = 0
        self.last_error: CatalogError | None = None
        # The pipeline loop and the exporter's scrape thread may both ask; one reload at a time.
        self._lock = threading.Lock()

    def current(self) -> Catalog:
        """The catalog to use now; raises CatalogError only if no valid catalog was ever loaded."""
        with self._lock:
            return self._current()

    def _current(self) -> Catalog:
        now = self._clock()
        if self._catalog is not None and self._checked_at is not None and now - self._checked_at < self._interval:
            return self._catalog
        self._checked_at = now
        fingerprint = self._stat()
        if fingerprint != self._fingerprint or self._catalog is None:
            self._fingerprint = fingerprint
            self._reload()
        if self._catalog is None:
            assert self.last_error is not None
            raise self.last_error
        return self._catalog

    def _reload(self) -> None:
        try:
            directory = self._load_directory()
            catalog = load_catalog(self.catalog_dir, directory)
        except CatalogError as exc:
            self.last_error = exc
            kept = "keeping the last good catalog" if self._catalog is not None else "no catalog loaded yet"
            log.error("catalog %s is invalid (%s):\n%s", self.catalog_dir, kept, exc)
            return
        for warning in catalog.warnings:
            log.warning("%s", warning)
        self._catalog = catalog
        self.last_error = None
        self.generation += 1
        log.info(
            "catalog loaded from %s (generation %d): %d applications, %d investments",
            self.catalog_dir,
            self.generation,
            len(catalog.applications),
            len(catalog.investments),
        )

    def _load_directory(self) -> Directory | None:
        if self.directory_csv is None or self._key is None:
            return None
        return load_directory(self.directory_csv, self._key)

    def _stat(self) -> Fingerprint:
        paths: list[Path] = []
        if self.catalog_dir.is_dir():
            paths += sorted(child for child in self.catalog_dir.iterdir() if child.suffix.lower() in CATALOG_SUFFIXES)
        else:
            paths.append(self.catalog_dir)
        if self.directory_csv is not None:
            paths.append(self.directory_csv)
        entries: list[tuple[str, int, int]] = []
        for path in paths:
            try:
                stat = path.stat()
                entries.append((str(path), stat.st_mtime_ns, stat.st_size))
            except OSError:
                entries.append((str(path), -1, -1))
        return tuple(entries)
