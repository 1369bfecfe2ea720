"""`alignmon directory pseudonymise` (HR's directory as the pipeline may read it, made where the key is) and
`alignmon directory check` (which users of a file of usage events match no directory row)."""

# Handlers import their modules lazily so `alignmon --help` stays fast.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from base import arguments

if TYPE_CHECKING:
    from datetime import date
    from zoneinfo import ZoneInfo

    from base.directory import Directory
    from base.settings import Settings
    from collectors.directory.check import EventUsers, UserMatch

DEFAULT_TOP = 20


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    directory = sub.add_parser(
        "directory",
        help="pseudonymise the HR directory for the pipeline, or check its user ids against usage events",
        description="The directory ('user,department', ALIGNMON_DIRECTORY_CSV) places people in departments. Its "
        "user ids must be exactly what the collectors send as user, before pseudonymisation: the agent sends the "
        "OS login (or its --user), an importer the record's user (or its --user). The pipeline never reads real "
        "names: it loads the directory only when every user there is a pseudonym, so convert HR's export with "
        "`pseudonymise` on the side that holds ALIGNMON_PSEUDONYM_SECRET, and give the pipeline the output. "
        "`check` lists the users of a file of usage events that match no directory row. See docs/catalog.md.",
    )
    actions = directory.add_subparsers(dest="directory_action", metavar="ACTION", required=True)
    pseudonymise = actions.add_parser(
        "pseudonymise",
        help="write IN's users as the gateway's pseudonyms to OUT",
        description="Read IN (a 'user,department' CSV of logins as the endpoints send them, checked line by line) "
        "and write OUT with each user replaced by its keyed pseudonym (ALIGNMON_PSEUDONYM_SECRET), sorted, "
        "readable by its owner only (0600); an existing OUT is replaced whole (written beside it, then renamed), so a "
        "reader never sees half of it. Users that already are pseudonyms stay as they are.",
    )
    pseudonymise.add_argument("source", metavar="IN", type=Path, help="HR's directory CSV")
    pseudonymise.add_argument("target", metavar="OUT", type=Path, help="the pseudonymised CSV to write")
    pseudonymise.set_defaults(handler=_pseudonymise)

    check = actions.add_parser(
        "check",
        help="list the users of a file of usage events that match no directory row",
        description="Read usage events (one JSON object per line, gzip or not: `alignmon simulate --ndjson`, "
        "`alignmon import --out`) and compare each event's user with the directory's users as the pipeline "
        "will: as keyed pseudonyms, a pseudonym as it is, any other name pseudonymised with "
        "ALIGNMON_PSEUDONYM_SECRET (case and surrounding spaces do not matter). Prints only the users that "
        "match no row, as the events carry them, with their number of events, then one summary line; exits 0 "
        "when every user matches, 1 when some do not or the input is bad. Without the key, logins are compared "
        "with logins and pseudonyms with pseudonyms; comparing one with the other needs the gateway's key.",
    )
    check.add_argument(
        "--events",
        required=True,
        metavar="FILE",
        help="usage events as NDJSON, optionally gzip-compressed; '-' reads standard input",
    )
    check.add_argument(
        "--directory",
        type=Path,
        metavar="CSV",
        help="directory CSV with a 'user,department' header (default: ALIGNMON_DIRECTORY_CSV)",
    )
    check.add_argument(
        "--since",
        type=arguments.day,
        metavar="YYYY-MM-DD",
        help="count only events that start on or after this day (in ALIGNMON_TIMEZONE): recent users, not "
        "people who have left",
    )
    check.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        metavar="N",
        help=f"list at most N unmatched users, most events first (default {DEFAULT_TOP}; 0: the summary only)",
    )
    check.set_defaults(handler=_check)


