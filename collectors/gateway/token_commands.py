"""`alignmon tokens issue|rotate|revoke|list`: device tokens for the gateway, one device or a fleet from a CSV."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collectors.gateway.tokens import IssuedToken, TokenStore

    Run = Callable[[TokenStore, list[str], Callable[[list[IssuedToken]], None]], list[IssuedToken]]

# Kept in step with collectors.gateway.tokens, which imports pydantic (the device id rule) and SQLite: every
# `alignmon --help` would load them. test_the_help_states_the_defaults_and_the_cli_agrees_with_the_store checks.
DEFAULT_EXPIRES_DAYS = 365
DEFAULT_GRACE_DAYS = 7
EXPIRING_DAYS = 30
MAX_DAYS = 3650


def _days(text: str, *, least: float) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not least <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"{text} days is out of range: give {'more than 0' if least else '0 or more'}, up to {MAX_DAYS}"
        )
    return days


def _expiry_days(text: str) -> float:
    return _days(text, least=1 / 1440)  # a minute at least: 0 would issue a token already expired


def _grace_days(text: str) -> float:
    return _days(text, least=0)


def _add_fleet_arguments(parser: argparse.ArgumentParser, source: argparse._ActionsContainer) -> None:
    """--from (added to `source`: the parser or a group), --out, --force and --expires-in."""
    source.add_argument(
        "--from",
        type=Path,
        metavar="DEVICES.csv",
        dest="source",
        help="a CSV with a 'device' column (the device ids the agents send: --device, else the host name): all its "
        "devices in one transaction, or none when a line is wrong",
    )
    parser.add_argument(
        "--out",
        "--output",
        type=Path,
        metavar="TOKENS.csv",
        help="with --from: write 'device,token,expires_at' (+ the other columns of --from) here, readable by its "
        "owner only (0600); the tokens are shown nowhere else",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing --out file (never done without it)")
    parser.add_argument(
        "--expires-in",
        type=_expiry_days,
        default=DEFAULT_EXPIRES_DAYS,
        metavar="DAYS",
        help=f"the new tokens expire this many days after issue (default {DEFAULT_EXPIRES_DAYS}, at most {MAX_DAYS})",
    )


def register(tokens_parent: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = tokens_parent.add_parser(
        "tokens",
        help="issue, rotate, revoke or list device tokens for the gateway",
        description="Device tokens authenticate agents and importers at the gateway. Only a SHA-256 hash of each "
        "token is stored (in ALIGNMON_TOKEN_DB), with its device and expiry; the token itself is shown once, at "
        "issue: on standard output for one device, in the --out file for a fleet (--from). Handing tokens to "
        "endpoints (Intune, Jamf, Ansible): docs/enrolment.md.",
    )
    tokens.add_argument("--db", type=Path, help="token database (default: ALIGNMON_TOKEN_DB)")
    actions = tokens.add_subparsers(dest="tokens_action", metavar="ACTION", required=True)

    issue = actions.add_parser(
        "issue",
        help="new tokens for a device or a CSV of devices (replacing their old ones at once)",
        description="Issue a new random token for DEVICE and print it on standard output, once; or, with --from, "
        "for every device of a CSV, written to --out. Any earlier token of those devices stops working at once "
        "(to keep it working while the new one is handed out, use `tokens rotate`).",
    )
    issue.add_argument("device", metavar="DEVICE", nargs="?", help="the device id its events carry in device_id")
    _add_fleet_arguments(issue, issue)
    issue.set_defaults(handler=_issue)

    rotate = actions.add_parser(
        "rotate",
        help="new tokens for devices, their old ones still valid for a grace period",
        description="Issue a new token for --device (printed on standard output, once) or for every device of "
        "--from (written to --out), while each device's current token keeps working for --grace days (never past "
        "its own expiry), so the new ones can be handed out first. A device needs an unrevoked token to rotate.",
    )
    one_or_fleet = rotate.add_mutually_exclusive_group(required=True)
    one_or_fleet.add_argument("--device", help="the device id whose token to rotate")
    _add_fleet_arguments(rotate, one_or_fleet)
    rotate.add_argument(
        "--grace",
        type=_grace_days,
        default=DEFAULT_GRACE_DAYS,
        metavar="DAYS",
        help=f"the old token stays valid this many days (default {DEFAULT_GRACE_DAYS}; 0 stops it now)",
    )
    rotate.set_defaults(handler=_rotate)

    revoke = actions.add_parser(
        "revoke",
        help="revoke a device's token",
        description="Revoke DEVICE's token, and an older one still in a grace period: the gateway refuses them at "
        "once.",
    )
    revoke.add_argument("device", metavar="DEVICE", help="the device id")
    revoke.set_defaults(handler=_revoke)

    listing = actions.add_parser(
        "list",
        help="list devices and their tokens' state",
        description="List each device's current token and any older one still in its grace period: device, "
        f"created, expires, state (active; expiring: within {EXPIRING_DAYS} days; expired; revoked; superseded: "
        "replaced by a rotation, valid until its expiry; with --all also replaced: replaced and no longer valid). "
        "Never the token or its hash. Times are UTC; a token "
        "issued before tokens expired has no expiry ('never' in the table, empty in CSV).",
    )
    listing.add_argument(
        "--format", choices=("table", "csv"), default="table", help="a table for people, or CSV (default table)"
    )
    listing.add_argument(
        "--all", action="store_true", help="also tokens replaced earlier and out of their grace period"
    )
    listing.set_defaults(handler=_list)


def _token_db(args: argparse.Namespace) -> Path:
    if args.db is not None:
        return Path(args.db)
    from base.settings import Settings  # noqa: PLC0415

    return Settings().token_db


def _store(args: argparse.Namespace, *, create: bool = True) -> TokenStore:
    """The token database; only issuing creates one (a mistyped --db must not list or revoke in a new, empty one)."""
    from base.errors import AlignmonError  # noqa: PLC0415
    from collectors.gateway.tokens import TokenStore  # noqa: PLC0415

    path = _token_db(args)
    if not create and not path.exists():
        raise AlignmonError(
            f"no token database at {path}: name the gateway's with --db or ALIGNMON_TOKEN_DB (or ALIGNMON_STATE_DIR)"
        )
    return TokenStore(path)


def _fleet(args: argparse.Namespace, done: str, run: Run) -> int:
    """Issue or rotate (`run`) the tokens of --from's devices into --out; `done` says which."""
    from base.errors import AlignmonError  # noqa: PLC0415
    from collectors.gateway.enrolment import issue_to_file, load_devices  # noqa: PLC0415

    if args.out is None:
        raise AlignmonError("--from needs --out TOKENS.csv: the tokens are written only there, never printed")
    devices = load_devices(args.source)  # a wrong line stops here, before the database or --out is touched
    store = _store(args)
    try:
        issued = issue_to_file(
            devices,
            args.out,
            lambda ids, before_commit: run(store, ids, before_commit),
            force=args.force,
        )
    finally:
        store.close()
    expires = issued[0].expires_at.isoformat(timespec="seconds")
    print(
        f"{args.out}: {len(issued):,} tokens {done}, expiring {expires}; only this file holds them (0600); "
        f"the gateway must use the token database {_token_db(args)}"
    )
    return 0


