"""Errors every stage shares: terminal ones stop with a message, transient ones are retried."""

from __future__ import annotations

import re


class AlignmonError(Exception):
    """A failure the user can act on; the CLI prints its message without a traceback."""


class TransientError(AlignmonError):
    """A failure that may go away on retry (a service not reachable yet)."""


class DatabaseInUseError(AlignmonError):
    """Another process holds the lock on a DuckDB file (DuckDB allows one writer, and no reader beside it)."""

    def __init__(self, path: object, pid: int | None, advice: str) -> None:
        self.path = str(path)
        self.pid = pid
        holder = f"another process (pid {pid})" if pid is not None else "another process"
        super().__init__(f"the database {self.path} is in use by {holder}: {advice}")

    @classmethod
    def from_lock_failure(cls, path: object, exc: Exception, advice: str) -> DatabaseInUseError | None:
        """The error to raise for DuckDB's `Could not set lock on file` failure, or None for any other failure.

        Matched on the message because DuckDB raises the same IOException class for a missing or unreadable
        file; its message names the holder as `(PID n)`, which is worth passing on.
        """
        text = str(exc)
        if "lock" not in text.lower():
            return None
        found = re.search(r"\(PID (\d+)\)", text)
        return cls(path, int(found.group(1)) if found else None, advice)
