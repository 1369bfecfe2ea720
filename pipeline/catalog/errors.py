"""Catalog problems, each located by file, line and field (the directory's are the same kind)."""

from __future__ import annotations

from base.errors import InvalidFileError, Issue, Severity

CatalogIssue = Issue  # a catalog's located problem is the base's; the name reads better in catalog code

__all__ = ["CatalogError", "CatalogIssue", "Severity"]


class CatalogError(InvalidFileError):
    """The catalog is invalid; `issues` lists every error found, one per line in str()."""
