"""`alignmon interventions list|check` and `alignmon impact`: the actions taken, and whether they worked."""

# Handlers import their modules lazily so `alignmon --help` stays fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from base import arguments
from pipeline.results import add_output_arguments

if TYPE_CHECKING:
    from datetime import date

    import duckdb

    from base.settings import Settings
    from pipeline.catalog.catalog import Catalog
    from pipeline.catalog.interventions import Interventions
    from pipeline.results import Format

FORMATS: tuple[Format, ...] = ("table", "csv", "json")
# Bounds a mistyped number meets before it costs an overflow or hours: no window goes back years, and a million
# resamples already take minutes per intervention.
MAX_WINDOW_DAYS = 3650
MAX_RESAMPLES = 1_000_000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "interventions",
        help="List or check the interventions (training, communication...) beside the catalog.",
        description="Work with interventions.yaml in the catalog folder: the actions taken to raise an investment's "
        "adoption, whose effect `alignmon impact` estimates (docs/catalog.md, Interventions).",
    )
    commands = parser.add_subparsers(dest="interventions_command", metavar="ACTION")
    parser.set_defaults(handler=lambda _args: _help(parser))

    check = commands.add_parser(
        "check",
        help="Validate interventions.yaml against the catalog and the directory; every error as file:line: field.",
        description="Validate the interventions file of a catalog folder: its fields, unique ids, investments the "
        "catalog holds, and target departments that are the investment's and (with a directory) the directory's. "
        "Prints a summary and warnings and exits 0, or prints every error (the catalog's too) and exits 1; a folder "
        "without an interventions file is an error.",
    )
    _where(check)
    check.add_argument(
        "--directory",
        type=Path,
        metavar="CSV",
        help="Directory CSV with a 'user,department' header (default: ALIGNMON_DIRECTORY_CSV, if set).",
    )
    check.set_defaults(handler=_check)

    listing = commands.add_parser(
        "list",
        help="List the interventions: id, investment, kind, days, departments, owner, cost, note.",
        description="Print the checked interventions of a catalog folder, one line each, in file order.",
    )
    _where(listing)
    listing.set_defaults(handler=_list)

    impact = sub.add_parser(
        "impact",
        help="Estimate each intervention's effect on adoption (difference-in-differences, with an interval).",
        description="For each intervention in interventions.yaml: the change in the treated departments' adoption "
        "ratio from the window before to the window after it, minus the same change in the investment's untreated "
        "target departments, with a seeded bootstrap interval over people within departments, the pre-period trend "
        "difference (parallel-trends check), the cost per additional active user, and a verdict: effect, "
        "no_detectable_effect, or not_estimable with its reason (docs/metrics.md, Effect of an intervention). Reads "
        "the pipeline's own DuckDB file (per-person daily rollups, the privacy role's): stop the pipeline, or give a "
        "copy with --database. Prints k-safe figures only: no group under k.",
    )
    impact.add_argument(
        "--database",
        type=Path,
        metavar="FILE",
        help="The pipeline's DuckDB file, opened read-only (default: ALIGNMON_DUCKDB_PATH).",
    )
    impact.add_argument(
        "--catalog", type=Path, metavar="DIR", help="Catalog folder or file (default: ALIGNMON_CATALOG_DIR)."
    )
    impact.add_argument(
        "--interventions",
        type=Path,
        metavar="FILE",
        help="Interventions file (default: interventions.yaml in the catalog folder).",
    )
    impact.add_argument(
        "--as-of",
        type=arguments.day,
        metavar="DATE",
        help="Estimate as of this day, YYYY-MM-DD: no data after it is read (default: ALIGNMON_AS_OF, else the "
        "pipeline's last as-of day, else today).",
    )
    from pipeline.domain import rules

    impact.add_argument(
        "--window",
        type=_window,
        default=rules.EFFECT_WINDOW_DAYS,
        metavar="DAYS",
        help=f"Days in each window, before and after, 1 to {MAX_WINDOW_DAYS:,} (default: {rules.EFFECT_WINDOW_DAYS}).",
    )
    impact.add_argument(
        "--level",
        type=_level,
        default=rules.EFFECT_LEVEL,
        help=f"Confidence level of the intervals, between 0 and 1 (default: {rules.EFFECT_LEVEL:g}).",
    )
    impact.add_argument(
        "--resamples",
        type=_resamples,
        default=rules.EFFECT_RESAMPLES,
        metavar="N",
        help=f"Bootstrap resamples, 1 to {MAX_RESAMPLES:,} (default: {rules.EFFECT_RESAMPLES}).",
    )
    impact.add_argument(
        "--seed",
        type=_seed,
        default=rules.EFFECT_SEED,
        help=f"Bootstrap seed, a whole number; same data and seed, same intervals (default: {rules.EFFECT_SEED}).",
    )
    add_output_arguments(
        impact,
        "table (a block per intervention, for people), csv (every figure, a row per intervention) or json (the "
        "options and every figure)",
        FORMATS,
    )
    impact.set_defaults(handler=_impact)


