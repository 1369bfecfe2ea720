"""`alignmon pipeline` and `alignmon refresh`: the pipeline process and one refresh, wired by the shell."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from base import arguments

if TYPE_CHECKING:
    from base.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pipeline",
        help="consume usage events from Kafka into DuckDB and serve /metrics",
        description="The single writer of the DuckDB file (ALIGNMON_DUCKDB_PATH). Reads the usage topic, drops "
        "duplicate event ids, dead-letters invalid events (rejected_events table and the dead-letter topic), "
        "keeps daily rollups, serves Prometheus metrics (and /healthz, /readyz) on ALIGNMON_EXPORTER_PORT and "
        "publishes a read-only "
        "snapshot for analysts every ALIGNMON_SNAPSHOT_INTERVAL_S seconds. With ALIGNMON_LAKE_URL it writes closed "
        "days to the lake and a new (or lost) file is rebuilt from it first (docs/lake.md); with ALIGNMON_STANDBY=1 "
        "several pipelines share the lake and only the holder of the writers' lease writes, the others wait to take "
        "over (docs/operations.md, Standby pipelines). At start it waits while the file is held by another process or "
        "Kafka does not answer (logged once a minute). SIGTERM or Ctrl-C stops after the batch in flight, with exit "
        "status 0.",
    )
    p.add_argument("--as-of", type=arguments.day, help="compute adoption as of this day (YYYY-MM-DD) instead of today")
    p.set_defaults(handler=_pipeline)
    r = sub.add_parser(
        "refresh",
        help="recompute the adoption figures once, e.g. as of a past day",
        description="Opens the pipeline's DuckDB file (ALIGNMON_DUCKDB_PATH; stop the pipeline first, DuckDB has one "
        "writer), reloads the catalog and directory, recomputes every figure as of --as-of (default today), "
        "publishes the analysts' snapshot and prints each investment's figures. Same data and day: same figures.",
    )
    r.add_argument(
        "--as-of", type=arguments.day, help="the as-of day, YYYY-MM-DD (default: ALIGNMON_AS_OF, else today)"
    )
    r.set_defaults(handler=_refresh)


def _settings(args: argparse.Namespace) -> Settings:
    from base.settings import Settings  # noqa: PLC0415

    return Settings(as_of=args.as_of) if args.as_of else Settings()


def _pipeline(args: argparse.Namespace) -> int:
    from alignmon.process import run_until_signal  # noqa: PLC0415

    run_until_signal(_settings(args))
    return 0


def _refresh(args: argparse.Namespace) -> int:
    import duckdb  # noqa: PLC0415

    from alignmon.analysts import ANALYSTS_OBJECTS  # noqa: PLC0415
    from alignmon.process import caught_up, open_store, refresh_all  # noqa: PLC0415
    from base.directory import load_directory  # noqa: PLC0415
    from base.errors import AlignmonError  # noqa: PLC0415
    from pipeline.catalog import load_catalog  # noqa: PLC0415
    from pipeline.impact.published import interventions_for  # noqa: PLC0415
    from pipeline.snapshot import publish  # noqa: PLC0415

    settings = _settings(args)
    try:
        store = open_store(settings)
    except duckdb.IOException as exc:
        raise AlignmonError(
            f"cannot open {settings.duckdb_path} for writing (is the pipeline running?): {exc}"
        ) from exc
    try:
        # Like the pipeline: a directory of pseudonyms, no key.
        directory = load_directory(settings.directory_csv, None) if settings.directory_csv else None
        catalog = load_catalog(settings.catalog_dir, directory)
        as_of = settings.today()
        took = refresh_all(
            store.con,
            catalog,
            as_of,
            settings.k_anonymity,
            silent_days=settings.silent_days,
            interventions=interventions_for(settings.catalog_dir, catalog),
            freeze=caught_up(store.con),  # records left in Kafka: the effects' windows may lack days yet
        )
        publish(store.con, settings.snapshot_path, ANALYSTS_OBJECTS)
        store.con.sql(
            "SELECT investment, status, round(adoption_ratio, 3) AS adoption, round(planned_ratio, 3) AS planned, "
            "mau, population, round(wasted_spend) AS wasted_spend, currency FROM adoption_current ORDER BY investment"
        ).show(max_rows=500)
        print(f"figures as of {as_of} computed in {took:.2f}s; snapshot {settings.snapshot_path}")
    finally:
        store.close()
    return 0
