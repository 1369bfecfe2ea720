"""Device tokens: random bearer tokens, stored only as SHA-256 hashes in SQLite."""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from collectors.event import check_device_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS device_tokens (
    device_id TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    issued_at TEXT NOT NULL,
    revoked_at TEXT
)
"""


class TokenInfo(NamedTuple):
    """What `tokens list` shows about a device's token (never the token itself)."""

    device_id: str
    issued_at: str
    revoked_at: str | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class TokenStore:
    """Issue, revoke, list and check device tokens; one active token per device."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = _now) -> None:
        self.path = Path(path)
        self._clock = clock
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _create_private(self.path)
        # Autocommit: every read sees what another process (the CLI) committed, so a revoke applies at once.
        self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)

    def issue(self, device_id: str) -> str:
        """A new token for the device (replacing any earlier one); it is returned once and never stored."""
        device_id = check_device_id(device_id)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._db.execute(
                "INSERT INTO device_tokens (device_id, token_sha256, issued_at, revoked_at) VALUES (?, ?, ?, NULL) "
                "ON CONFLICT (device_id) DO UPDATE SET token_sha256 = excluded.token_sha256, "
                "issued_at = excluded.issued_at, revoked_at = NULL",
                (device_id, hash_token(token), self._clock().isoformat()),
            )
        return token

    def revoke(self, device_id: str) -> bool:
        """Revoke the device's token; False when it had no active one."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE device_tokens SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL",
                (self._clock().isoformat(), device_id),
            )
        return cursor.rowcount > 0

    def list(self) -> list[TokenInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT device_id, issued_at, revoked_at FROM device_tokens ORDER BY device_id"
            ).fetchall()
        return [TokenInfo(*row) for row in rows]

    def authenticate(self, token: str) -> str | None:
        """The device a token belongs to, or None when it is unknown or revoked."""
        with self._lock:
            row = self._db.execute(
                "SELECT device_id FROM device_tokens WHERE token_sha256 = ? AND revoked_at IS NULL",
                (hash_token(token),),
            ).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only; SQLite gives its -wal and -shm files the same mode.

    Only token hashes are stored, but the device list is nobody else's business either.
    """
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # a file from an older version was created 0644