def _whole(text: str, what: str, least: int | None = None, most: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or (least is not None and value < least) or (most is not None and value > most):
        bounds = f" from {least:,} to {most:,}" if least is not None and most is not None else ""
        raise argparse.ArgumentTypeError(f"not a {what}{bounds}: {text!r}")
    return value


def _window(text: str) -> int:
    return _whole(text, "number of days", 1, MAX_WINDOW_DAYS)


def _resamples(text: str) -> int:
    return _whole(text, "number of resamples", 1, MAX_RESAMPLES)


def _seed(text: str) -> int:
    return _whole(text, "whole number")


def _level(text: str) -> float:
    try:
        level = float(text)
    except ValueError:
        level = 0.0
    if not 0 < level < 1:  # NaN too
        raise argparse.ArgumentTypeError(f"not a confidence level between 0 and 1, e.g. 0.95: {text!r}")
    return level


def _where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", nargs="?", type=Path, metavar="DIR", help="Catalog folder or file (default: ALIGNMON_CATALOG_DIR)."
    )
    parser.add_argument(
        "--file", type=Path, metavar="FILE", help="Interventions file (default: interventions.yaml in DIR)."
    )


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _load(
    settings: Settings,
    catalog_path: Path,
    file: Path | None,
    directory_csv: Path | None = None,
    named: str = "the catalog",
) -> tuple[Catalog, Interventions]:
    """The catalog and its checked interventions; AlignmonError with every located error otherwise (`named`: the
    catalog as the user gave it)."""
    from base.directory import load_directory
    from base.errors import AlignmonError, InvalidFileError
    from pipeline.catalog.commands import _pseudonym_key
    from pipeline.catalog.interventions import interventions_file, load_interventions
    from pipeline.catalog.loader import load_catalog

    errors: list[str] = []
    directory = None
    if directory_csv is not None:
        try:
            directory = load_directory(directory_csv, _pseudonym_key(settings))
        except InvalidFileError as exc:
            errors += [str(issue) for issue in exc.issues]
    try:
        catalog = load_catalog(catalog_path, directory)
    except InvalidFileError as exc:
        errors += [str(issue) for issue in exc.issues]
    if errors:
        raise AlignmonError(f"{named} is not valid:\n" + "\n".join(errors))
    try:
        found = load_interventions(catalog_path, catalog, file)
    except InvalidFileError as exc:
        where = file or interventions_file(catalog_path) or catalog_path
        count = len(exc.issues)
        raise AlignmonError(f"{exc}\n{count} error{'s' if count != 1 else ''} in interventions {where}") from None
    return catalog, found


