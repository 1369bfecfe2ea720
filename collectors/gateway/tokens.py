"""Device tokens: random bearer tokens, stored only as SHA-256 hashes in SQLite, each with an expiry.

A device has one current token. `issue` replaces it at once; `rotate` keeps the one it replaces valid for a grace
period, so endpoints can be handed the new token while the old one still works. Many devices are issued or rotated
in one transaction (`alignmon tokens issue --from`), thousands a second.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from base.errors import AlignmonError
from collectors.event import check_device_id

SCHEMA_VERSION = 2  # PRAGMA user_version; 0 with a `device_tokens` table is version 1 (no expiry), migrated on open
DEFAULT_EXPIRES_DAYS = 365
DEFAULT_GRACE_DAYS = 7
EXPIRING_DAYS = 30  # `tokens list` shows a token as expiring this long before it expires
MAX_DAYS = 3650

SCHEMA = """
CREATE TABLE tokens (
    token_sha256 TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    superseded_at TEXT
);
CREATE UNIQUE INDEX tokens_current ON tokens (device_id) WHERE superseded_at IS NULL;
CREATE INDEX tokens_by_device ON tokens (device_id, issued_at);
"""
# Times are UTC ISO 8601 with microseconds (`_stamp`), so their text order is their time order in SQL.
# expires_at NULL: a token from version 1, which never expires until rotated. superseded_at: when a newer token of
# the device replaced it; its expires_at was cut to the end of the grace period then.

_COLUMNS = "device_id, issued_at, expires_at, revoked_at, superseded_at"


class TokenState(StrEnum):
    """What `tokens list` says about a token."""

    ACTIVE = "active"
    EXPIRING = "expiring"  # valid, expires within EXPIRING_DAYS
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"  # replaced by a newer token; valid until expires_at (the end of its grace period)
    REPLACED = "replaced"  # replaced by a newer token, and no longer valid (re-issued, or its grace period over)


class TokenInfo(NamedTuple):
    """What the store knows about one token (never the token itself, nor its hash)."""

    device_id: str
    issued_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    superseded_at: datetime | None

    def valid(self, now: datetime) -> bool:
        """Whether the gateway accepts the token at `now`."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def state(self, now: datetime, expiring_within: timedelta = timedelta(days=EXPIRING_DAYS)) -> TokenState:
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.superseded_at is not None:
            valid = self.expires_at is None or now < self.expires_at
            return TokenState.SUPERSEDED if valid else TokenState.REPLACED
        if self.expires_at is not None:
            if now >= self.expires_at:
                return TokenState.EXPIRED
            if now >= self.expires_at - expiring_within:
                return TokenState.EXPIRING
        return TokenState.ACTIVE


class IssuedToken(NamedTuple):
    """A token just issued: the only time the token itself is known."""

    device_id: str
    token: str
    expires_at: datetime


class TokenDatabaseError(AlignmonError):
    """The token database cannot be used (another program's file, or one written by a newer alignmon)."""


