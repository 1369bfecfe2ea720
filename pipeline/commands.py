"""`alignmon pipeline` and `alignmon sql`."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from alignmon.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pipeline",
        help="consume usage events from Kafka into DuckDB and serve /metrics",
        description="The single writer of the DuckDB file (ALIGNMON_DUCKDB_PATH). Reads the usage topic, drops "
        "duplicate event ids, dead-letters invalid events (rejected_events table and the dead-letter topic), "
        "keeps daily rollups, serves Prometheus metrics on ALIGNMON_EXPORTER_PORT and publishes a read-only "
        "snapshot for analysts every ALIGNMON_SNAPSHOT_INTERVAL_S seconds. Ctrl-C stops after the batch in flight.",
    )
    p.add_argument("--as-of", type=_day, help="compute adoption as of this day (YYYY-MM-DD) instead of today")
    p.set_defaults(handler=_pipeline)
    r = sub.add_parser(
        "refresh",
        help="recompute the adoption figures once, e.g. as of a past day",
        description="Opens the pipeline's DuckDB file (ALIGNMON_DUCKDB_PATH; stop the pipeline first, DuckDB has one "
        "writer), reloads the catalog and directory, recomputes every figure as of --as-of (default today), "
        "publishes the analysts' snapshot and prints each investment's figures. Same data and day: same figures.",
    )
    r.add_argument("--as-of", type=_day, help="the as-of day, YYYY-MM-DD (default: ALIGNMON_AS_OF, else today)")
    r.set_defaults(handler=_refresh)
    q = sub.add_parser(
        "sql",
        help="run a query on the analysts' read-only snapshot",
        description="Runs SQL on the snapshot (ALIGNMON_SNAPSHOT_PATH) read-only, so it never blocks ingestion.",
    )
    q.add_argument("query", help='SQL, e.g. "SELECT * FROM events LIMIT 5"')
    q.add_argument(
        "--database",
        help="DuckDB file to open instead of the snapshot (read-only; not the live file while the pipeline runs: "
        "DuckDB locks it)",
    )
    q.set_defaults(handler=_sql)
    e = sub.add_parser(
        "export",
        help="write the analysts' views as Parquet files",
        description="Copies every documented analyst view (docs/analysts.md) from the snapshot to DIR/<view>.parquet, "
        "for tools that read Parquet. Only the k-safe views are exported, never the raw per-user tables.",
    )
    e.add_argument("out", type=Path, help="folder for the Parquet files (created if missing)")
    e.add_argument("--database", help="DuckDB file to read instead of the snapshot (read-only)")
    e.set_defaults(handler=_export)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None


def _settings(args: argparse.Namespace) -> Settings:
    from alignmon.settings import Settings  # noqa: PLC0415

    return Settings(as_of=args.as_of) if args.as_of else Settings()


def _pipeline(args: argparse.Namespace) -> int:
    from pipeline.service import Pipeline, run_until_signal  # noqa: PLC0415

    run_until_signal(Pipeline.from_settings(_settings(args)))
    return 0


def _refresh(args: argparse.Namespace) -> int:
    import duckdb  # noqa: PLC0415

    from alignment import views  # noqa: PLC0415
    from alignmon.errors import AlignmonError  # noqa: PLC0415
    from pipeline.catalog import load_catalog, load_directory  # noqa: PLC0415
    from pipeline.refresh import refresh, sync_catalog  # noqa: PLC0415
    from pipeline.snapshot import publish  # noqa: PLC0415
    from pipeline.store import Store  # noqa: PLC0415

    settings = _settings(args)
    try:
        store = Store(settings.duckdb_path, settings.timezone, settings.duckdb_memory_limit)
    except duckdb.IOException as exc:
        raise AlignmonError(
            f"cannot open {settings.duckdb_path} for writing (is the pipeline running?): {exc}"
        ) from exc
    try:
        key = settings.pseudonym_key()
        directory = load_directory(settings.directory_csv, key) if settings.directory_csv else None
        catalog = load_catalog(settings.catalog_dir, directory)
        views.install(store.con)
        sync_catalog(store.con, catalog)
        as_of = settings.today()
        took = refresh(store.con, catalog, as_of, settings.k_anonymity)
        views.refresh(store.con, catalog, as_of)
        publish(store.con, settings.snapshot_path)
        store.con.sql(
            "SELECT investment, status, round(adoption_ratio, 3) AS adoption, round(planned_ratio, 3) AS planned, "
            "mau, population, round(wasted_spend) AS wasted_spend, currency FROM adoption_current ORDER BY investment"
        ).show(max_rows=500)
        print(f"figures as of {as_of} computed in {took:.2f}s; snapshot {settings.snapshot_path}")
    finally:
        store.close()
    return 0


def _open(database: str | None) -> duckdb.DuckDBPyConnection:
    import duckdb  # noqa: PLC0415

    from alignmon.errors import AlignmonError  # noqa: PLC0415
    from alignmon.settings import Settings  # noqa: PLC0415
    from pipeline.store import connect  # noqa: PLC0415

    path = Path(database) if database else Settings().snapshot_path
    if not path.exists():
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
    import duckdb  # noqa: PLC0415

    from alignmon.errors import AlignmonError  # noqa: PLC0415

    con = _open(args.database)
    try:
        rel = con.sql(args.query)
        if rel is not None:
            rel.show(max_rows=200)
    except duckdb.Error as exc:
        raise AlignmonError(str(exc)) from exc
    finally:
        con.close()
    return 0
