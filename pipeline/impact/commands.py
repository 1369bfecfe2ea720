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

if TYPE_CHECKING:
    from datetime import date

    import duckdb

    from base.settings import Settings
    from pipeline.catalog.catalog import Catalog
    from pipeline.catalog.interventions import Interventions


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
        type=int,
        default=rules.EFFECT_WINDOW_DAYS,
        metavar="DAYS",
        help=f"Days in each window, before and after (default: {rules.EFFECT_WINDOW_DAYS}).",
    )
    impact.add_argument(
        "--level",
        type=float,
        default=rules.EFFECT_LEVEL,
        help=f"Confidence level of the intervals (default: {rules.EFFECT_LEVEL:g}).",
    )
    impact.add_argument(
        "--resamples",
        type=int,
        default=rules.EFFECT_RESAMPLES,
        metavar="N",
        help=f"Bootstrap resamples (default: {rules.EFFECT_RESAMPLES}).",
    )
    impact.add_argument(
        "--seed",
        type=int,
        default=rules.EFFECT_SEED,
        help=f"Bootstrap seed; same data and seed, same intervals (default: {rules.EFFECT_SEED}).",
    )
    impact.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="Output format (default: table)."
    )
    impact.add_argument("--out", type=Path, metavar="FILE", help="Write to FILE instead of standard output.")
    impact.set_defaults(handler=_impact)


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
    settings: Settings, catalog_path: Path, file: Path | None, directory_csv: Path | None = None
) -> tuple[Catalog, Interventions]:
    """The catalog and its checked interventions; AlignmonError with every located error otherwise."""
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
        raise AlignmonError("the catalog is not valid:\n" + "\n".join(errors))
    try:
        found = load_interventions(catalog_path, catalog, file)
    except InvalidFileError as exc:
        named = file or interventions_file(catalog_path) or catalog_path
        count = len(exc.issues)
        raise AlignmonError(f"{exc}\n{count} error{'s' if count != 1 else ''} in interventions {named}") from None
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
    from pipeline.store import connect

    settings = Settings()
    try:
        options = Options(
            window_days=args.window,
            level=args.level,
            resamples=args.resamples,
            seed=args.seed,
            k=settings.k_anonymity,
        )
    except ValueError as exc:
        raise AlignmonError(str(exc)) from None
    _catalog, found = _load(settings, args.catalog or settings.catalog_dir, args.interventions)
    path: Path = args.database or settings.duckdb_path
    if not path.exists():
        raise AlignmonError(f"{path} does not exist: run the pipeline first, or name its file with --database")
    con = connect(path, advice="stop the pipeline, or give a copy of its file with --database", read_only=True)
    try:
        as_of = args.as_of or settings.as_of or _last_as_of(con) or settings.today()
        effects = estimate_all(con, found.items, as_of, options)
    except duckdb.CatalogException as exc:
        raise AlignmonError(f"{path} is not an alignmon pipeline database: {exc}") from exc
    finally:
        con.close()
    if args.format == "csv":
        text = as_csv(effects)
    elif args.format == "json":
        text = as_json(effects, as_of, options)
    else:
        text = table(effects, as_of, options)
    if args.out is None:
        print(text, end="" if text.endswith("\n") else "\n")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _last_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The as-of day of the pipeline's last refresh, if any."""
    row = con.execute("SELECT as_of FROM refresh_state").fetchone()
    return row[0] if row else None
