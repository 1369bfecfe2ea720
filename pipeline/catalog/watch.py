"""Reload the catalog without a restart: a cheap stat on each call, the last good catalog kept on errors."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from base.directory import Directory, load_directory
from base.errors import InvalidFileError
from pipeline.catalog.catalog import Catalog
from pipeline.catalog.loader import CATALOG_SUFFIXES, INTERVENTIONS_FILES, load_catalog

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


class CatalogSource:
    """The current catalog of a folder (plus an optional directory CSV), reloaded when a file changes.

    `current()` stats the files (at most every `check_interval_s`) and reloads when a name, mtime or size
    differs. An invalid edit (an empty file included) is logged and the last good catalog stays in use.

    For the exporter: `valid` is False while the files on disk are not a valid catalog, `last_error` says
    why, `failed_since` is the wall-clock time that started, and `load_errors` counts failed reloads.
    """

    def __init__(
        self,
        catalog_dir: Path,
        directory_csv: Path | None = None,
        key: bytes | None = None,
        *,
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        # Without the key (the pipeline's case) the directory must hold pseudonyms already.
        self.catalog_dir = catalog_dir
        self.directory_csv = directory_csv
        self._key = key
        self._interval = check_interval_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._checked_at: float | None = None
        self._fingerprint: Fingerprint | None = None
        self._catalog: Catalog | None = None
        self.generation = 0
        self.last_error: InvalidFileError | None = None
        self.failed_since: float | None = None  # time.time() of the first failed reload since the last good one
        self._logged: str | None = None  # the last problem logged
        self.load_errors = 0  # failed reloads since start; a broken file is re-read only when it changes
        # The pipeline loop and the exporter's scrape thread may both ask; one reload at a time.
        self._lock = threading.Lock()

    @property
    def valid(self) -> bool:
        """Whether the files, as last read, are a valid catalog (False before a first successful load)."""
        return self._catalog is not None and self.last_error is None

    def current(self) -> Catalog:
        """The catalog to use now; raises InvalidFileError (catalog or directory) only if none was ever valid."""
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
        except InvalidFileError as exc:  # the catalog's or the directory's
            self.last_error = exc
            self.load_errors += 1
            if self.failed_since is None:
                self.failed_since = self._wall_clock()
            if str(exc) != self._logged:  # re-read at every check until a catalog loads: said once per problem
                self._logged = str(exc)
                kept = (
                    "keeping the last good catalog" if self._catalog is not None else "adoption waits until it is fixed"
                )
                log.error("the catalog %s or its directory is invalid (%s):\n%s", self.catalog_dir, kept, exc)
            return
        for warning in catalog.warnings:
            log.warning("%s", warning)
        self._catalog = catalog
        self._logged = None
        self.last_error = None
        self.failed_since = None
        self.generation += 1
        log.info(
            "catalog loaded from %s (generation %d): %d applications, %d investments",
            self.catalog_dir,
            self.generation,
            len(catalog.applications),
            len(catalog.investments),
        )

    def _load_directory(self) -> Directory | None:
        if self.directory_csv is None:
            return None
        return load_directory(self.directory_csv, self._key)

    def _stat(self) -> Fingerprint:
        paths: list[Path] = []
        if self.catalog_dir.is_dir():
            try:
                # Not interventions.yaml: it is no catalog file, and a reload re-syncs the whole catalog.
                paths += sorted(
                    c
                    for c in self.catalog_dir.iterdir()
                    if c.suffix.lower() in CATALOG_SUFFIXES and c.name.lower() not in INTERVENTIONS_FILES
                )
            except OSError:  # the reload will report it; stat must not end the pipeline
                paths.append(self.catalog_dir)
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
