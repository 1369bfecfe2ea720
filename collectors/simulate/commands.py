"""`alignmon simulate`: write the synthetic fleet's directory, catalog and backfill events."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from base import arguments
from base.errors import AlignmonError

DEFAULT_SEED = 42

if TYPE_CHECKING:
    from collectors.simulate.organisation import Organisation


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `simulate` command."""
    parser = sub.add_parser(
        "simulate",
        help="Generate a deterministic synthetic fleet: directory, catalog and backfill events.",
        description="Generate a seeded synthetic organisation (departments, users, devices, a catalog with "
        "investments that tell known stories) and its usage events for the days ending at --as-of. "
        "Writes directory.csv and catalog.yaml (and interventions.yaml with --intervention) to --out-dir and the "
        "events as NDJSON (one UsageEvent per line) to --ndjson; progress goes to stderr. Same seed, scale and "
        "as-of day: same output, same ids.",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"Random seed (default: {DEFAULT_SEED}).")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="Multiply department sizes (users) by this factor (default: 1).",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=28,
        help="Days of events to generate, ending at --as-of (default: 28; 0: none).",
    )
    parser.add_argument(
        "--as-of",
        dest="as_of",
        type=arguments.day,
        default=None,
        help="The simulation's as-of day, YYYY-MM-DD (default: ALIGNMON_AS_OF, else today in the "
        "organisation's time zone). "
        "Catalog dates are relative to it.",
    )
    parser.add_argument(
        "--tz",
        default=None,
        help="The organisation's time zone, e.g. Europe/Amsterdam (default: ALIGNMON_TIMEZONE).",
    )
    parser.add_argument(
        "--out-dir",
        dest="out_dir",
        type=Path,
        default=None,
        help="Where directory.csv and catalog.yaml are written (default: <ALIGNMON_STATE_DIR>/simulate).",
    )
    parser.add_argument(
        "--ndjson", default="-", help="File for the events as NDJSON; '-' for stdout (default: stdout)."
    )
    parser.add_argument(
        "--pseudonymise",
        action="store_true",
        help="Replace user names by the gateway's keyed pseudonyms (ALIGNMON_PSEUDONYM_SECRET, or the dev "
        "key with ALIGNMON_DEV_MODE=1), for events that bypass the gateway; directory.csv then holds the "
        "pseudonyms too, as the pipeline reads it.",
    )
    parser.add_argument(
        "--intervention",
        dest="interventions",
        action="append",
        default=[],
        metavar="INVESTMENT:DEPARTMENTS:DAY:POINTS[:KIND[:COST]]",
        help="Play out an intervention with a known effect (repeatable): from DAY (YYYY-MM-DD, or days from the "
        "as-of day such as -28) on, POINTS percentage points more of each of DEPARTMENTS ('+' between them) adopt "
        "the simulated INVESTMENT than its story alone makes adopt (0: a placebo; negative: fewer). KIND (default "
        "training) and COST go into the interventions.yaml written beside catalog.yaml, e.g. "
        "inv-crm-rollout:Sales:-28:20:training:12000.",
    )
    parser.add_argument(
        "--to-kafka",
        dest="to_kafka",
        action="store_true",
        help="Send the events straight to Kafka (ALIGNMON_KAFKA_BOOTSTRAP, ALIGNMON_TOPIC) instead of NDJSON: the "
        "bulk path. Events are pseudonymised and given departments exactly as the gateway would.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write directory.csv, catalog.yaml and the backfill events."""
    from base.settings import Settings  # noqa: PLC0415 - lazy: keep `alignmon --help` fast
    from collectors.simulate.interventions import parse_intervention, with_unique_ids  # noqa: PLC0415
    from collectors.simulate.organisation import Organisation  # noqa: PLC0415
    from collectors.simulate.population import DEPARTMENTS  # noqa: PLC0415
    from collectors.simulate.stories import STORIES  # noqa: PLC0415

    settings = Settings()
    tz = args.tz or settings.timezone
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise AlignmonError(f"unknown time zone {tz!r} (use an IANA name such as Europe/Amsterdam)") from None
    if args.scale <= 0:
        raise AlignmonError(f"--scale must be positive, got {args.scale}")
    if args.days < 0:
        raise AlignmonError(f"--days must be 0 or more, got {args.days}")
    as_of = args.as_of or settings.as_of or datetime.now(zone).date()
    # Exactly the gateway's key; the events bypass the gateway, so the directory is the pseudonymised one too.
    key = settings.pseudonym_key() if args.pseudonymise or args.to_kafka else None

    try:
        names = [d.name for d in DEPARTMENTS]
        interventions = with_unique_ids([parse_intervention(t, as_of, STORIES, names) for t in args.interventions])
    except ValueError as exc:
        raise AlignmonError(f"--intervention {exc}") from None
    org = Organisation.build(args.seed, args.scale, as_of, tz=tz, interventions=interventions)
    out_dir: Path = args.out_dir or settings.state_dir / "simulate"
    written = [out_dir / "directory.csv", out_dir / "catalog.yaml"]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        org.write_directory(out_dir / "directory.csv", pseudonymise_with=key)
        org.write_catalog(out_dir / "catalog.yaml")
        if interventions:
            org.write_interventions(out_dir / "interventions.yaml")
            written.append(out_dir / "interventions.yaml")
    except OSError as exc:
        raise AlignmonError(f"cannot write to {out_dir}: {exc}") from exc
    print(
        f"simulate: {len(org.users):,} users in {len(org.departments)} departments; wrote "
        f"{', '.join(map(str, written[:-1]))} and {written[-1]} (as-of {as_of})",
        file=sys.stderr,
    )
    if args.days == 0:
        return 0
    if args.to_kafka:
        from base.kafka_security import KafkaSecurity  # noqa: PLC0415
        from collectors.granularity import coarsen_rows  # noqa: PLC0415
        from collectors.publish import publish  # noqa: PLC0415

        security = KafkaSecurity.from_settings(settings)
        sent = 0
        for n, day in enumerate(days := org.backfill_days(args.days), start=1):
            rows = org.dicts_for_day(day, pseudonymise_with=key, with_department=True)
            coarse = coarsen_rows(rows, settings.time_granularity, zone)
            sent += publish(settings.kafka_bootstrap, settings.topic, coarse, security=security)
            print(f"day {n}/{len(days)}: {sent:,} events acknowledged by Kafka", file=sys.stderr)
        return 0
    if args.ndjson == "-":
        total = write_ndjson(org, args.days, sys.stdout, key)
    else:
        path = Path(args.ndjson)
        try:
            with path.open("w", encoding="utf-8") as out:
                total = write_ndjson(org, args.days, out, key)
        except OSError as exc:
            raise AlignmonError(f"cannot write events to {path}: {exc}") from exc
    print(f"simulate: {total:,} events for {args.days} days", file=sys.stderr)
    return 0


def write_ndjson(
    org: Organisation, days: int, out: TextIO, key: bytes | None = None, progress: TextIO | None = None
) -> int:
    """Write the backfill as NDJSON, one day at a time, reporting each day (default: to stderr)."""
    progress = progress or sys.stderr
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    total = 0
    day_list = org.backfill_days(days)
    for n, day in enumerate(day_list, start=1):
        lines = [encode(row) for row in org.dicts_for_day(day, pseudonymise_with=key)]
        if lines:
            out.write("\n".join(lines))
            out.write("\n")
        total += len(lines)
        print(f"day {n}/{len(day_list)}: {len(lines):,} events", file=progress)
    return total
