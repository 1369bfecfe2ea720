"""The analysts' `intervention_effects` table: each intervention's effect, k-safe, published once and then kept.

The estimate needs per-person rows, which only the pipeline's own file holds, so the pipeline fills the table when it
refreshes (once a day, and when the catalog or interventions.yaml changes) and publishes it like its other objects.
The estimator already shows no figure of a group under k; here a department under k is not named either (checked at
every write, against the directory of the day).

A row with figures (verdict effect or no_detectable_effect) is **frozen**: its figures are kept as they are, with the
day they were estimated, while what they follow from stays the same (`basis`: the investment, the days, the treated
departments, the options, the estimator's version). Estimated again, a group's figures would move as people join and
leave the directory, and two rows over the same groups differenced would show the activity of the one who left: so an
edit of the kind, cost, owner or note changes the row's words and cost, not its figures, and a second intervention on
the same days and departments gets the first one's figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from base.errors import AlignmonError, InvalidFileError
from pipeline.catalog.catalog import Catalog
from pipeline.catalog.interventions import Intervention, interventions_file, load_interventions
from pipeline.domain.impact import Effect, Options, Verdict, Windows, cost_per_additional_user
from pipeline.domain.rules import EFFECT_PSEUDO_PEOPLE
from pipeline.impact.estimates import estimate_all, overlapping
from pipeline.impact.output import COLUMNS
from pipeline.transaction import transaction

log = logging.getLogger(__name__)

TABLE = "intervention_effects"
_FINAL = (Verdict.EFFECT, Verdict.NO_DETECTABLE_EFFECT)
_COLUMNS = (*COLUMNS, "basis")  # basis: what the row's figures follow from (`basis`)
# Bump when the estimate's method changes: frozen rows of another method are estimated again.
ESTIMATOR = f"did-bootstrap-2-pseudo{EFFECT_PSEUDO_PEOPLE}"


def basis(item: Intervention, interventions: Sequence[Intervention], options: Options) -> str:
    """A digest of what an estimate's figures follow from: the investment, the days, the treated departments, the
    departments other interventions reached in its windows (they leave the comparison), the options, the estimator;
    not the kind, cost, owner or note."""
    treated = sorted(item.target_departments or [])
    others = overlapping(item, interventions, _windows(item, options))
    reached = sorted({d for o in others for d in (o.target_departments or ["(all)"])} - set(treated))
    key = [item.investment, item.date, item.last_day, treated, reached, asdict(options), ESTIMATOR]
    return hashlib.sha256(json.dumps(key, default=str, sort_keys=True).encode()).hexdigest()[:16]


def _windows(item: Intervention, options: Options) -> Windows:
    return Windows.around(item.date, item.last_day, options.window_days)


def write_effects(
    con: duckdb.DuckDBPyConnection,
    interventions: Sequence[Intervention],
    as_of: date,
    options: Options,
    *,
    freeze: bool = True,
) -> list[Effect]:
    """Make the table hold one row per intervention as of `as_of` (one transaction): the figures of a frozen row of
    the same basis, else an estimate. Returns the effects estimated.

    `freeze=False` (the pipeline is still storing a backlog: the windows may be missing days a coverage over 28 days
    cannot see) writes rows with figures unfrozen, to be estimated again (`lacks_days`)."""
    bases = {item.id: basis(item, interventions, options) for item in interventions}
    cur = con.execute(f"SELECT * FROM {TABLE} WHERE list_contains(?, verdict) AND basis IS NOT NULL", [list(_FINAL)])
    names = [d[0] for d in cur.description]
    figures: dict[str, dict[str, Any]] = {}  # basis -> the figures it gave
    for values in cur.fetchall():
        figures.setdefault(values[names.index("basis")], dict(zip(names, values, strict=True)))
    todo: dict[str, str] = {}  # basis -> the one intervention estimated for it
    for item in interventions:
        if bases[item.id] not in figures:
            todo.setdefault(bases[item.id], item.id)
    try:
        effects = estimate_all(con, interventions, as_of, options, only=set(todo.values())) if todo else []
    except AlignmonError as exc:  # an investment the database's catalog tables do not hold yet
        log.error("intervention effects not estimated (intervention_effects keeps its rows): %s", exc)
        return []
    for e in effects:
        row = e.row()
        final = e.verdict in _FINAL and freeze
        figures[bases[e.intervention]] = {**row, **_lists(e), "basis": bases[e.intervention] if final else None}
    sizes = dict(con.execute("SELECT department, count(*) FROM directory GROUP BY ALL").fetchall())
    currencies = dict(con.execute("SELECT investment, currency FROM catalog_investments").fetchall())
    rows = []
    for item in interventions:
        others = overlapping(item, interventions, _windows(item, options))
        rows.append(_row(item, figures[bases[item.id]], others=others, sizes=sizes, k=options.k, currencies=currencies))
    with transaction(con):
        con.execute(f"DELETE FROM {TABLE}")
        if rows:
            columns = ", ".join(f'"{c}"' for c in _COLUMNS)
            con.executemany(
                f"INSERT INTO {TABLE} ({columns}) VALUES ({', '.join('?' * len(_COLUMNS))})", [list(r) for r in rows]
            )
    return effects


def _lists(e: Effect) -> dict[str, str]:
    """The department lists as the table holds them (`_row` names only those of k people or more)."""
    return {"departments": ", ".join(e.departments), "comparison_departments": ", ".join(e.comparison_departments)}


def _row(
    item: Intervention,
    figures: Mapping[str, Any],
    *,
    others: Sequence[Intervention],
    sizes: Mapping[str, int],
    k: int,
    currencies: Mapping[str, str],
) -> tuple[Any, ...]:
    """The table's row of `item` (COLUMNS, then the basis) from the figures of its basis: its own id, kind, cost and
    overlapping interventions; the cost per additional active user from its cost; departments under k today not
    named."""
    row = {**figures, "intervention": item.id, "kind": item.kind, "cost": item.cost}
    row["overlaps"] = ", ".join(o.id for o in others)
    row["currency"] = (item.currency or currencies.get(item.investment)) if item.cost is not None else None
    for name in ("departments", "comparison_departments"):
        row[name] = ", ".join(_named(str(row[name] or "").split(", "), sizes, k))
    interval = (row["effect"], row["effect_low"], row["effect_high"])
    row.update(cost_per_additional_user(item.cost, row["verdict"], interval, row["treated_people"]))
    return tuple(row[c] for c in _COLUMNS)


def _named(departments: Iterable[str], sizes: Mapping[str, int], k: int) -> list[str]:
    return [d for d in departments if d and sizes.get(d, 0) >= k]


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