class NotRotatableError(AlignmonError):
    """Devices that have no token a rotation could replace; `problems` maps each to the reason."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"device {device!r} {why}" for device, why in self.problems.items()))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _info(row: Sequence[str | None]) -> TokenInfo:
    device_id, issued_at, expires_at, revoked_at, superseded_at = row
    assert device_id is not None and issued_at is not None
    return TokenInfo(
        device_id, datetime.fromisoformat(issued_at), _time(expires_at), _time(revoked_at), _time(superseded_at)
    )


def refusal(info: TokenInfo) -> str:
    """Why the gateway refuses a known, unrevoked token that is past its expiry, and what to do."""
    assert info.expires_at is not None
    rotate = f"alignmon tokens rotate --device {shlex.quote(info.device_id)}"
    where = f"on device {info.device_id!r} (the agent's --token-file or $ALIGNMON_AGENT_TOKEN) and restart the agent"
    replaced = info.superseded_at
    if replaced is None or info.expires_at < replaced:  # it had expired before anything replaced it
        return (
            f"device token expired at {info.expires_at:%Y-%m-%d %H:%M} UTC: ask an admin for a new one ({rotate}) "
            f"and install it {where}"
        )
    if info.expires_at == replaced:
        return (
            f"device token was replaced by a newer one at {replaced:%Y-%m-%d %H:%M} UTC (alignmon tokens issue): "
            f"install the newer token {where}"
        )
    return (
        f"device token expired at {info.expires_at:%Y-%m-%d %H:%M} UTC, the end of the grace period after a newer "
        f"token replaced it on {replaced:%Y-%m-%d}: install the newer token {where} (or ask an admin for another: "
        f"{rotate})"
    )


class TokenStore:
    """Issue, rotate, revoke, list and check device tokens; one current token per device."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = _now) -> None:
        self.path = Path(path)
        self._clock = clock
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _create_private(self.path)
        # Autocommit: every read sees what another process (the CLI) committed, so a revoke applies at once.
        self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        try:
            with self._lock:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise TokenDatabaseError(
                f"{self.path}: not a usable token database ({exc}): check ALIGNMON_TOKEN_DB"
            ) from None
        except BaseException:
            self._db.close()
            raise

    def now(self) -> datetime:
        """The store's clock (the one expiry is checked against)."""
        return self._clock()

    # -- changes ----------------------------------------------------------------------------------

    def issue(self, device_id: str, expires_in: timedelta = timedelta(days=DEFAULT_EXPIRES_DAYS)) -> str:
        """A new token for the device (replacing any earlier one at once); it is returned once and never stored."""
        (issued,) = self.issue_many([device_id], expires_in=expires_in)
        return issued.token

    def issue_many(
        self,
        device_ids: Sequence[str],
        *,
        expires_in: timedelta = timedelta(days=DEFAULT_EXPIRES_DAYS),
        before_commit: Callable[[list[IssuedToken]], None] | None = None,
    ) -> list[IssuedToken]:
        """New tokens for the devices, in one transaction; every earlier token of theirs stops working at once.

        `before_commit` gets the tokens inside the transaction (to write them out): if it raises, nothing changes.
        """
        return self._replace(device_ids, expires_in, None, before_commit)

    def rotate(
        self,
        device_ids: Sequence[str],
        *,
        grace: timedelta = timedelta(days=DEFAULT_GRACE_DAYS),
        expires_in: timedelta = timedelta(days=DEFAULT_EXPIRES_DAYS),
        before_commit: Callable[[list[IssuedToken]], None] | None = None,
    ) -> list[IssuedToken]:
        """New tokens for the devices, in one transaction; each one's current token stays valid for `grace` (never
        beyond its own expiry). Raises NotRotatableError, changing nothing, when a device has no unrevoked token."""
        return self._replace(device_ids, expires_in, grace, before_commit)

    def revoke(self, device_id: str) -> bool:
        """Revoke the device's current token and any older one still in its grace period; False when there was none."""
        with self._lock:
            now = _stamp(self._clock())
            cursor = self._db.execute(
                "UPDATE tokens SET revoked_at = :now WHERE device_id = :device AND revoked_at IS NULL "
                "AND (superseded_at IS NULL OR expires_at > :now)",
                {"now": now, "device": device_id.strip()},
            )
        return cursor.rowcount > 0

    def _replace(
        self,
        device_ids: Sequence[str],
        expires_in: timedelta,
        grace: timedelta | None,
        before_commit: Callable[[list[IssuedToken]], None] | None,
    ) -> list[IssuedToken]:
        if expires_in <= timedelta(0):
            raise AlignmonError(f"a token must expire in the future, not in {expires_in}")
        if grace is not None and grace < timedelta(0):
            raise AlignmonError(f"the grace period cannot be negative ({grace})")
        devices = [check_device_id(device) for device in device_ids]
        if len(set(devices)) != len(devices):
            twice = sorted(device for device, n in Counter(devices).items() if n > 1)
            raise AlignmonError(f"devices listed more than once: {', '.join(map(repr, twice))}")
        with self._lock:
            now = self._clock()
            expires = now + expires_in
            issued = [IssuedToken(device, secrets.token_urlsafe(32), expires) for device in devices]
            with self._transaction():
                issued_at, expires_at, until = _stamp(now), _stamp(expires), _stamp(now + (grace or timedelta(0)))
                if grace is None:
                    # Every earlier token of the device stops now: the current one and any still in a grace period.
                    self._db.executemany(
                        "UPDATE tokens SET superseded_at = COALESCE(superseded_at, :now), expires_at = CASE WHEN "
                        "expires_at IS NULL OR expires_at > :now THEN :now ELSE expires_at END "
                        "WHERE device_id = :device AND (superseded_at IS NULL OR expires_at > :now)",
                        ({"now": issued_at, "device": device} for device in devices),
                    )
                else:
                    self._check_rotatable(devices)
                    self._db.executemany(
                        "UPDATE tokens SET superseded_at = :now, expires_at = CASE WHEN "
                        "expires_at IS NULL OR expires_at > :until THEN :until ELSE expires_at END "
                        "WHERE device_id = :device AND superseded_at IS NULL",
                        ({"now": issued_at, "until": until, "device": device} for device in devices),
                    )
                self._db.executemany(
                    f"INSERT INTO tokens (token_sha256, {_COLUMNS}) VALUES (?, ?, ?, ?, NULL, NULL)",
                    ((hash_token(t.token), t.device_id, issued_at, expires_at) for t in issued),
                )
                if before_commit is not None:
                    before_commit(issued)
        return issued

    def _check_rotatable(self, devices: Sequence[str]) -> None:
        current = dict(self._db.execute("SELECT device_id, revoked_at FROM tokens WHERE superseded_at IS NULL"))
        problems: dict[str, str] = {}
        for device in devices:
            if device not in current:
                problems[device] = "has no token to rotate: issue its first one with `alignmon tokens issue`"
            elif current[device] is not None:
                problems[device] = (
                    f"had its token revoked on {current[device][:10]}: a rotation does not undo that; issue it a new "
                    "token on purpose with `alignmon tokens issue`"
                )
        if problems:
            raise NotRotatableError(problems)

    # -- reads ------------------------------------------------------------------------------------

    def list(self, *, history: bool = False) -> list[TokenInfo]:
        """Each device's current token and older ones still in a grace period (with `history`: every token)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM tokens WHERE :history OR superseded_at IS NULL "
                "OR (revoked_at IS NULL AND expires_at > :now) ORDER BY device_id, issued_at",
                {"history": history, "now": _stamp(self._clock())},
            ).fetchall()
        return [_info(row) for row in rows]

    def lookup(self, token: str) -> TokenInfo | None:
        """The token's record whatever its state, or None when it was never issued."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM tokens WHERE token_sha256 = ?", (hash_token(token),)
            ).fetchone()
        return None if row is None else _info(row)

    def authenticate(self, token: str) -> str | None:
        """The device a token belongs to, or None when it is unknown, revoked or expired."""
        info = self.lookup(token)
        return info.device_id if info is not None and info.valid(self._clock()) else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- schema -----------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")  # the write lock now: a concurrent writer waits instead of failing later
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        """Create the schema, or bring a version 1 database (device_tokens, no expiry) to this one.

        Inside one write transaction, so gateway workers opening the same file at once migrate it once.
        """
        if self._version() == SCHEMA_VERSION:
            return
        with self._transaction():
            version = self._version()
            tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise TokenDatabaseError(
                    f"{self.path} was written by a newer alignmon (token schema version {version}; this one knows up "
                    f"to {SCHEMA_VERSION}): run the newer alignmon here, or point ALIGNMON_TOKEN_DB at another file"
                )
            if version != 0 or (tables and "device_tokens" not in tables):
                raise TokenDatabaseError(
                    f"{self.path} is not an alignmon token database (tables: {', '.join(sorted(tables))}): "
                    "check ALIGNMON_TOKEN_DB"
                )
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            if "device_tokens" in tables:
                old = self._db.execute("SELECT token_sha256, device_id, issued_at, revoked_at FROM device_tokens")
                self._db.executemany(
                    f"INSERT INTO tokens (token_sha256, {_COLUMNS}) VALUES (?, ?, ?, NULL, ?, NULL)",
                    [
                        (
                            sha,
                            device,
                            _stamp(datetime.fromisoformat(issued)),
                            revoked and _stamp(datetime.fromisoformat(revoked)),
                        )
                        for sha, device, issued, revoked in old.fetchall()
                    ],
                )
                self._db.execute("DROP TABLE device_tokens")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only; SQLite gives its -wal and -shm files the same mode.

    Only token hashes are stored, but the device list is nobody else's business either.
    """
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # a file from an older version was created 0644
