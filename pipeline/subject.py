"""Data-subject rights (GDPR art. 15 and 17) on the pipeline's own file: every row about one person, or none.

A person is known here only by their pseudonym (the caller computes it with the key). Each access and erasure is
written to `privacy_audit`, which nothing updates or deletes (retention leaves it alone): who, when, what.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from base.errors import AlignmonError
from pipeline.lake.location import Lake
from pipeline.lake.publisher import STATE as LAKE_STATE
from pipeline.lake.rebuild import manifests
from pipeline.lake.subject import erase as erase_in_lake
from pipeline.lake.subject import events_of as events_in_lake
from pipeline.lake.subject import record as record_in_lake
from pipeline.transaction import transaction

# The tables that hold rows about one person, and how a row names them: the `user` column, or (a dead letter)
# the raw record text, which holds the pseudonym the gateway gave.
PERSONAL: dict[str, str] = {
    "events": '"user" = $p',
    "usage_user_daily": '"user" = $p',
    "rejected_events": "contains(payload, $p)",
    "device_daily": '"user" = $p',
    "collector_devices": '"user" = $p',
}


class UnknownSubjectError(AlignmonError):
    """No stored row is about this person."""


def rows_of(
    con: duckdb.DuckDBPyConnection, pseudonym: str, lake: Lake | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every stored row about the person, by table (the directory's row included: their department); with a lake,
    the raw events only it still holds come first (the pipeline's file keeps the hot days)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table, where in {**PERSONAL, "directory": '"user" = $p'}.items():
        cur = con.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY ALL", {"p": pseudonym})
        columns = [d[0] for d in cur.description]
        out[table] = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    if lake is not None:
        held = {(r["device_id"], r["event_id"]) for r in out["events"]}
        older = [r for r in events_in_lake(lake, pseudonym) if (r["device_id"], r["event_id"]) not in held]
        out["events"] = sorted(older, key=lambda r: (r["start"], r["device_id"], r["event_id"])) + out["events"]
    return out


def _audit(
    con: duckdb.DuckDBPyConnection,
    actor: str,
    action: str,
    pseudonym: str,
    counts: dict[str, Any],
    *,
    lake: Lake | None,
) -> None:
    """One privacy_audit row, in the pipeline's file and (first) in the lake."""
    row = {"done_at": datetime.now(UTC), "actor": actor, "action": action, "subject": pseudonym,
           "detail": json.dumps(counts)}  # fmt: skip
    if lake is not None:
        record_in_lake(lake, row)
    con.execute("INSERT INTO privacy_audit BY NAME SELECT * FROM (SELECT $done_at AS done_at, $actor AS actor, "
                "$action AS action, $subject AS subject, $detail AS detail)", row)  # fmt: skip


def access(
    con: duckdb.DuckDBPyConnection, pseudonym: str, actor: str, lake: Lake | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The person's rows (art. 15), audited; UnknownSubjectError when there are none."""
    try:
        found = rows_of(con, pseudonym, lake)
    except OSError as exc:
        raise AlignmonError(f"the lake cannot be read, so the answer would miss older events; retry: {exc}") from exc
    if not any(found[t] for t in PERSONAL):
        raise UnknownSubjectError(f"no stored telemetry is about {pseudonym}: check the name and the pseudonym key")
    try:
        with transaction(con):
            _audit(con, actor, "access", pseudonym, {t: len(r) for t, r in found.items()}, lake=lake)
    except OSError as exc:
        raise AlignmonError(f"the lake cannot be written, so the access is not audited there; retry: {exc}") from exc
    return found


def erase(con: duckdb.DuckDBPyConnection, pseudonym: str, actor: str, lake: Lake | None = None) -> dict[str, Any]:
    """Delete the person's telemetry rows (art. 17) in one transaction, audited, and mark the days they touched for
    recomputation (the next refresh no longer counts them). The directory is HR's feed and stays as it is.

    With a lake, its per-person objects lose the person's rows first (`counts["lake"]`): if the lake cannot be
    written, the pipeline's file is left as it is and the error says so; a retry finishes the lake's part.
    """
    try:
        return _erase(con, pseudonym, actor, lake)
    except OSError as exc:
        raise AlignmonError(f"the lake cannot be written, nothing erased in the pipeline's file; retry: {exc}") from exc


def _erase(con: duckdb.DuckDBPyConnection, pseudonym: str, actor: str, lake: Lake | None) -> dict[str, Any]:
    in_lake = erase_in_lake(lake, pseudonym) if lake is not None else None
    with transaction(con):
        row = con.execute('SELECT min(day) FROM usage_user_daily WHERE "user" = ?', [pseudonym]).fetchone()
        first: date | None = row[0] if row else None  # the figures come from the rollups: recompute from here
        counts: dict[str, Any] = {}
        for table, where in PERSONAL.items():
            deleted = con.execute(f"DELETE FROM {table} WHERE {where}", {"p": pseudonym}).fetchone()
            counts[table] = int(deleted[0]) if deleted else 0
        if not any(counts.values()) and not any((in_lake or {}).values()):
            raise UnknownSubjectError(f"no stored telemetry is about {pseudonym}: nothing erased")
        if first is not None:
            con.execute("UPDATE refresh_state SET dirty_from = least(coalesce(dirty_from, $d), $d)", {"d": first})
        if lake is not None and in_lake is not None:
            counts["lake"] = in_lake
            con.execute(LAKE_STATE)
            # The lake as this erasure left it is this file's (a retry included): not behind it. Only the writer's
            # file erases (the command refuses a standby's file that is behind the lake).
            for m in manifests(lake):
                con.execute("UPDATE lake_days SET published_at = ? WHERE day = ?", [m["published_at"], m["day"]])
        _audit(con, actor, "erase", pseudonym, counts, lake=lake)
    return counts


def perform(con: duckdb.DuckDBPyConnection, action: str, pseudonym: str, actor: str, lake: Lake | None = None) -> Any:
    """`access` or `erase`, as the CLI and the running pipeline's request folder both call it."""
    if action == "access":
        return access(con, pseudonym, actor, lake)
    if action == "erase":
        return erase(con, pseudonym, actor, lake)
    raise AlignmonError(f"unknown data-subject action {action!r}")
