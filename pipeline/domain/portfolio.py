"""Portfolio findings: shadow IT and overlapping sanctioned tools of the same capability."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pipeline.domain.rules import K_ANONYMITY


@dataclass(frozen=True)
class CatalogApp:
    """What the portfolio checks need of a catalog application."""

    sanctioned: bool
    capability: str | None = None


@dataclass(frozen=True)
class ShadowApp:
    """An application used by at least k people that the catalog does not sanction."""

    app: str
    active_users: int
    in_catalog: bool


@dataclass(frozen=True)
class Overlap:
    """Several sanctioned applications of one capability, each with active users in one department."""

    capability: str
    department: str
    apps: tuple[str, ...]
    users: int


def shadow_it(
    active_by_app: Mapping[str, int], catalog: Mapping[str, CatalogApp], k: int = K_ANONYMITY
) -> list[ShadowApp]:
    """Apps not in the catalog, or in it but not sanctioned, with >= k active users (counts); most used first."""
    found = [
        ShadowApp(app, users, app in catalog)
        for app, users in active_by_app.items()
        if (app not in catalog or not catalog[app].sanctioned) and users >= k
    ]
    return sorted(found, key=lambda s: (-s.active_users, s.app))


def overlap(
    active_by_app_department: Mapping[tuple[str, str], Collection[str]],
    catalog: Mapping[str, CatalogApp],
    k: int = K_ANONYMITY,
) -> list[Overlap]:
    """Departments where two or more sanctioned apps of one capability each have active users (28-day).

    A finding covers the union of those apps' users in the department and, being a per-department
    figure, is suppressed when that union is under k.
    """
    by_cap_dept: dict[tuple[str, str], dict[str, frozenset[str]]] = defaultdict(dict)
    for (app, department), users in active_by_app_department.items():
        entry = catalog.get(app)
        if entry is None or not entry.sanctioned or entry.capability is None or not users:
            continue
        by_cap_dept[entry.capability, department][app] = frozenset(users)
    found: list[Overlap] = []
    for (capability, department), apps in sorted(by_cap_dept.items()):
        union = frozenset().union(*apps.values())
        if len(apps) >= 2 and len(union) >= k:
            found.append(Overlap(capability, department, tuple(sorted(apps)), len(union)))
    return found
