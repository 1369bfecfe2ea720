"""The analysts' read-only copy: written to a temp file and renamed, so readers never see half of it."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb


def publish(con: duckdb.DuckDBPyConnection, target: Path) -> Path:
    """Copy the whole database to `target` atomically; open readers keep the copy they had."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    source = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    con.execute(f"ATTACH '{tmp}' AS alignmon_snapshot")
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO alignmon_snapshot')
    finally:
        con.execute("DETACH alignmon_snapshot")
    # Readable by the owner and the file's group (the analysts' group of the folder), never by everyone else.
    tmp.chmod(0o640)
    os.replace(tmp, target)
    return target
