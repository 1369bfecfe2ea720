"""WhatPulse bridge: hourly per-application active time from the local WhatPulse SQLite database.

The table is `application_active_hour (day DATE, hour INTEGER, path VARCHAR, profile_id INTEGER, ...)`
with the active time in `seconds_active` (older clients) or `msec_active` (newer clients). `day` and
`hour` are the computer's local wall-clock time, so the import takes that computer's time zone. WhatPulse
does not say where in the hour the time fell: each record becomes one focus span at the top of its hour.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import NamedTuple

from collectors.event import deterministic_id
from collectors.importers.record import DEFAULT_OPTIONS, ImportItem, ImportOptions, RecordError, make_event

SOURCE = "whatpulse"
TABLE = "application_active_hour"
# Active-time column and how many of its units make a second, newest schema first.
ACTIVE_COLUMNS = (("msec_active", 1000), ("seconds_active", 1))


class Schema(NamedTuple):
    """Which WhatPulse schema version a database has."""

    active_column: str
    units_per_second: int
    has_profile: bool


class HourRecord(NamedTuple):
    """One application_active_hour row, raw from SQLite."""

    rowid: int
    day: object
    hour: object
    path: object
    active: object
    profile_id: object


class _RowError(ValueError):
    """A WhatPulse row that cannot be turned into a span."""


def detect_schema(columns: set[str]) -> Schema:
    """The schema version from the application_active_hour column names."""
    if not columns:
        raise _RowError(f"no {TABLE} table: not a WhatPulse database, or one too old to record application time")
    missing = {"day", "hour", "path"} - columns
    if missing:
        raise _RowError(f"{TABLE} lacks column(s) {', '.join(sorted(missing))}: unknown WhatPulse schema")
    for name, units in ACTIVE_COLUMNS:
        if name in columns:
            return Schema(name, units, "profile_id" in columns)
    raise _RowError(f"{TABLE} has neither msec_active nor seconds_active: unknown WhatPulse schema")


# How long after its end `alignmon import whatpulse` waits before it takes an hour.
SETTLE = timedelta(hours=1)


def hour_span(record: HourRecord, schema: Schema, tz: tzinfo) -> tuple[datetime, float]:
    """Start (UTC) and length in seconds of the activity one row records."""
    try:
        day = date.fromisoformat(str(record.day))
    except ValueError:
        raise _RowError(f"invalid day {record.day!r}") from None
    if isinstance(record.hour, bool) or not isinstance(record.hour, int) or not 0 <= record.hour <= 23:
        raise _RowError(f"invalid hour {record.hour!r}")
    if isinstance(record.active, bool) or not isinstance(record.active, int | float) or record.active < 0:
        raise _RowError(f"invalid {schema.active_column} {record.active!r}")
    seconds = record.active / schema.units_per_second
    if seconds > 3600:
        raise _RowError(f"{schema.active_column} {record.active!r} is more than one hour of activity in an hour")
    start = datetime.combine(day, time(record.hour), tzinfo=tz).astimezone(UTC)
    return start, seconds


def _connect(path: Path) -> sqlite3.Connection:
    # Read-only: the WhatPulse client may be running and owns the file.
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def read_database(
    path: Path, *, user: str, device: str, options: ImportOptions = DEFAULT_OPTIONS, settle: timedelta | None = None
) -> Iterator[ImportItem]:
    """Focus events from a WhatPulse database (either schema); bad rows become RecordErrors.

    With `settle`, an hour younger than that past its end is reported and left out: WhatPulse keeps
    adding to the current hour, and its id is fixed, so a later import of the full hour would be
    dropped as a duplicate of the partial one. (The agent's source applies its own settle period.)
    """
    file = str(path)
    try:
        con = _connect(path)
    except sqlite3.Error as exc:
        yield RecordError(file, "file", f"cannot open WhatPulse database: {exc}")
        return
    try:
        try:
            columns = {row[1] for row in con.execute(f"PRAGMA table_info({TABLE})")}
            schema = detect_schema(columns)
            profile = "profile_id" if schema.has_profile else "0"
            active = schema.active_column
            rows = con.execute(f"SELECT rowid, day, hour, path, {active}, {profile} FROM {TABLE} ORDER BY rowid")
        except (sqlite3.Error, _RowError) as exc:
            yield RecordError(file, TABLE if isinstance(exc, _RowError) else "file", str(exc))
            return
        try:
            for row in rows:
                item = _row_event(
                    HourRecord(*row), schema, file=file, user=user, device=device, options=options, settle=settle
                )
                if item is not None:
                    yield item
        except sqlite3.Error as exc:
            yield RecordError(file, TABLE, f"stopped reading the table: {exc}")
    finally:
        con.close()


def _row_event(
    record: HourRecord,
    schema: Schema,
    *,
    file: str,
    user: str,
    device: str,
    options: ImportOptions,
    settle: timedelta | None,
) -> ImportItem | None:
    """The focus event one row records; None for an hour with no activity."""
    locator = f"{TABLE} rowid {record.rowid}"
    try:
        start, seconds = hour_span(record, schema, options.tz)
        if not isinstance(record.path, str) or not record.path.strip():
            raise _RowError("record has no application path")
    except _RowError as exc:
        return RecordError(file, locator, str(exc))
    if seconds == 0:
        return None
    if settle is not None and start + timedelta(hours=1) + settle > (options.now or datetime.now(UTC)):
        return RecordError(file, locator, f"hour starting {start.isoformat()} has not settled yet; import it later")
    return make_event(
        {
            # The row's natural key (WhatPulse's unique index), so a re-import maps onto the same ids.
            "event_id": deterministic_id(SOURCE, device, start.isoformat(), record.path, record.profile_id),
            "kind": "focus",
            "device_id": device,
            "user": user,
            "app": record.path,
            "start": start,
            "duration_s": seconds,
            "source": SOURCE,
        },
        file=file,
        locator=locator,
        now=options.now,
    )
