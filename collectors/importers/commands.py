"""`alignmon import …`: turn ActivityWatch exports, WhatPulse databases and osquery logs into usage events."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from base.arguments import add_gateway_tls
from base.errors import AlignmonError

if TYPE_CHECKING:
    from collectors.event import UsageEvent

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
        description="Convert existing telemetry into validated usage events: written as NDJSON (default), sent to "
        "the gateway like a device would (--to-gateway), or published straight into Kafka after the gateway's "
        "privacy policy (--to-kafka). A bad record is reported on stderr as file:record: message and never stops "
        "the import; re-importing a file gives the same event ids, so the pipeline adds nothing twice. "
        "Exits 1 when records were rejected and no event was imported.",
    )
    kinds = parser.add_subparsers(dest="import_kind", metavar="SOURCE", required=True)
    for kind, text in HELP.items():
        p = kinds.add_parser(kind, help=text.split(":")[0], description=text)
        p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="File(s) to import.")
        p.add_argument("--user", help="User name for records that do not name one (ActivityWatch, WhatPulse).")
        p.add_argument("--device", help="Device id for records that do not name one (required for WhatPulse).")
        p.add_argument(
            "--tz",
            default="UTC",
            metavar="ZONE",
            help="IANA time zone of local times and of the midnight split (default: UTC).",
        )
        where = p.add_mutually_exclusive_group()
        where.add_argument(
            "--out",
            "--output",
            type=Path,
            metavar="FILE",
            help="Write events as NDJSON here (default: standard output).",
        )
        where.add_argument(
            "--to-gateway",
            metavar="URL",
            help="Send the events to the gateway, retried until acknowledged. The device token comes from "
            "--token-file or ALIGNMON_AGENT_TOKEN and must be the token of the events' device.",
        )
        where.add_argument(
            "--to-kafka",
            action="store_true",
            help="Publish straight into Kafka (ALIGNMON_KAFKA_BOOTSTRAP, ALIGNMON_TOPIC) after applying the "
            "gateway's privacy policy (pseudonyms with ALIGNMON_PSEUDONYM_SECRET, titles dropped, departments "
            "from ALIGNMON_DIRECTORY_CSV, times as coarse as ALIGNMON_TIME_GRANULARITY): for bulk imports by an "
            "administrator.",
        )
        p.add_argument("--token-file", type=Path, metavar="FILE", help="File holding the device token.")
        add_gateway_tls(p)
        p.set_defaults(handler=_run, token=None)


def _write(events: list[bytes], stream: IO[bytes]) -> None:
    for line in events:
        stream.write(line + b"\n")


def _run(args: argparse.Namespace) -> int:
    from collectors.importers.service import import_paths  # noqa: PLC0415

    given = [option for option in ("ca_file", "client_cert", "client_key") if getattr(args, option, None) is not None]
    if given and not args.to_gateway:
        options = ", ".join("--" + option.replace("_", "-") for option in given)
        raise AlignmonError(f"{options}: only for sending to the gateway (--to-gateway https://...)")
    result = import_paths(args.import_kind, args.paths, user=args.user, device=args.device, tz=args.tz)
    for error in result.errors:
        print(error, file=sys.stderr)
    summary = f"imported {len(result.events)} events from {result.files} files"
    print(f"{summary}, {len(result.errors)} records rejected", file=sys.stderr)
    if args.to_gateway:
        sent = _to_gateway(result.events, args.to_gateway, args)
        print(f"sent {sent} events to the gateway {args.to_gateway}", file=sys.stderr)
    elif args.to_kafka:
        sent = _to_kafka(result.events)
        print(f"published {sent} events to Kafka", file=sys.stderr)
    else:
        _output([event.to_json_bytes() for event in result.events], args.out)
    return 1 if result.errors and not result.events else 0


def _output(lines: list[bytes], out: Path | None) -> None:
    if out is None:
        _write(lines, sys.stdout.buffer)
        sys.stdout.flush()
    else:
        with out.open("wb") as stream:
            _write(lines, stream)


def _to_gateway(events: list[UsageEvent], url: str, args: argparse.Namespace) -> int:
    """Through a temporary spool and the agent's uploader: the same retries and backoff a device gets."""
    import tempfile  # noqa: PLC0415

    from collectors.spool import Spool  # noqa: PLC0415
    from collectors.tls import ClientTLS  # noqa: PLC0415
    from collectors.uploader import Uploader, UploadTLSError, read_token  # noqa: PLC0415

    token = read_token(args)
    tls = ClientTLS.from_arguments(args)
    tls.check(url)
    with tempfile.TemporaryDirectory(prefix="alignmon-import-") as tmp:
        spool = Spool(Path(tmp))
        try:
            spool.append(event.to_json_bytes() for event in events)
            uploader = Uploader(spool, url, token, tls=tls)
            try:
                sent = uploader.drain(max_attempts=8)
            except UploadTLSError as exc:
                raise AlignmonError(
                    f"{exc.problem}; {spool.depth} events not sent: run the import again once that is fixed (events "
                    "sent twice count once)"
                ) from None
            if spool.depth:
                raise AlignmonError(f"the gateway at {url} did not take {spool.depth} events; nothing was lost, retry")
            return sent
        finally:
            spool.close()


def _to_kafka(events: list[UsageEvent]) -> int:
    from base.kafka_security import KafkaSecurity  # noqa: PLC0415
    from base.settings import Settings  # noqa: PLC0415
    from collectors.policy import PrivacyPolicy  # noqa: PLC0415
    from collectors.publish import publish  # noqa: PLC0415

    settings = Settings()
    policy = PrivacyPolicy.from_settings(settings)
    safe = (clean.model_dump(mode="json", exclude_none=True) for e in events for clean in policy.apply(e))
    return publish(settings.kafka_bootstrap, settings.topic, safe, security=KafkaSecurity.from_settings(settings))
