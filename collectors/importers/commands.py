"""`alignmon import …`: turn ActivityWatch exports, WhatPulse databases and osquery logs into usage events."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO

HELP = {
    "activitywatch": (
        "ActivityWatch export files (aw-buckets-export.json, from the web UI or /api/0/export): focus time = "
        "window events while not AFK, per host, split at midnight in --tz. Needs --user."
    ),
    "whatpulse": (
        "WhatPulse SQLite databases (whatpulse.db, either schema): one focus span per application and hour. "
        "Its hours are the computer's local time: pass that computer's zone as --tz. "
        "Needs --user and --device."
    ),
    "osquery": (
        "osquery result or snapshot logs (JSON lines, event/snapshot/batch format): launch evidence from the "
        "apps, process_events, userassist, prefetch and processes tables. The user comes from a username/uid "
        "column, else --user; the device from hostIdentifier, else --device."
    ),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "import",
        help="Import telemetry people already have (ActivityWatch, WhatPulse, osquery) as usage events.",
        description="Convert existing telemetry into validated usage events, written as NDJSON. A bad record "
        "is reported on stderr as file:record: message and never stops the import; re-importing a file "
        "gives the same event ids. Exits 1 when records were rejected and no event was imported.",
    )
    kinds = parser.add_subparsers(dest="import_kind", metavar="SOURCE", required=True)
    for kind, text in HELP.items():
        p = kinds.add_parser(kind, help=text.split(":")[0], description=text)
        p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="File(s) to import.")
        p.add_argument(
            "--user", help="User name for records that do not name one (ActivityWatch, WhatPulse)."
        )
        p.add_argument(
            "--device", help="Device id for records that do not name one (required for WhatPulse)."
        )
        p.add_argument(
            "--tz",
            default="UTC",
            metavar="ZONE",
            help="IANA time zone of local times and of the midnight split (default: UTC).",
        )
        p.add_argument(
            "--out", type=Path, metavar="FILE", help="Write events as NDJSON here (default: standard output)."
        )
        p.set_defaults(handler=_run)


def _write(events: list[bytes], stream: IO[bytes]) -> None:
    for line in events:
        stream.write(line + b"\n")


def _run(args: argparse.Namespace) -> int:
    from collectors.importers.service import import_paths  # noqa: PLC0415

    result = import_paths(args.import_kind, args.paths, user=args.user, device=args.device, tz=args.tz)
    lines = [event.to_json_bytes() for event in result.events]
    if args.out is None:
        _write(lines, sys.stdout.buffer)
        sys.stdout.flush()
    else:
        with args.out.open("wb") as out:
            _write(lines, out)
    for error in result.errors:
        print(error, file=sys.stderr)
    summary = f"imported {len(result.events)} events from {result.files} files"
    print(f"{summary}, {len(result.errors)} records rejected", file=sys.stderr)
    return 1 if result.errors and not result.events else 0
