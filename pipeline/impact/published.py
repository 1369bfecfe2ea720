"""The analysts' `intervention_effects` table: each intervention's effect as of the refresh's day, k-safe.

The estimate needs per-person rows, which only the pipeline's own file holds, so the pipeline fills the table when it
refreshes (once a day, and when the catalog or interventions.yaml changes) and publishes it like its other objects.
The estimator already shows no figure of a group under k; here a department under k is not named either.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from base.errors import AlignmonError, InvalidFileError
from pipeline.catalog.catalog import Catalog
from pipeline.catalog.interventions import Intervention, interventions_file, load_interventions
from pipeline.domain.impact import Effect, Options
from pipeline.impact.estimates import estimate_all
from pipeline.impact.output import COLUMNS
from pipeline.transaction import transaction

log = logging.getLogger(__name__)

TABLE = "intervention_effects"
_LISTS = ("departments", "comparison_departments", "overlaps")


def table_rows(effects: Sequence[Effect], sizes: dict[str, int], k: int) -> list[tuple[Any, ...]]:
    """The table's rows (Effect.row() in COLUMNS order); department lists joined by ', ', those under k left out."""
    out = []
    for e in effects:
        row = e.row()
        row["departments"] = ", ".join(d for d in e.departments if sizes.get(d, 0) >= k)
        row["comparison_departments"] = ", ".join(d for d in e.comparison_departments if sizes.get(d, 0) >= k)
        row["overlaps"] = ", ".join(e.overlaps)
        out.append(tuple(row[c] for c in COLUMNS))
    return out


def write_effects(
    con: duckdb.DuckDBPyConnection, interventions: Sequence[Intervention], as_of: date, options: Options
) -> list[Effect]:
    """Estimate every intervention as of `as_of` and replace the table's rows with them (one transaction)."""
    try:
        effects = estimate_all(con, interventions, as_of, options) if interventions else []
    except AlignmonError as exc:  # an investment the database's catalog tables do not hold yet
        log.error("intervention effects not estimated (intervention_effects keeps its rows): %s", exc)
        return []
    sizes = dict(con.execute("SELECT department, count(*) FROM directory GROUP BY ALL").fetchall())
    rows = table_rows(effects, sizes, options.k)
    with transaction(con):
        con.execute(f"DELETE FROM {TABLE}")
        if rows:
            con.executemany(f"INSERT INTO {TABLE} VALUES ({', '.join('?' * len(COLUMNS))})", [list(r) for r in rows])
    return effects


def interventions_for(catalog_dir: Path, catalog: Catalog) -> list[Intervention] | None:
    """The checked interventions beside the catalog ([] without a file); None, logged, when the file is invalid."""
    try:
        return list(load_interventions(catalog_dir, catalog).items)
    except InvalidFileError as exc:
        log.error("interventions %s are invalid (intervention_effects keeps its rows):\n%s", catalog_dir, exc)
        return None


def fingerprint(catalog_dir: Path) -> tuple[str, int, int] | None:
    """The interventions file's path, mtime and size (None without one): it changed when this does."""
    path = interventions_file(catalog_dir)
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_mtime_ns, stat.st_size)
