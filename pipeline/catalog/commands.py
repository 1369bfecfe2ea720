"""`alignmon catalog ...`: check a catalog folder, and show which application an identifier maps to."""

# Handlers import their modules lazily so `alignmon --help` stays fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from base.settings import Settings
    from pipeline.catalog.catalog import Catalog


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "catalog",
        help="Check the strategy catalog (applications, objectives, initiatives, investments).",
        description="Work with the strategy catalog: a folder of YAML files plus an optional directory CSV.",
    )
    commands = parser.add_subparsers(dest="catalog_command", metavar="ACTION")
    parser.set_defaults(handler=lambda _args: _help(parser))

    check = commands.add_parser(
        "check",
        help="Validate a catalog folder and print a summary, or every error as file:line: field: message.",
        description="Validate every *.yaml/*.yml file in DIR as one catalog (and the directory CSV, if any). "
        "Prints a summary and warnings and exits 0, or prints every error and exits 1. Besides the schema, "
        "these are errors: an empty or comment-only file, a catalog without investments, YAML nested deeper "
        "than 64 levels, and YAML aliases that add more than 100,000 values.",
    )
    check.add_argument(
        "dir",
        nargs="?",
        type=Path,
        metavar="DIR",
        help="Catalog folder or file (default: ALIGNMON_CATALOG_DIR).",
    )
    check.add_argument(
        "--directory",
        type=Path,
        metavar="CSV",
        help="Directory CSV with a 'user,department' header (default: ALIGNMON_DIRECTORY_CSV, if set).",
    )
    check.set_defaults(handler=_check)

    which = commands.add_parser(
        "which",
        help="Show which catalog application a raw identifier (exe name, bundle id, path) maps to.",
        description="Resolve raw application identifiers as the pipeline does and show the rule that won.",
    )
    which.add_argument("identifiers", nargs="+", metavar="IDENTIFIER", help="e.g. ms-teams.exe or /usr/bin/firefox")
    which.add_argument(
        "--catalog", type=Path, metavar="DIR", help="Catalog folder or file (default: ALIGNMON_CATALOG_DIR)."
    )
    which.set_defaults(handler=_which)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _pseudonym_key(settings: Settings) -> bytes:
    from base.pseudonym import DEV_KEY

    # Checking only counts users, so any key gives the same answer; prefer the real one when it is set.
    if settings.pseudonym_secret is not None:
        return settings.pseudonym_secret.get_secret_value().encode()
    return DEV_KEY


def _check(args: argparse.Namespace) -> int:
    from base.directory import load_directory
    from base.errors import InvalidFileError
    from base.settings import Settings
    from pipeline.catalog.errors import CatalogError
    from pipeline.catalog.loader import load_catalog

    settings = Settings()
    catalog_dir: Path = args.dir or settings.catalog_dir
    directory_csv: Path | None = args.directory or settings.directory_csv
    errors: list[str] = []
    directory = None
    if directory_csv is not None:
        try:
            directory = load_directory(directory_csv, _pseudonym_key(settings))
        except InvalidFileError as exc:
            errors += [str(issue) for issue in exc.issues]
    try:
        catalog = load_catalog(catalog_dir, directory)
    except CatalogError as exc:
        errors += [str(issue) for issue in exc.issues]
    if errors:
        print("\n".join(errors))
        print(f"{len(errors)} error{'s' if len(errors) != 1 else ''} in catalog {catalog_dir}")
        return 1
    print(summary(catalog, catalog_dir))
    return 0


def summary(catalog: Catalog, location: Path) -> str:
    """The human summary `alignmon catalog check` prints for a valid catalog."""
    apps = catalog.applications.values()
    orphans = len(catalog.orphan_investments)
    lines = [str(warning) for warning in catalog.warnings]
    files = len(catalog.files)
    lines.append(f"catalog {location} OK ({files} file{'s' if files != 1 else ''})")
    lines.append(f"  applications: {len(catalog.applications)} ({sum(a.sanctioned for a in apps)} sanctioned)")
    lines.append(f"  objectives:   {len(catalog.objectives)}")
    lines.append(f"  initiatives:  {len(catalog.initiatives)}")
    lines.append(f"  investments:  {len(catalog.investments)} ({orphans} tied to no initiative)")
    if catalog.directory is None:
        lines.append("  directory:    none (adoption ratios will be 'unknown')")
    else:
        departments = len(catalog.directory.departments)
        lines.append(f"  directory:    {len(catalog.directory)} users in {departments} departments")
    if catalog.warnings:
        count = len(catalog.warnings)
        lines.append(f"  warnings:     {count}")
    return "\n".join(lines)


def _which(args: argparse.Namespace) -> int:
    from base.settings import Settings
    from pipeline.catalog.loader import load_catalog

    catalog = load_catalog(args.catalog or Settings().catalog_dir)
    unmatched = 0
    for raw in args.identifiers:
        found = catalog.matcher.resolve(raw)
        if found is None:
            unmatched += 1
            print(f"{raw}\t-\t(no rule matches)")
        else:
            print(f"{raw}\t{found.app_id}\t({found.rule}: {found.pattern})")
    return 1 if unmatched else 0
