"""Adoption refresh: catalog and directory into DuckDB, daily adoption series, current figures.

The heavy counting (distinct users over sliding windows) is SQL over the incremental
`usage_user_daily` rollup (`pipeline.figures.series`, queries in pipeline/sql/); the rules of docs/metrics.md
(plan curve, status with hysteresis, forecast, trend, attainment, k-anonymity) are the pure functions of
`pipeline.domain`, applied per investment (`pipeline.figures.current`, `pipeline.figures.attainment`).
Only days from the earliest day touched by new data are recomputed, so a refresh costs what the
new data costs, not what the history costs.
"""

from __future__ import annotations

import time
from datetime import date

import duckdb

from pipeline.catalog import Catalog
from pipeline.domain.rules import K_ANONYMITY
from pipeline.figures import fleet, series
from pipeline.figures.catalog_sync import map_new_apps, sync_catalog
from pipeline.figures.current import current_figures, write_current

__all__ = ["refresh", "sync_catalog"]


def refresh(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    as_of: date,
    k: int = K_ANONYMITY,
    silent_days: int = fleet.SILENT_DAYS,
) -> float:
    """Bring adoption_series up to `as_of` and rewrite the current figures and the collectors' health; returns
    seconds taken."""
    began = time.perf_counter()
    # The views and the collectors' counts suppress groups under refresh_state.k: they must hide what this refresh's
    # k hides, from the start.
    con.execute("UPDATE refresh_state SET k = ?", [k])
    fleet.update(con, as_of, silent_days)  # devices report whatever the catalog holds
    map_new_apps(con, catalog)
    first = series.first_day(con, as_of)
    if first is None:
        return 0.0
    series.update(con, first, as_of, k)
    write_current(con, current_figures(con, as_of, k=k), catalog, as_of, k)
    return time.perf_counter() - began
