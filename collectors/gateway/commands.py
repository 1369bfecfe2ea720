"""`alignmon gateway` (the HTTP ingestion service), `alignmon tokens issue|revoke|list` (device tokens) and
`alignmon directory pseudonymise` (HR's directory as the pipeline may read it): the side that holds the key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gateway = sub.add_parser(
        "gateway",
        help="run the HTTP ingestion gateway (devices -> Kafka)",
        description="Serve POST /v1/events (JSON array or NDJSON, optionally gzip; 'Authorization: Bearer "
        "<device token>'), GET /healthz and GET /metrics. Events are validated, user names pseudonymised "
        "with ALIGNMON_PSEUDONYM_SECRET, titles dropped unless ALIGNMON_TITLES_ENABLED, departments added "
        "from ALIGNMON_DIRECTORY_CSV, and produced to ALIGNMON_TOPIC on ALIGNMON_KAFKA_BOOTSTRAP. While Kafka "
        "is unreachable events are spooled to ALIGNMON_SPOOL_DIR and replayed in order when it returns.",
    )
    gateway.add_argument("--host", help="listen address (default: ALIGNMON_GATEWAY_HOST)")
    gateway.add_argument("--port", type=int, help="listen port (default: ALIGNMON_GATEWAY_PORT)")
    gateway.set_defaults(handler=_gateway)

    tokens = sub.add_parser(
        "tokens",
        help="issue, revoke or list device tokens for the gateway",
        description="Device tokens authenticate agents and importers at the gateway. Only a SHA-256 hash "
        "of each token is stored (in ALIGNMON_TOKEN_DB); the token itself is printed once, at issue.",
    )
    tokens.add_argument("--db", type=Path, help="token database (default: ALIGNMON_TOKEN_DB)")
    actions = tokens.add_subparsers(dest="tokens_action", metavar="ACTION", required=True)
    issue = actions.add_parser(
        "issue",
        help="print a new token for a device (replaces its old one)",
        description="Print a new random token for DEVICE on standard output, once. Any earlier token of "
        "the device stops working.",
    )
    issue.add_argument("device", metavar="DEVICE", help="the device id its events carry in device_id")
    issue.set_defaults(handler=_issue)
    revoke = actions.add_parser("revoke", help="revoke a device's token", description="Revoke DEVICE's token.")
    revoke.add_argument("device", metavar="DEVICE", help="the device id")
    revoke.set_defaults(handler=_revoke)
    actions.add_parser(
        "list", help="list devices and their token state", description="List devices, issue and revoke times."
    ).set_defaults(handler=_list)

    directory = sub.add_parser(
        "directory",
        help="pseudonymise the HR directory for the pipeline (run where the key is)",
        description="The pipeline never reads real names: it loads ALIGNMON_DIRECTORY_CSV only when every user "
        "there is a pseudonym. Convert HR's 'user,department' export here, on the gateway side that holds "
        "ALIGNMON_PSEUDONYM_SECRET, and give the pipeline the output.",
    )
    directory_actions = directory.add_subparsers(dest="directory_action", metavar="ACTION", required=True)
    pseudonymise = directory_actions.add_parser(
        "pseudonymise",
        help="write IN's users as the gateway's pseudonyms to OUT",
        description="Read IN (a 'user,department' CSV of logins as the endpoints send them, checked line by line) "
        "and write OUT with each user replaced by its keyed pseudonym (ALIGNMON_PSEUDONYM_SECRET), sorted, "
        "readable by its owner only (0600). Users that already are pseudonyms stay as they are.",
    )
    pseudonymise.add_argument("source", metavar="IN", type=Path, help="HR's directory CSV")
    pseudonymise.add_argument("target", metavar="OUT", type=Path, help="the pseudonymised CSV to write")
    pseudonymise.set_defaults(handler=_pseudonymise)


def _token_db(args: argparse.Namespace) -> Path:
    if args.db is not None:
        return Path(args.db)
    from base.settings import Settings  # noqa: PLC0415

    return Settings().token_db


def _issue(args: argparse.Namespace) -> int:
    from collectors.gateway.tokens import TokenStore  # noqa: PLC0415

    store = TokenStore(_token_db(args))
    try:
        token = store.issue(args.device)
    finally:
        store.close()
    print(token)
    print(f"token issued for device {args.device.strip()!r}: store it now, it is not shown again", file=sys.stderr)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from base.errors import AlignmonError  # noqa: PLC0415
    from collectors.gateway.tokens import TokenStore  # noqa: PLC0415

    store = TokenStore(_token_db(args))
    try:
        revoked = store.revoke(args.device)
    finally:
        store.close()
    if not revoked:
        raise AlignmonError(f"device {args.device!r} has no active token (see `alignmon tokens list`)")
    print(f"revoked the token of device {args.device!r}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from collectors.gateway.tokens import TokenStore  # noqa: PLC0415

    store = TokenStore(_token_db(args))
    try:
        rows = store.list()
    finally:
        store.close()
    print(f"{'DEVICE':32} {'STATE':8} {'ISSUED':32} REVOKED")
    for row in rows:
        state = "revoked" if row.revoked_at else "active"
        print(f"{row.device_id:32} {state:8} {row.issued_at:32} {row.revoked_at or '-'}")
    return 0


def _gateway(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    from base.settings import Settings  # noqa: PLC0415
    from collectors.gateway.app import create_app  # noqa: PLC0415
    from collectors.gateway.server import Limits, uvicorn_config  # noqa: PLC0415
    from collectors.gateway.service import GatewayService  # noqa: PLC0415
    from collectors.gateway.workers import Supervisor, slots_in_use, worker_count  # noqa: PLC0415

    settings = Settings()
    host = args.host or settings.gateway_host
    port = args.port if args.port is not None else settings.gateway_port
    workers = max(worker_count(settings), slots_in_use(settings.spool_dir))
    if workers > 1:
        GatewayService.check_settings(settings)  # a bad key or directory: one error here, not one per worker
        print(
            f"alignmon gateway on http://{host}:{port} ({workers} workers) -> Kafka {settings.kafka_bootstrap} "
            f"topic {settings.topic}"
        )
        return Supervisor(settings, host, port, workers, verbose=args.verbose).run()
    service = GatewayService.from_settings(settings)
    print(f"alignmon gateway on http://{host}:{port} -> Kafka {settings.kafka_bootstrap} topic {settings.topic}")
    uvicorn.Server(uvicorn_config(create_app(service), host, port, Limits.from_settings(settings))).run()
    return 0


def _pseudonymise(args: argparse.Namespace) -> int:
    import os  # noqa: PLC0415

    from base.directory import load_directory, to_csv  # noqa: PLC0415
    from base.errors import AlignmonError  # noqa: PLC0415
    from base.settings import Settings  # noqa: PLC0415

    directory = load_directory(args.source, Settings().pseudonym_key())
    try:
        fd = os.open(args.target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(to_csv(directory))
    except OSError as exc:
        raise AlignmonError(f"cannot write {args.target}: {exc.strerror or exc}") from exc
    print(f"{args.target}: {len(directory):,} people in {len(directory.departments)} departments, as pseudonyms")
    return 0
