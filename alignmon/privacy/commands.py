"""`alignmon privacy ...`: the privacy role's commands: the works-council pack, and data-subject access and erasure."""

# Handlers import their modules lazily so `alignmon --help` stays fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `privacy` group and its actions (each action is one `add_parser` on `actions` below)."""
    from alignmon.privacy.inventory import names

    parser = sub.add_parser(
        "privacy",
        help="Privacy role: the works-council pack, and data-subject access and erasure.",
        description="What the privacy role and the works council need: a description of the running configuration, "
        "and one person's data on request (access and erasure, audited); docs/privacy.md.",
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
    pack.add_argument(
        "--out", "--output", type=Path, required=True, metavar="DIR", help="folder for the two files (created)"
    )
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

    for action, verb, about in (
        ("subject", "access", "Print every stored row about one person as JSON (GDPR art. 15)"),
        (
            "erase",
            "erase",
            "Delete every stored telemetry row about one person and recompute their days (GDPR art. 17)",
        ),
    ):
        cmd = actions.add_parser(
            action,
            help=about + ".",
            description=about + ". USER is the name as the endpoints send it (OS login, or the agent's --user); "
            "the command pseudonymises it with ALIGNMON_PSEUDONYM_SECRET, so it runs where the key is. It works on "
            "the pipeline's file (ALIGNMON_DUCKDB_PATH): directly when the pipeline is stopped, else through the "
            "running pipeline. Every use is written to the privacy_audit table (who, when, what).",
        )
        cmd.add_argument("user", metavar="USER", help="the person's user name, as their endpoints report it")
        cmd.add_argument(
            "--timeout", type=float, default=120.0, help="seconds to wait for a running pipeline (default: %(default)s)"
        )
        cmd.set_defaults(handler=_subject_handler(verb))


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


def _writes_a_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the pipeline's file has written days to a lake (pipeline.lake.publisher's table holds any)."""
    from pipeline.database import has_table

    if not has_table(con, "lake_days"):
        return False
    days = con.execute("SELECT count(*) FROM lake_days").fetchone()
    return bool(days and days[0])


def _subject_handler(action: str) -> Callable[[argparse.Namespace], int]:
    return lambda args: _subject(args, action)


def _subject(args: argparse.Namespace, action: str) -> int:
    import getpass
    import json
    import sys
    from datetime import timedelta

    from alignmon.process import open_lake, requests_folder
    from alignmon.stack.stack import KAFKA_RETENTION_DAYS
    from base.errors import AlignmonError, DatabaseInUseError
    from base.pseudonym import pseudonymise
    from base.settings import Settings
    from pipeline.lake.rebuild import superseded
    from pipeline.requests import RequestFolder
    from pipeline.schema import migrate
    from pipeline.store import connect
    from pipeline.subject import perform

    settings = Settings()
    pseudonym = pseudonymise(args.user, settings.pseudonym_key())
    actor = getpass.getuser()
    if not settings.duckdb_path.exists():
        where = (
            " (a standby that has never written keeps no file: run this on the machine of the pipeline that writes)"
            if settings.standby
            else ""
        )
        raise AlignmonError(f"{settings.duckdb_path} does not exist: no pipeline has stored anything there{where}")
    try:
        con = connect(settings.duckdb_path, advice="")
    except DatabaseInUseError:  # the pipeline runs: it carries the request out between batches
        folder = RequestFolder(requests_folder(settings))
        result = folder.ask(
            action, pseudonym, actor, args.timeout, lambda: print("asking the running pipeline…", file=sys.stderr)
        )
    else:
        try:
            migrate(con)
            lake = open_lake(settings)
            if lake is not None and settings.standby and superseded(con, lake):
                raise AlignmonError(
                    f"{settings.duckdb_path} is behind the lake (another pipeline writes it now): run this on the "
                    "machine of the pipeline that writes, which answers it and erases in the lake"
                )
            if lake is None and _writes_a_lake(con):
                raise AlignmonError(
                    f"{settings.duckdb_path} writes its older raw events to a lake, but ALIGNMON_LAKE_URL is not set: "
                    f"the {action} would miss the person's rows there. Set it (and the S3 keys) as the pipeline does"
                )
            result = perform(con, action, pseudonym, actor, lake)
        finally:
            con.close()
    if action == "access":
        print(json.dumps({"user": args.user, "pseudonym": pseudonym, "rows": result}, indent=2, default=str))
        return 0
    days = min(settings.raw_retention_days, KAFKA_RETENTION_DAYS)
    gone_by = settings.today() + timedelta(days=days)
    lake = result.get("lake")
    in_lake = (  # the lake's copies overlap the file's (the hot days): counted apart, not added
        f" (the lake's copies: {lake['events']:,} raw events and {lake['usage_user_daily']:,} daily rows)"
        if lake
        else ""
    )
    print(
        f"erased {result['events']:,} raw events, {result['usage_user_daily']:,} daily rows, "
        f"{result['device_daily']:,} device days and "
        f"{result['rejected_events']:,} rejected records{in_lake} about {args.user} "
        f"({pseudonym}); the figures are recomputed at the next refresh. Copies in Kafka expire with the topic's "
        f"retention ({days} days with the local stack's settings): gone by {gone_by}."
    )
    return 0
