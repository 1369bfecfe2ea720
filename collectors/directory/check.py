"""Which users of a file of usage events match no directory row: the directory's ids against the collectors'.

The directory's `user` column must hold exactly what the collectors send as `user` (the agent: the OS login or
`--user`; an importer: the record's user or `--user`). Both sides are compared as the pipeline sees them, as keyed
pseudonyms: a pseudonym stays as it is, any other name is pseudonymised (stripped and case-folded first).
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import IO, NamedTuple

from pydantic import ValidationError

from base.errors import AlignmonError
from base.pseudonym import PSEUDONYM
from collectors.event import EARLIEST, MAX_FUTURE, UsageEvent

# Which users sent events is the question, not when: any start the contract's form allows is read.
_ANY_TIME = {"earliest": EARLIEST, "latest": datetime.max.replace(tzinfo=UTC), "max_future": MAX_FUTURE}
_GZIP_MAGIC = b"\x1f\x8b"
EXPECTED = "one usage event (a JSON object) per line, as `alignmon simulate --ndjson` and `alignmon import --out` write"


class UserEvents(NamedTuple):
    """One user as the events carry it (a login or a pseudonym) and how many events carry it."""

    user: str
    events: int
    hint: str | None = None


@dataclass(frozen=True)
class EventUsers:
    """Events per user in one file of usage events (optionally only those from a day on)."""

    source: str
    counts: Mapping[str, int]
    skipped: int = 0  # events before --since

    @property
    def pseudonyms(self) -> int:
        """How many of the users are pseudonyms already (events that went through the gateway's policy)."""
        return sum(1 for user in self.counts if PSEUDONYM.fullmatch(user))


@dataclass(frozen=True)
class UserMatch:
    """The users of a file of events against a directory: how many match, and those that do not."""

    users: int
    events: int
    unmatched: tuple[UserEvents, ...]  # most events first, then by user

    @property
    def unmatched_events(self) -> int:
        return sum(u.events for u in self.unmatched)


def read_event_users(stream: IO[bytes], source: str, since: date | None = None, tz: tzinfo = UTC) -> EventUsers:
    """Count events per user in NDJSON usage events (gzip or not); raises AlignmonError naming the first bad line.

    With `since`, events that start before that day (in `tz`) are skipped and counted apart.
    """
    head = stream.peek(2)[:2] if isinstance(stream, io.BufferedReader) else b""
    lines: Iterable[bytes] = gzip.GzipFile(fileobj=stream) if head == _GZIP_MAGIC else stream
    counts: Counter[str] = Counter()
    skipped = bad = 0
    first_bad: str | None = None
    number = 0
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = UsageEvent.model_validate_json(line, context=_ANY_TIME)
            except ValidationError as exc:
                bad += 1
                first_bad = first_bad or f"{source}:{number}: {_problem(exc)}"
                continue
            if since is not None and event.start.astimezone(tz).date() < since:
                skipped += 1
                continue
            counts[event.user] += 1
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or damaged gzip file
        raise AlignmonError(f"{source}:{number + 1}: cannot read: {exc}") from None
    if first_bad is not None:
        raise AlignmonError(f"{first_bad} ({bad:,} bad of {number:,} lines); expected {EXPECTED}")
    if skipped and not counts:
        raise AlignmonError(f"{source}: no event starts on or after {since} ({skipped:,} start before it)")
    if not counts:
        raise AlignmonError(f"{source}: holds no events; expected {EXPECTED}")
    return EventUsers(source, dict(counts), skipped)


def _problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    if error["type"] == "json_invalid":
        return f"not JSON ({error['msg'].removeprefix('Invalid JSON: ')})"
    field = ".".join(str(part) for part in error["loc"]) or "(event)"
    return f"not a usage event: {field}: {error['msg']}"


def match_users(counts: Mapping[str, int], members: Collection[str], pseudonym: Callable[[str], str]) -> UserMatch:
    """The users of `counts` whose pseudonym is not in `members` (the directory's pseudonyms), most events first.

    A user that is a pseudonym already is compared as it is; a login that matches once its domain part
    (`CORP\\ann`, `ann@example.org`) is dropped gets a hint saying so.
    """
    unmatched = []
    for user, events in counts.items():
        if _pseudonym_of(user, pseudonym) in members:
            continue
        unmatched.append(UserEvents(user, events, _hint(user, members, pseudonym)))
    unmatched.sort(key=lambda u: (-u.events, u.user))
    return UserMatch(len(counts), sum(counts.values()), tuple(unmatched))


def _pseudonym_of(user: str, pseudonym: Callable[[str], str]) -> str:
    return user if PSEUDONYM.fullmatch(user) else pseudonym(user)


def _hint(user: str, members: Collection[str], pseudonym: Callable[[str], str]) -> str | None:
    """Why a login may miss: it matches a row once its Windows domain or e-mail domain is dropped."""
    if PSEUDONYM.fullmatch(user):
        return None
    bare = user.strip()
    if "\\" in bare:
        domain, short = bare.rsplit("\\", 1)
        dropped = domain + "\\"
    elif "@" in bare:
        short, domain = bare.split("@", 1)
        dropped = "@" + domain
    else:
        return None
    if short and pseudonym(short) in members:
        return f"matches '{short}': the directory's user ids have no '{dropped}'"
    return None
