"""The analysts' database: the k-safe objects only, written to a temp file and renamed, so readers never see half.

Each published view or table becomes a table of the same name (a view would need the per-person tables it reads);
the per-person tables (events, usage_user_daily, directory, rejected events' payloads) stay in the pipeline's file.
A publication that knows from which day the history can have changed starts from a copy of the last one and
replaces only those days of the daily objects (HISTORY), so its cost follows what changed, not the history's length.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb

from pipeline.transaction import transaction

# The objects with a row per day whose past rows change only from a day the pipeline knows (new or late events,
# a refresh from its first recomputed day), each with the table whose first day bounds them (retention).
HISTORY = {"adoption_daily": "adoption_series", "usage_daily": "usage_user_daily"}


def publish(con: duckdb.DuckDBPyConnection, target: Path, objects: Sequence[str], since: date | None = None) -> Path:
    """Copy `objects` (views or tables of `con`) as tables to `target` atomically; open readers keep their copy.

    With `since`, `target` is the previous publication of the same objects: its HISTORY rows before `since` are
    kept (less the days its source no longer holds), every other row is replaced. Read in one transaction, so the
    objects agree with each other (one commit of the writer, never half of two).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    since = since if target.exists() else None
    if since is not None:
        shutil.copyfile(target, tmp)  # before the read transaction: it holds only the copy's own writes
    quoted = str(tmp).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS alignmon_snapshot")
    try:
        with transaction(con):
            for name in objects:
                copy = f'alignmon_snapshot."{name}"'
                if since is not None and name in HISTORY:
                    con.execute(
                        f"DELETE FROM {copy} WHERE day >= $since "  # an empty source leaves no day of it
                        f"""OR day < coalesce((SELECT min(day) FROM "{HISTORY[name]}"), DATE '9999-12-31')""",
                        {"since": since},
                    )
                    con.execute(f'INSERT INTO {copy} SELECT * FROM "{name}" WHERE day >= $since', {"since": since})
                else:
                    con.execute(f'CREATE OR REPLACE TABLE {copy} AS SELECT * FROM "{name}"')
    finally:
        con.execute("DETACH alignmon_snapshot")
    # Readable by the owner and the file's group (the analysts' group of the folder), never by everyone else.
    tmp.chmod(0o640)
    os.replace(tmp, target)
    return target
