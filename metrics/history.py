"""The exporter's figures as they were on past days, recomputed on a working copy of the pipeline's database.

Each past day D gets exactly what the live exporter would have published after a refresh as of D: the pipeline's own
refresh (`pipeline.refresh.refresh`, the one home of every docs/metrics.md rule, k-anonymity included) brings the
copy's figure tables to D, and the exporter's own collector (`PipelineCollector.figures`) reads them. The copy is
private (pipeline.working_copy), so the live file is never written and the refresh may rewrite what it likes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from types import TracebackType

import duckdb
from prometheus_client.core import Metric

from metrics.exporter import PipelineCollector
from pipeline.catalog import Catalog
from pipeline.refresh import refresh
from pipeline.retention import kept_until
from pipeline.schema import migrate


class History:
    """Past days' figure families of one working copy (`with History.open(...) as h: h.families(day)`)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        catalog: Catalog,
        today: date,
        *,
        k: int,
        silent_days: int,
        sources: Sequence[str],
    ) -> None:
        self.con, self.catalog, self.k, self.silent_days = con, catalog, k, silent_days
        self.collector = PipelineCollector(con.cursor, sources=sources)
        # As the pipeline would now: days with events stored since its last refresh are recomputed first, so each
        # day's refresh below finds the daily series complete and only rewrites the figures of its day.
        refresh(con, catalog, today, k, silent_days)

    @classmethod
    def open(
        cls,
        copy: Path,
        catalog: Catalog,
        today: date,
        *,
        k: int,
        silent_days: int,
        sources: Sequence[str],
        memory_limit: str | None = None,
    ) -> History:
        """Open a working copy (schema brought to this version, as the pipeline's Store would)."""
        con = duckdb.connect(str(copy))
        try:
            con.execute("SET TimeZone = 'UTC'")  # as the Store's connection: day boundaries never follow the host
            if memory_limit:
                con.execute(f"SET memory_limit = '{memory_limit}'")
            migrate(con, copy)
            return cls(con, catalog, today, k=k, silent_days=silent_days, sources=sources)
        except BaseException:
            con.close()
            raise

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def first_day(self) -> date | None:
        """The first day of the usage history (per-person daily rollups); None when there is none."""
        row = self.con.execute("SELECT min(day) FROM usage_user_daily").fetchone()
        return row[0] if row else None

    def recomputable_from(self) -> date | None:
        """The first day whose figures can still be recomputed (its 28-day window kept its rollups), if limited."""
        kept = kept_until(self.con)
        return kept + timedelta(days=1) if kept is not None else None

    def families(self, day: date) -> list[Metric]:
        """The figure families the exporter would have published on `day` (refreshed as of that day)."""
        refresh(self.con, self.catalog, day, self.k, self.silent_days)
        return self.collector.figures()
