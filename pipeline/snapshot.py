"""The analysts' database: the k-safe objects only, written to a temp file and renamed, so readers never see half.

Each published view or table becomes a table of the same name (a view would need the per-person tables it reads);
the per-person tables (events, usage_user_daily, directory, rejected events' payloads) stay in the pipeline's file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb

from pipeline.transaction import transaction


def publish(con: duckdb.DuckDBPyConnection, target: Path, objects: Sequence[str]) -> Path:
    """Copy `objects` (views or tables of `con`) as tables to `target` atomically; open readers keep their copy.

    Read in one transaction, so the objects agree with each other (one commit of the writer, never half of two).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    quoted = str(tmp).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS alignmon_snapshot")
    try:
        with transaction(con):
            for name in objects:
                con.execute(f'CREATE TABLE alignmon_snapshot."{name}" AS SELECT * FROM "{name}"')
    finally:
        con.execute("DETACH alignmon_snapshot")
    # Readable by the owner and the file's group (the analysts' group of the folder), never by everyone else.
    tmp.chmod(0o640)
    os.replace(tmp, target)
    return target