def _check(args: argparse.Namespace) -> int:
    from base.errors import AlignmonError
    from base.settings import Settings
    from pipeline.catalog.loader import INTERVENTIONS_FILES

    settings = Settings()
    catalog_path: Path = args.dir or settings.catalog_dir
    try:
        _catalog, found = _load(settings, catalog_path, args.file, args.directory or settings.directory_csv)
    except AlignmonError as exc:
        print(exc)
        return 1
    if found.file is None:
        print(f"no interventions file in {catalog_path} ({' or '.join(INTERVENTIONS_FILES)})")
        return 1
    for warning in found.warnings:
        print(warning)
    kinds = Counter(item.kind for item in found.items)
    n, invs = len(found.items), len({item.investment for item in found.items})
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    print(
        f"interventions {found.file} OK: {n} intervention{'s' if n != 1 else ''} on {invs} "
        f"investment{'s' if invs != 1 else ''}" + (f" ({detail})" if detail else "")
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    from base.settings import Settings
    from pipeline.impact.output import listing

    settings = Settings()
    catalog, found = _load(settings, args.dir or settings.catalog_dir, args.file)
    print(listing(found.items, catalog))
    return 0


def _impact(args: argparse.Namespace) -> int:
    import duckdb

    from base.errors import AlignmonError
    from base.settings import Settings
    from pipeline.domain.impact import Options
    from pipeline.impact.estimates import estimate_all
    from pipeline.impact.output import as_csv, as_json, table
    from pipeline.results import destination, reader_gone

    settings = Settings()
    options = Options(
        window_days=args.window, level=args.level, resamples=args.resamples, seed=args.seed, k=settings.k_anonymity
    )
    fmt, target = destination(args.format, args.output, force=args.force, offered=FORMATS)
    try:
        catalog_path: Path = args.catalog or settings.catalog_dir
        named = f"--catalog {catalog_path}" if args.catalog else f"{catalog_path} (ALIGNMON_CATALOG_DIR)"
        if not catalog_path.exists():
            raise AlignmonError(f"{named}: no such folder or file")
        if args.interventions is not None and not args.interventions.exists():
            raise AlignmonError(f"--interventions {args.interventions}: no such file")
        _catalog, found = _load(settings, catalog_path, args.interventions, named=named)
        con = _open(args.database, settings.duckdb_path)
        try:
            last = _last_as_of(con)
            as_of = args.as_of or settings.as_of or last or settings.today()
            if last is not None and as_of > last:  # its days would look known: coverage counts 28 days back
                given = f"--as-of {as_of}" if args.as_of else f"{as_of} (ALIGNMON_AS_OF)"
                raise AlignmonError(
                    f"{given}: the database is computed up to {last}; pick --as-of {last} or earlier, "
                    "or let the pipeline refresh first"
                )
            effects = estimate_all(con, found.items, as_of, options)
        except duckdb.CatalogException as exc:
            raise AlignmonError(
                f"{_database(args.database, settings.duckdb_path)} is not the pipeline's own DuckDB file: "
                f"{_first_line(exc)}"
            ) from exc
        finally:
            con.close()
        if fmt == "csv":
            text = as_csv(effects)
        elif fmt == "json":
            text = as_json(effects, as_of, options)
        else:
            text = table(effects, as_of, options)
        text += "" if text.endswith("\n") else "\n"
        try:
            (target.stream if target is not None else sys.stdout).write(text)
            if target is None:
                sys.stdout.flush()  # a reader gone (`| head`) shows here, not as Python's complaint at exit
        except OSError as exc:  # a full disk
            if target is None:
                raise
            raise AlignmonError(f"cannot write {target.path}: {exc.strerror or exc}") from None
        if target is not None:
            target.publish()
    except BrokenPipeError:
        return reader_gone()
    finally:
        if target is not None:
            target.discard()  # nothing left once published; the half-written file when anything failed
    if target is not None:
        n = len(effects)
        print(f"{target.path}: {n:,} intervention{'s' if n != 1 else ''} ({fmt})")
    return 0


def _database(given: Path | None, default: Path) -> str:
    """The pipeline's file as the user named it: with the option, or with the setting it came from."""
    return f"--database {given}" if given is not None else f"{default} (ALIGNMON_DUCKDB_PATH)"


def _open(given: Path | None, default: Path) -> duckdb.DuckDBPyConnection:
    """The pipeline's DuckDB file, read-only; one line naming --database (or the setting) when it cannot be."""
    import duckdb

    from base.errors import AlignmonError
    from pipeline.store import connect

    path, named = given or default, _database(given, default)
    if not path.exists():
        advice = "" if given else ": run the pipeline first, or name its file with --database"
        raise AlignmonError(f"{named}: no such file{advice}")
    if path.is_dir():
        raise AlignmonError(f"{named} is a folder: name the pipeline's DuckDB file")
    try:
        return connect(path, advice="stop the pipeline, or give a copy of its file with --database", read_only=True)
    except duckdb.Error as exc:  # not a DuckDB file (a lock another process holds is DatabaseInUseError)
        raise AlignmonError(f"{named} cannot be opened as a DuckDB file: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    """DuckDB's message without the hints and the query excerpt it adds on the following lines."""
    return str(exc).strip().splitlines()[0]


def _last_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The as-of day of the pipeline's last refresh, if any."""
    row = con.execute("SELECT as_of FROM refresh_state").fetchone()
    return row[0] if row else None
