"""`alignmon privacy ...`: the privacy role's commands; `pack` writes the works-council and DPO pack."""

# Handlers import their modules lazily so `alignmon --help` stays fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `privacy` group and its actions (each action is one `add_parser` on `actions` below)."""
    from alignmon.privacy.inventory import names

    parser = sub.add_parser(
        "privacy",
        help="Privacy role: the works-council pack (and data-subject commands).",
        description="What the privacy role and the works council need: a description of the running configuration "
        "(docs/privacy.md).",
    )
    actions = parser.add_subparsers(dest="privacy_command", metavar="ACTION")
    parser.set_defaults(handler=lambda _args: _help(parser))

    pack = actions.add_parser(
        "pack",
        help="Write the works-council and DPO pack (Markdown and HTML) of the running configuration.",
        description="Describe the running configuration for a works council and a data protection officer: what is "
        "collected and what never is (from the event contract), the purposes (the catalog's objectives), the "
        "recipients per role, retention, pseudonymisation and key custody, the data flows, the rights procedure, a "
        "DPIA outline and an employee notice. Reads the ALIGNMON_* settings, the catalog and the alert thresholds; "
        "writes DIR/privacy-pack.md and DIR/privacy-pack.html. Never writes the pseudonym key.",
    )
    pack.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the two files (created)")
    pack.add_argument(
        "--catalog", type=Path, metavar="DIR", help="catalog folder or file (default: ALIGNMON_CATALOG_DIR)"
    )
    pack.add_argument(
        "--collector",
        action="append",
        default=[],
        choices=names(),
        dest="collectors",
        help="a collector deployed on the endpoints, marked as in use; repeat for several (the server cannot "
        "see them; undeclared ones are listed as not declared)",
    )
    pack.add_argument(
        "--contact",
        default="the data protection officer",
        help="whom people ask about their data, as the notice names it (default: %(default)s)",
    )
    pack.set_defaults(handler=_pack)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _pack(args: argparse.Namespace) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from alignmon.privacy import pack, render
    from base.settings import Settings
    from metrics import thresholds
    from pipeline.catalog.loader import load_catalog

    settings = Settings()
    catalog_dir: Path = args.catalog or settings.catalog_dir
    built = pack.build(
        settings,
        load_catalog(catalog_dir),
        thresholds.load(),
        now=datetime.now(ZoneInfo(settings.timezone)),
        catalog_dir=catalog_dir,
        declared=frozenset(args.collectors),
        contact=args.contact,
    )
    for path in render.write(built, args.out):
        print(path)
    for warning in built.warnings:
        print(f"warning: {warning}")
    return 0
