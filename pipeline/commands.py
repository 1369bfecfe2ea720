"""`alignmon sql` and `alignmon export`: the analysts' read-only side of the pipeline's data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = sub.add_parser(
        "sql",
        help="run a query on the analysts' database",
        description="Runs SQL, read-only, on the analysts' database the pipeline publishes (ALIGNMON_SNAPSHOT_PATH): "
        "k-safe figures only, no per-person row (docs/analysts.md lists every table); it never blocks ingestion.",
    )
    q.add_argument(
        "query",
        help="SQL on the analysts' tables (docs/analysts.md), e.g. \"SELECT name, status, status_reason, "
        'adoption_ratio FROM adoption_current"',
    )
    q.add_argument(
        "--database",
        help="DuckDB file to open instead of the analysts' database (read-only; the pipeline's own file is for the "
        "privacy role, and DuckDB locks it while the pipeline runs)",
    )
    q.set_defaults(handler=_sql)
    e = sub.add_parser(
        "export",
        help="write the analysts' views as Parquet files",
        description="Copies every documented adoption view (docs/analysts.md) from the analysts' database to "
        "DIR/<view>.parquet, "
        "for tools that read Parquet. Only the k-safe views are exported, never the raw per-user tables.",
    )
    e.add_argument("out", type=Path, help="folder for the Parquet files (created if missing)")
    e.add_argument("--database", help="DuckDB file to read instead of the analysts' database (read-only)")
    e.set_defaults(handler=_export)


def _open(database: str | None) -> duckdb.DuckDBPyConnection:
    import duckdb  # noqa: PLC0415

    from base.errors import AlignmonError  # noqa: PLC0415
    from base.settings import Settings  # noqa: PLC0415
    from pipeline.store import connect  # noqa: PLC0415

    path = Path(database) if database else Settings().snapshot_path
    if not path.exists():
        if database:
            raise AlignmonError(f"{path} does not exist")
        raise AlignmonError(f"{path} does not exist yet: the pipeline publishes it once it has run")
    try:
        # DuckDB lets no reader open a file its writer holds: the live file is the pipeline's alone.
        return connect(
            path,
            read_only=True,
            advice="stop it or use the analysts' snapshot (leave out --database, or ALIGNMON_SNAPSHOT_PATH)",
        )
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        raise AlignmonError(f"cannot open {path}: {exc}") from exc


def _export(args: argparse.Namespace) -> int:
    from pipeline.schema import ANALYST_VIEWS  # noqa: PLC0415

    args.out.mkdir(parents=True, exist_ok=True)
    con = _open(args.database)
    try:
        for view in ANALYST_VIEWS:
            target = args.out / f"{view}.parquet"
            con.execute(f"COPY (SELECT * FROM {view}) TO '{target}' (FORMAT parquet)")
            print(f"{target}: {con.execute(f'SELECT count(*) FROM {view}').fetchone()[0]:,} rows")  # type: ignore[index]
    finally:
        con.close()
    return 0


def _sql(args: argparse.Namespace) -> int:
    import re  # noqa: PLC0415

    import duckdb  # noqa: PLC0415

    from base.errors import AlignmonError  # noqa: PLC0415

    con = _open(args.database)
    try:
        rel = con.sql(args.query)
        if rel is not None:
            rel.show(max_rows=200)
    except duckdb.CatalogException as exc:
        private = re.search(
            r"Table with name (events|usage_user_daily|directory|rejected_events) does not", str(exc), re.IGNORECASE
        )
        if private is None:
            raise AlignmonError(str(exc)) from exc
        raise AlignmonError(
            f"{private[1]} holds per-person rows, which the analysts' database never holds: use its k-safe tables "
            "(docs/analysts.md lists them, e.g. usage_daily or ingest_totals); per-person rows are the privacy "
            "role's, in the pipeline's own file (docs/privacy.md)"
        ) from exc
    except duckdb.Error as exc:
        raise AlignmonError(str(exc)) from exc
    finally:
        con.close()
    return 0
