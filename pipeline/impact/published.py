"""The analysts' `intervention_effects` table: each intervention's effect, k-safe, published once and then kept.

The estimate needs per-person rows, which only the pipeline's own file holds, so the pipeline fills the table when it
refreshes (once a day, and when the catalog or interventions.yaml changes) and publishes it like its other objects.
The estimator already shows no figure of a group under k; here a department under k is not named either.

A row with figures (verdict effect or no_detectable_effect) is **frozen**: kept as it is, with the day it was
estimated, until its entry in interventions.yaml or the estimate's options change. Estimated again every day, its
groups' figures would move as people join and leave the directory, and two days' rows differenced would show the
activity of the one person who left. It also keeps the estimate once retention has deleted the days it counted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from base.errors import AlignmonError, InvalidFileError
from pipeline.catalog.catalog import Catalog
from pipeline.catalog.interventions import Intervention, interventions_file, load_interventions
from pipeline.domain.impact import Effect, Options, Verdict
from pipeline.impact.estimates import estimate_all
from pipeline.impact.output import COLUMNS
from pipeline.transaction import transaction

log = logging.getLogger(__name__)

TABLE = "intervention_effects"
_FINAL = (Verdict.EFFECT, Verdict.NO_DETECTABLE_EFFECT)
_COLUMNS = (*COLUMNS, "basis")  # basis: what the row was estimated from (`basis`)


def basis(item: Intervention, options: Options) -> str:
    """A digest of the intervention's entry and the estimate's options: a frozen row is kept while it is the same."""
    text = item.model_dump_json() + repr(sorted(asdict(options).items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def table_rows(
    effects: Sequence[Effect], sizes: dict[str, int], k: int, bases: dict[str, str] | None = None
) -> list[tuple[Any, ...]]:
    """The table's rows (Effect.row() in COLUMNS order, then the basis); department lists joined by ', ', those
    under k left out."""
    out = []
    for e in effects:
        row = e.row()
        row["departments"] = ", ".join(d for d in e.departments if sizes.get(d, 0) >= k)
        row["comparison_departments"] = ", ".join(d for d in e.comparison_departments if sizes.get(d, 0) >= k)
        row["overlaps"] = ", ".join(e.overlaps)
        row["basis"] = (bases or {}).get(e.intervention)
        out.append(tuple(row[c] for c in _COLUMNS))
    return out


def write_effects(
    con: duckdb.DuckDBPyConnection,
    interventions: Sequence[Intervention],
    as_of: date,
    options: Options,
    *,
    freeze: bool = True,
) -> list[Effect]:
    """Estimate the interventions whose row is not frozen as of `as_of`, and make the table hold one row for each
    intervention: the frozen ones kept, the others replaced (one transaction). Returns the effects estimated.

    `freeze=False` (the pipeline is still storing a backlog: the windows may be missing days a coverage over 28 days
    cannot see) writes rows with figures unfrozen, to be estimated again (`lacks_days`)."""
    bases = {item.id: basis(item, options) for item in interventions}
    rows_now = con.execute(
        f"SELECT intervention, basis FROM {TABLE} WHERE list_contains(?, verdict)", [[str(v) for v in _FINAL]]
    ).fetchall()
    frozen = {ident for ident, row_basis in rows_now if bases.get(ident) == row_basis}
    try:
        todo = [item.id for item in interventions if item.id not in frozen]
        effects = estimate_all(con, interventions, as_of, options, only=todo) if todo else []
    except AlignmonError as exc:  # an investment the database's catalog tables do not hold yet
        log.error("intervention effects not estimated (intervention_effects keeps its rows): %s", exc)
        return []
    sizes = dict(con.execute("SELECT department, count(*) FROM directory GROUP BY ALL").fetchall())
    rows = table_rows(effects, sizes, options.k, bases if freeze else None)
    with transaction(con):
        con.execute(f"DELETE FROM {TABLE} WHERE NOT list_contains(?, intervention)", [sorted(frozen)])
        if rows:
            columns = ", ".join(f'"{c}"' for c in _COLUMNS)
            con.executemany(
                f"INSERT INTO {TABLE} ({columns}) VALUES ({', '.join('?' * len(_COLUMNS))})", [list(r) for r in rows]
            )
    return effects


def lacks_days(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether events were stored, since the last refresh, for a day in the windows of an effect that lacked known
    days (not_estimable, unknown_days) or was estimated during a backlog (figures, not frozen): a backfill or late
    telemetry may now let it be estimated, or estimated whole."""
    row = con.execute(
        f"SELECT count(*) FROM {TABLE}, refresh_state WHERE dirty_from <= post_to "
        "AND (reason = 'unknown_days' OR (basis IS NULL AND verdict <> 'not_estimable'))"
    ).fetchone()
    return bool(row and row[0])


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
