"""The strategy catalog: applications and identity rules, objectives -> initiatives -> investments.

The directory (who is in which department) is base.directory: the collectors read it too.

Typical use::

    from pipeline.catalog import CatalogSource
    source = CatalogSource(Path("catalog"), Path("directory.csv"), key)
    catalog = source.current()          # reloads when a file changed, keeps the last good one otherwise
    catalog.match(r"C:\\Program Files\\Microsoft\\Teams\\ms-teams.exe")   # -> "teams"
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.catalog.catalog import Catalog, PlacedInvestment
    from pipeline.catalog.errors import CatalogError, CatalogIssue
    from pipeline.catalog.identity import AppMatch, AppMatcher
    from pipeline.catalog.loader import catalog_files, load_catalog, parse_catalog
    from pipeline.catalog.model import (
        Application,
        CatalogDocument,
        CatalogSettings,
        Initiative,
        Investment,
        MatchRules,
        Objective,
        Owner,
    )
    from pipeline.catalog.watch import CatalogSource

# Imported on first use, so `alignmon --help` does not pay for pydantic and yaml.
_EXPORTS = {
    "AppMatch": "identity",
    "AppMatcher": "identity",
    "Application": "model",
    "Catalog": "catalog",
    "CatalogDocument": "model",
    "CatalogError": "errors",
    "CatalogIssue": "errors",
    "CatalogSettings": "model",
    "CatalogSource": "watch",
    "Initiative": "model",
    "Investment": "model",
    "MatchRules": "model",
    "Objective": "model",
    "Owner": "model",
    "PlacedInvestment": "catalog",
    "catalog_files": "loader",
    "load_catalog": "loader",
    "parse_catalog": "loader",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "AppMatch",
    "AppMatcher",
    "Application",
    "Catalog",
    "CatalogDocument",
    "CatalogError",
    "CatalogIssue",
    "CatalogSettings",
    "CatalogSource",
    "Initiative",
    "Investment",
    "MatchRules",
    "Objective",
    "Owner",
    "PlacedInvestment",
    "catalog_files",
    "load_catalog",
    "parse_catalog",
]