def _pseudonymise(args: argparse.Namespace) -> int:
    import os

    from base.directory import load_directory, to_csv
    from base.errors import AlignmonError
    from base.settings import Settings

    if Path(args.target).resolve() == Path(args.source).resolve():  # HR's export replaced by its pseudonyms
        raise AlignmonError(f"{args.target} is the directory itself: write the pseudonyms to another file")
    directory = load_directory(args.source, Settings().pseudonym_key())
    target = Path(args.target)
    # Written beside OUT and renamed over it: a gateway or pipeline reading OUT meanwhile (a monthly refresh of the
    # feed) sees the old directory or the new one, never half of one.
    partial = target.with_name(f".{target.name}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(to_csv(directory))
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise AlignmonError(f"cannot write {args.target}: {exc.strerror or exc}") from exc
    print(f"{args.target}: {len(directory):,} people in {len(directory.departments)} departments, as pseudonyms")
    return 0


def _check(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from base.errors import AlignmonError
    from base.pseudonym import pseudonymise
    from base.settings import Settings
    from collectors.directory.check import match_users

    if args.top < 0:
        raise AlignmonError(f"--top must be 0 or more, got {args.top}")
    settings = Settings()
    csv: Path | None = args.directory or settings.directory_csv
    if csv is None:
        raise AlignmonError("no directory to check against: pass --directory CSV or set ALIGNMON_DIRECTORY_CSV")
    users = _read_events(args.events, args.since, ZoneInfo(settings.timezone))
    configured = _configured_key(settings)
    directory, key, has_logins = _load_directory(csv, configured)
    if configured is None:
        _same_kind_or_fail(users, csv, has_logins)
    match = match_users(users.counts, frozenset(directory.members), lambda user: pseudonymise(user, key))
    print(_report(users, csv, directory, match, args.top))
    return 1 if match.unmatched else 0


def _read_events(name: str, since: date | None, tz: ZoneInfo) -> EventUsers:
    from base.errors import AlignmonError
    from collectors.directory.check import read_event_users

    if name == "-":
        return read_event_users(sys.stdin.buffer, "<stdin>", since, tz)
    try:
        with open(name, "rb") as stream:
            return read_event_users(stream, name, since, tz)
    except OSError as exc:
        raise AlignmonError(f"cannot read {name}: {exc.strerror or exc}") from None


def _configured_key(settings: Settings) -> bytes | None:
    """The gateway's key when this side has it (the secret, or the dev key in dev mode); else None."""
    if settings.pseudonym_secret is None and not settings.dev_mode:
        return None
    return settings.pseudonym_key()


def _load_directory(csv: Path, key: bytes | None) -> tuple[Directory, bytes, bool]:
    """The directory as pseudonyms, the key to pseudonymise logins with, and whether the CSV holds logins.

    Without the gateway's key a throwaway one still compares logins with logins (both sides get the same one);
    the file loads without any key only when it holds pseudonyms alone.
    """
    import secrets

    from base.directory import load_directory
    from base.errors import InvalidFileError

    if key is not None:
        return load_directory(csv, key), key, True
    try:
        return load_directory(csv, None), secrets.token_bytes(32), False
    except InvalidFileError:
        throwaway = secrets.token_bytes(32)
        return load_directory(csv, throwaway), throwaway, True


def _same_kind_or_fail(users: EventUsers, csv: Path, has_logins: bool) -> None:
    """Without the key a pseudonym and a login cannot be compared: say so rather than report every user."""
    from base.errors import AlignmonError

    logins = len(users.counts) - users.pseudonyms
    if has_logins and users.pseudonyms:
        carried, held = "pseudonyms", "logins"
    elif not has_logins and logins:
        carried, held = "logins", "pseudonyms"
    else:
        return
    raise AlignmonError(
        f"{users.source} carries {carried} and {csv} holds {held}: comparing them needs the gateway's key; set "
        "ALIGNMON_PSEUDONYM_SECRET as the gateway has it and run again"
    )


def _report(users: EventUsers, csv: Path, directory: Directory, match: UserMatch, top: int) -> str:
    skipped = f" ({users.skipped:,} earlier events skipped)" if users.skipped else ""
    lines = [
        f"{users.source}: {match.events:,} events of {match.users:,} users{skipped}; "
        f"{csv}: {len(directory):,} people in {len(directory.departments)} departments"
    ]
    if not match.unmatched:
        lines.append(f"all {match.users:,} users ({match.events:,} events) match a row of {csv}")
        return "\n".join(lines)
    shown = match.unmatched[:top]
    if shown:
        lines.append("users that match no directory row, most events first:")
        width, digits = max(len(u.user) for u in shown), len(f"{shown[0].events:,}")
        for u in shown:
            hint = f"  ({u.hint})" if u.hint else ""
            lines.append(f"  {u.user:<{width}}  {u.events:>{digits},} events{hint}")
        rest = match.unmatched[top:]
        if rest:
            lines.append(f"  ... and {len(rest):,} more users ({sum(u.events for u in rest):,} events)")
    if users.pseudonyms and len(match.unmatched) == match.users:
        lines.append("no pseudonym matches: is ALIGNMON_PSEUDONYM_SECRET the key the gateway used?")
    lines.append(
        f"{len(match.unmatched):,} of {match.users:,} users ({match.unmatched_events:,} of {match.events:,} events) "
        f"match no row of {csv}: their use counts in no department and no target population"
    )
    return "\n".join(lines)
