"""Catalog and directory problems, each located by file, line and field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

from alignmon.errors import AlignmonError

Severity = Literal["error", "warning"]


class CatalogIssue(NamedTuple):
    """One problem in a catalog or directory file: where it is and what is wrong."""

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


class CatalogError(AlignmonError):
    """The catalog (or directory) is invalid; `issues` lists every error found, one per line in str()."""

    def __init__(self, issues: Iterable[CatalogIssue]) -> None:
        self.issues: tuple[CatalogIssue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))
