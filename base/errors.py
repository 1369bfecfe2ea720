"""Errors every stage shares, split in two: transient ones are retried, terminal ones stop with their reason.

A `TransientError` (a broker away, a lock busy) may go away by itself: a process retries with a backoff and a log
line a minute. Every other `AlignmonError` is terminal (an invalid file, a bad setting, a corrupt database):
retrying cannot mend it, so the process exits 1 with the message. The CLI prints either without a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, NamedTuple

Severity = Literal["error", "warning"]


class AlignmonError(Exception):
    """A failure the user can act on, terminal unless it is a TransientError; the CLI prints it without a traceback."""


class TransientError(AlignmonError):
    """A failure that may go away on retry (a service not reachable yet, a lock another process holds)."""


class Issue(NamedTuple):
    """One problem in an input file (catalog, directory): where it is and what is wrong."""

    file: str
    line: int  # 1-based; 0 when the problem is the whole file or folder
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        # Line 0 means the whole file or folder (it does not exist, cannot be read...).
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file
        return f"{where}: {self.field}: {prefix}{self.message}"


class InvalidFileError(AlignmonError):
    """An input file is invalid; `issues` lists every error found, one per line in str()."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class DatabaseInUseError(TransientError):
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
