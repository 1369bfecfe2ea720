"""The import service: run one importer over several files and gather events and record errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from base.errors import AlignmonError
from collectors.event import UsageEvent
from collectors.importers import activitywatch, osquery, whatpulse
from collectors.importers.record import ImportItem, ImportOptions, ImportResult, RecordError

KINDS = ("activitywatch", "whatpulse", "osquery")


def zone(name: str | tzinfo) -> tzinfo:
    """A time zone from an IANA name (or a tzinfo passed through)."""
    if isinstance(name, tzinfo):
        return name
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise AlignmonError(f"unknown time zone {name!r}: use an IANA name such as Europe/Amsterdam") from None


def _check(kind: str, options: ImportOptions) -> None:
    if kind not in KINDS:
        raise AlignmonError(f"unknown importer {kind!r}: choose one of {', '.join(KINDS)}")
    if kind in ("activitywatch", "whatpulse") and not options.user:
        raise AlignmonError(f"a {kind} export does not name its user: pass --user")
    if kind == "whatpulse" and not options.device:
        raise AlignmonError("a WhatPulse database does not name its computer: pass --device")


def import_items(kind: str, path: Path, options: ImportOptions) -> Iterator[ImportItem]:
    """Events and record errors from one file, by importer kind."""
    _check(kind, options)
    if kind == "activitywatch":
        yield from activitywatch.read_export(path, user=str(options.user), options=options)
    elif kind == "whatpulse":
        yield from whatpulse.read_database(
            path, user=str(options.user), device=str(options.device), options=options, settle=whatpulse.SETTLE
        )
    else:
        yield from osquery.read_results_log(path, options=options)


def import_paths(
    kind: str,
    paths: Iterable[Path | str],
    *,
    user: str | None = None,
    device: str | None = None,
    tz: str | tzinfo = "UTC",
    now: datetime | None = None,
) -> ImportResult:
    """Import every file with one importer; events are unique by event_id, errors never stop the run."""
    options = ImportOptions(user=user, device=device, tz=zone(tz), now=now)
    _check(kind, options)
    events: dict[str, UsageEvent] = {}
    errors: list[RecordError] = []
    files = 0
    for path in paths:
        files += 1
        for item in import_items(kind, Path(path), options):
            if isinstance(item, RecordError):
                errors.append(item)
            else:
                # One record can be seen twice in a run (a launch in two snapshots): keep the first.
                events.setdefault(item.event_id, item)
    return ImportResult(list(events.values()), errors, files)
