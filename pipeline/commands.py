"""`alignmon sql` and `alignmon export`: the analysts' read-only side of the pipeline's data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.results import add_output_arguments

if TYPE_CHECKING:
    import duckdb


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = sub.add_parser(
        "sql",
        help="run a query on the analysts' database",
        description="Runs SQL, read-only, on the analysts' database the pipeline publishes (ALIGNMON_SNAPSHOT_PATH): "
        "k-safe figures only, no per-person row (docs/analysts.md lists every table); it never blocks ingestion. "
        "Every column and every row of the result is written (--max-rows to cap the rows): a table on a terminal, "
        "CSV when standard output is a pipe or a file (scripts: choose with --format).",
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
    q.add_argument(
        "--max-rows",
        type=_count,
        metavar="N",
        help="write at most N rows (default: all); when the result has more, standard error says so",
    )
    add_output_arguments(
        q,
        "table (aligned columns, numbers rounded to 6 significant digits, for people), csv (a header line, values "
        "whole, NULL as an empty field), json (an array of objects, NULL as null) or markdown (a table for documents)",
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
            print(f"{target}: {con.execute(f'SELECT count(*) FROM {view}').fetchone()[0]:,} row(s)")  # type: ignore[index]
    finally:
        con.close()
    return 0


# What the analysts' database holds instead of each per-person table of the pipeline's file.
_INSTEAD = {
    "events": "ingest_totals (events per source and kind) or usage_daily",
    "usage_user_daily": "usage_daily (use per day, application and department)",
    "directory": "department_adoption (people per target department)",
    "rejected_events": "rejected_events_summary (rejected events per field that was wrong)",
}


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of rows (0 or more): {text!r}")
    return int(text)


def _sql(args: argparse.Namespace) -> int:
    import re  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import duckdb  # noqa: PLC0415

    from base.errors import AlignmonError  # noqa: PLC0415
    from pipeline.results import Column, Rows, destination, reader_gone, write  # noqa: PLC0415

    try:
        statements = len(duckdb.extract_statements(args.query))
    except duckdb.Error as exc:
        raise AlignmonError(str(exc)) from exc
    if statements != 1:  # DuckDB would run them all and show the last result only
        raise AlignmonError(
            'the query holds no SQL statement: give one, e.g. alignmon sql "SELECT * FROM adoption_current"'
            if statements == 0
            else f"the query holds {statements} SQL statements: give one at a time"
        )
    # The file is checked (and its temporary copy made) before the query runs, once the query itself has passed.
    fmt, target = destination(args.format, args.output, force=args.force)
    try:
        con = _open(args.database)
        try:
            cur = con.execute(args.query)
            columns = [Column(d[0], str(d[1])) for d in cur.description or ()]
            rows = Rows(cur, args.max_rows)
            written = write(columns, rows, fmt, target.stream if target is not None else sys.stdout)
            if target is None:
                sys.stdout.flush()  # a reader gone (`| head`) shows here, not as Python's complaint at exit
        except duckdb.CatalogException as exc:
            private = re.search(
                r"Table with name (events|usage_user_daily|directory|rejected_events) does not", str(exc), re.IGNORECASE
            )
            if private is None:
                raise AlignmonError(str(exc)) from exc
            instead = _INSTEAD[private[1].lower()]
            raise AlignmonError(
                f"{private[1]} holds per-person rows, which the analysts' database never holds: use its k-safe tables "
                f"(docs/analysts.md lists them; here {instead}); per-person rows are the privacy role's, in the "
                "pipeline's own file (docs/privacy.md)"
            ) from exc
        except duckdb.Error as exc:
            raise AlignmonError(str(exc)) from exc
        except OSError as exc:  # writing the result: a full disk, a reader gone
            if target is None:
                raise
            raise AlignmonError(f"cannot write {target.path}: {exc.strerror or exc}") from None
        finally:
            con.close()
        if target is not None:
            target.publish()
    except BrokenPipeError:
        return reader_gone()
    finally:
        if target is not None:
            target.discard()  # nothing left once published; the half-written file when anything failed
    if rows.more:
        print(
            f"alignmon sql: the first {written:,} rows written; the result has more (leave out --max-rows for all)",
            file=sys.stderr,
        )
    if target is not None:
        print(f"{target.path}: {written:,} row(s) ({fmt})")
    return 0
