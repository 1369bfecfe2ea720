"""osquery bridge: launch evidence from osquery result logs (JSON lines).

Reads the three result-line shapes osquery's filesystem logger writes (event/differential, snapshot and
batched `diffResults`, see osquery's docs/wiki/deployment/logging.md). Rows of the tables that record when
an application was started or last used become `launch` events; "removed" rows are not evidence of use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from collectors.event import deterministic_id
from collectors.importers.record import DEFAULT_OPTIONS, ImportItem, ImportOptions, RecordError, make_event

SOURCE = "osquery"


class Evidence(NamedTuple):
    """How to read launch evidence from one osquery table's rows."""

    table: str
    requires: frozenset[str]
    time_column: str
    app_columns: tuple[str, ...]


# Tried in order; a row is read by the first whose columns it has (column names from osquery's specs/).
EVIDENCE = (
    Evidence("apps", frozenset({"last_opened_time"}), "last_opened_time", ("path", "bundle_identifier", "name")),
    # prefetch.path is the .pf file itself; filename names the executable.
    Evidence(
        "prefetch",
        frozenset({"last_execution_time", "filename"}),
        "last_execution_time",
        ("filename", "path"),
    ),
    Evidence("userassist", frozenset({"last_execution_time", "path"}), "last_execution_time", ("path",)),
    Evidence("process_events", frozenset({"time", "path"}), "time", ("path",)),
    Evidence("processes", frozenset({"start_time"}), "start_time", ("path", "name")),
)


class _RowError(ValueError):
    """A result row that cannot be read as launch evidence."""


def classify(columns: Mapping[str, object]) -> Evidence | None:
    """Which evidence table a row looks like, or None when it records no start or last use."""
    names = set(columns)
    return next((e for e in EVIDENCE if e.requires <= names), None)


def evidence_time(value: object) -> datetime | None:
    """The UTC time in a unix-seconds column (a string, or a number with --logger_numerics); None if unset."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise _RowError(f"time {value!r} is not unix seconds") from None
    # osquery writes 0 or -1 when a time is unknown (a never-opened app, an unreadable start time).
    if seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def row_user(row: Mapping[str, object], host: str, fallback: str | None) -> str | None:
    """The user a row names: username, else a host-qualified uid or a SID, else the fallback."""
    username = str(row.get("username") or "").strip()
    if username:
        return username
    uid = str(row.get("uid") or "").strip()
    if uid:
        # A uid only means something on its own host.
        return f"uid:{uid}@{host}"
    sid = str(row.get("sid") or "").strip()
    return sid or fallback


class ResultRows(NamedTuple):
    """The evidence-bearing rows of one result line, with their locators."""

    name: object
    host: object
    rows: list[tuple[str, object]]


def result_rows(line: Mapping[str, Any], locator: str) -> ResultRows:
    """The rows of one result line that are evidence of use ("added" and snapshot rows)."""
    name, host = line.get("name"), line.get("hostIdentifier") or line.get("hostname")
    if "diffResults" in line:
        diff = line["diffResults"]
        if not isinstance(diff, Mapping):
            raise _RowError("diffResults is not an object")
        added = diff.get("added") or []
        if not isinstance(added, list):
            raise _RowError("diffResults.added is not a list")
        return ResultRows(name, host, [(f"{locator} added[{i}]", row) for i, row in enumerate(added)])
    action = line.get("action")
    if action == "added":
        return ResultRows(name, host, [(locator, line.get("columns"))])
    if action == "removed":
        return ResultRows(name, host, [])
    if action == "snapshot":
        snapshot = line.get("snapshot")
        if not isinstance(snapshot, list):
            raise _RowError("snapshot line has no snapshot list")
        return ResultRows(name, host, [(f"{locator} snapshot[{i}]", row) for i, row in enumerate(snapshot)])
    raise _RowError(f"not an osquery result line: action {action!r} and no diffResults")


def row_event(
    row: Mapping[str, object],
    *,
    name: str,
    host: str,
    file: str,
    locator: str,
    options: ImportOptions,
) -> ImportItem | None:
    """The launch event one evidence row gives, None if it carries no time, or a RecordError."""
    evidence = classify(row)
    if evidence is None:
        return RecordError(file, locator, "row has no launch-evidence columns")
    try:
        when = evidence_time(row.get(evidence.time_column))
    except _RowError as exc:
        return RecordError(file, locator, f"{evidence.time_column}: {exc}")
    if when is None:
        return None
    app = next((str(row[c]).strip() for c in evidence.app_columns if str(row.get(c) or "").strip()), None)
    if app is None:
        return RecordError(
            file, locator, f"{evidence.table} row names no application ({'/'.join(evidence.app_columns)})"
        )
    user = row_user(row, host, options.user)
    if user is None:
        return RecordError(file, locator, "row names no user (username/uid/sid) and no --user was given")
    return make_event(
        {
            # Built from the evidence, not every column, so re-snapshots of one launch keep one id.
            "event_id": deterministic_id(
                SOURCE, host, name, evidence.table, app, when.isoformat(), user, row.get("pid", "")
            ),
            "kind": "launch",
            "device_id": host,
            "user": user,
            "app": app,
            "start": when,
            "duration_s": 0,
            "source": SOURCE,
        },
        file=file,
        locator=locator,
        now=options.now,
    )


def parse_lines(lines: Iterator[bytes], *, file: str, options: ImportOptions = DEFAULT_OPTIONS) -> Iterator[ImportItem]:
    """Launch events from result-log lines; one error per bad line and one per query with no evidence."""
    unrecognised: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        locator = f"line {number}"
        try:
            line = json.loads(raw)
        except ValueError as exc:
            yield RecordError(file, locator, f"malformed JSON: {exc}")
            continue
        if not isinstance(line, dict):
            yield RecordError(file, locator, "line is not a JSON object")
            continue
        try:
            result = result_rows(line, locator)
        except _RowError as exc:
            yield RecordError(file, locator, str(exc))
            continue
        if not result.rows:
            continue
        name, host = result.name, result.host or options.device
        if not isinstance(name, str) or not name:
            yield RecordError(file, locator, "result line has no query name")
            continue
        if not isinstance(host, str) or not host.strip():
            yield RecordError(file, locator, "result line has no hostIdentifier; pass a device id")
            continue
        for row_locator, row in result.rows:
            if not isinstance(row, Mapping):
                yield RecordError(file, row_locator, "row is not a JSON object")
                continue
            if classify(row) is None:
                # Results logs mix every scheduled query; say once per query that its rows are not evidence.
                if name not in unrecognised:
                    unrecognised.add(name)
                    yield RecordError(
                        file,
                        row_locator,
                        f"query {name!r} has no launch-evidence columns (last_opened_time, "
                        "last_execution_time, time+path, start_time); its rows were skipped",
                    )
                continue
            item = row_event(row, name=name, host=host, file=file, locator=row_locator, options=options)
            if item is not None:
                yield item


def read_results_log(path: Path, *, options: ImportOptions = DEFAULT_OPTIONS) -> Iterator[ImportItem]:
    """Launch events from an osquery results (or snapshots) log file."""
    file = str(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield RecordError(file, "file", f"cannot read osquery results log: {exc}")
        return
    with handle:
        yield from parse_lines(iter(handle), file=file, options=options)
