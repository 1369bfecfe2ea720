"""Per-person usage reduced to the k-safe counts the alignment scores read (the one place sets of people are used).

The pipeline reads `Usage` (pseudonym sets) from its own file and stores only `summarise`'s result in the analysts'
database: counts for applications, departments and overlaps of at least k people, and organisation-wide totals.
"""

from __future__ import annotations

from collections.abc import Mapping

from alignment.facts import AppInfo, Strategy, Usage, UsageSummary
from pipeline.domain.portfolio import CatalogApp, overlap, shadow_it
from pipeline.domain.privacy import shown_beside_a_total
from pipeline.domain.rules import MIN_COVERAGE


def interchangeable_groups(apps: Mapping[str, AppInfo]) -> list[frozenset[str]]:
    """Sanctioned applications linked by the catalog's `interchangeable_with` (either side, transitively)."""
    links: dict[str, set[str]] = {a: set() for a, info in apps.items() if info.sanctioned}
    for a, info in apps.items():
        for b in info.interchangeable_with:
            if a in links and b in links and a != b:
                links[a].add(b)
                links[b].add(a)
    groups: list[frozenset[str]] = []
    seen: set[str] = set()
    for start in sorted(links):
        if start in seen or not links[start]:
            continue
        group: set[str] = set()
        stack = [start]
        while stack:
            app = stack.pop()
            if app not in group:
                group.add(app)
                stack.extend(links[app])
        seen |= group
        groups.append(frozenset(group))
    return groups


def department_adoption(
    usage: Usage, strategy: Strategy, department_sizes: Mapping[str, int], k: int
) -> dict[str, tuple[tuple[str, float], ...]]:
    """Per investment, (department, adoption) for each target department of >= k people whose use can be seen and
    that may be shown beside the investment's totals (pipeline.domain.privacy.shown_beside_a_total).

    Adoption is the department's 28-day active users of any of the investment's applications / its size; a
    department where fewer than min_coverage of the people were active on anything is unknown, not lagging.
    Lowest first.
    """
    by_department: dict[str, set[str]] = {}
    for (_app, department), users in usage.active_by_department.items():
        by_department.setdefault(department, set()).update(users)
    out: dict[str, tuple[tuple[str, float], ...]] = {}
    for inv in strategy.investments.values():
        found = []
        targets = {d: department_sizes.get(d, 0) for d in inv.target_departments or department_sizes}
        for department in shown_beside_a_total(targets, k):  # the investment's totals are published too
            size = department_sizes[department]
            if len(by_department.get(department, ())) < MIN_COVERAGE * size:
                continue
            active = set().union(
                *(usage.active_by_department.get((app, department), frozenset()) for app in inv.applications)
            )
            found.append((department, len(active) / size))
        if found:
            out[inv.id] = tuple(sorted(found, key=lambda d: (d[1], d[0])))
    return out


def capabilities(usage: Usage, apps: Mapping[str, AppInfo], k: int) -> dict[str, tuple[float, float]]:
    """Per capability whose catalog applications have >= k active people: (focus seconds, 1 / Σ share²)."""
    focus: dict[str, list[float]] = {}
    people: dict[str, set[str]] = {}
    for app, seconds in usage.focus_s.items():
        info = apps.get(app)
        if info is not None and info.capability and seconds > 0:
            focus.setdefault(info.capability, []).append(seconds)
            people.setdefault(info.capability, set()).update(usage.active_users.get(app, ()))
    return {
        capability: (sum(shares), 1.0 / sum((s / sum(shares)) ** 2 for s in shares))
        for capability, shares in focus.items()
        if len(people[capability]) >= k
    }


def summarise(usage: Usage, strategy: Strategy, department_sizes: Mapping[str, int], k: int) -> UsageSummary:
    """The k-safe summary of `usage`: per-application figures only for applications with >= k active users;
    totals over everyone; departments and overlaps of >= k people (docs/metrics.md, Privacy)."""
    people = usage.active_people
    if len(people) < k:  # even the organisation-wide totals would describe fewer than k people
        return UsageSummary(first_day=usage.first_day)
    shown = {app for app, users in usage.active_users.items() if len(users) >= k}
    apps = strategy.applications
    catalog = {a.id: CatalogApp(a.sanctioned, a.capability) for a in apps.values()}
    counts = {app: len(usage.active_users[app]) for app in shown}
    shadow = [s.app for s in shadow_it(counts, catalog, k)]
    groups = {"+".join(sorted(g)): g for g in interchangeable_groups(apps)}
    interchangeable = {app: CatalogApp(True, key) for key, group in groups.items() for app in group}
    funded = {app for inv in strategy.investments.values() for app in inv.applications}
    overlaps = tuple(overlap(usage.active_by_department, interchangeable, k))
    side_by_side: dict[str, set[str]] = {}
    for o in overlaps:
        side_by_side.setdefault(o.capability, set()).update(o.apps)
    return UsageSummary(
        focus_s={app: s for app, s in usage.focus_s.items() if app in shown},
        total_focus_s=sum(usage.focus_s.values()),
        sanctioned_focus_s=sum(s for app, s in usage.focus_s.items() if app in apps and apps[app].sanctioned),
        funded_active_user_days=sum(n for app, n in usage.active_user_days.items() if app in funded),
        funded_active_focus_s=sum(s for app, s in usage.active_focus_s.items() if app in funded),
        active_users=counts,
        weekly_active={app: v for app, v in usage.weekly_active.items() if app in shown},
        active_people=len(people),
        shadow_people=len(frozenset().union(*(usage.active_users[a] for a in shadow)) & people),
        department_adoption=department_adoption(usage, strategy, department_sizes, k),
        overlaps=overlaps,
        overlap_focus_s={key: {a: usage.focus_s.get(a, 0.0) for a in found} for key, found in side_by_side.items()},
        capabilities=capabilities(usage, apps, k),
        first_day=usage.first_day,
    )