def _single_only(args: argparse.Namespace) -> None:
    from base.errors import AlignmonError  # noqa: PLC0415

    if args.out is not None or args.force:
        raise AlignmonError("--out and --force go with --from DEVICES.csv; one device's token is printed")


def _issue(args: argparse.Namespace) -> int:
    from base.errors import AlignmonError  # noqa: PLC0415

    expires_in = timedelta(days=args.expires_in)
    if (args.device is None) == (args.source is None):
        raise AlignmonError("give one DEVICE, or --from DEVICES.csv --out TOKENS.csv for many")
    if args.source is not None:
        return _fleet(
            args,
            "issued",
            lambda store, ids, before: store.issue_many(ids, expires_in=expires_in, before_commit=before),
        )
    _single_only(args)
    store = _store(args)
    try:
        token = store.issue(args.device, expires_in=expires_in)
    finally:
        store.close()
    print(token)
    print(
        f"token issued for device {args.device.strip()!r} in {_token_db(args)}: store it now, it is not shown again",
        file=sys.stderr,
    )
    return 0


def _rotate(args: argparse.Namespace) -> int:
    grace, expires_in = timedelta(days=args.grace), timedelta(days=args.expires_in)
    if args.source is not None:
        done = f"rotated (the old ones work {args.grace:g} days more at most)"
        return _fleet(
            args,
            done,
            lambda store, ids, before: store.rotate(ids, grace=grace, expires_in=expires_in, before_commit=before),
        )
    _single_only(args)
    store = _store(args)
    try:
        (issued,) = store.rotate([args.device], grace=grace, expires_in=expires_in)
        until = store.now() + grace
    finally:
        store.close()
    print(issued.token)
    print(
        f"token rotated for device {issued.device_id!r}: store it now, it is not shown again; the old one works "
        f"until {_when(until)} at the latest",
        file=sys.stderr,
    )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from base.errors import AlignmonError  # noqa: PLC0415

    store = _store(args, create=False)
    try:
        revoked = store.revoke(args.device)
    finally:
        store.close()
    if not revoked:
        raise AlignmonError(f"device {args.device!r} has no active token (see `alignmon tokens list`)")
    print(f"revoked the token of device {args.device!r}")
    return 0


def _list(args: argparse.Namespace) -> int:
    import csv  # noqa: PLC0415

    store = _store(args, create=False)
    try:
        rows = store.list(history=args.all)
        now = store.now()
    finally:
        store.close()
    lines = [(r.device_id, _when(r.issued_at), _when(r.expires_at), str(r.state(now))) for r in rows]
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("device", "created", "expires", "state"))
        writer.writerows(lines)
        return 0
    width = max([len("DEVICE"), *(len(line[0]) for line in lines)])
    print(f"{'DEVICE':{width}}  {'CREATED':20}  {'EXPIRES':20}  STATE")
    for device, created, expires, state in lines:
        print(f"{device:{width}}  {created:20}  {expires or 'never':20}  {state}")
    return 0


def _when(moment: datetime | None) -> str:
    """A UTC time as `tokens list` shows it (ISO 8601, to the second); empty for none."""
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
