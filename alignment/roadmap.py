"""Gap analysis and a prioritised roadmap (steps 3 and 4 of the five-step method).

priority = strategic weight × gap × (wasted spend + value at risk) × confidence / effort, in money per
unit of effort. Each investment gets at most one action by a fixed rule order; overlaps, shadow IT and
unfunded initiatives add their own items. The order respects initiative dependencies: no item of an
initiative comes before every item of the initiatives it depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

from alignment.emergent import emergent
from alignment.facts import Facts, InvestmentInfo, InvestmentState
from alignment.maturity import shadow_apps
from pipeline.domain.portfolio import CatalogApp, overlap

ORPHAN_WEIGHT = 0.5  # spend tied to no initiative still counts, at half the default initiative weight
FULL_DATA_DAYS = 28  # days of evidence for full confidence (one METRICS.md window)
RENEWAL_SOON_DAYS = 90
RECLAIM_MAX_UTILISATION = 0.7
RECLAIM_MIN_WASTE_SHARE = 0.2
UNKNOWN_COVERAGE_CONFIDENCE = 0.5  # licence figures without a directory: half confidence

T = TypeVar("T")

# Effort per action, in person-weeks of the people who would do it (documented defaults, relative scale).
EFFORT: dict[str, float] = {
    "reclaim_licences_at_renewal": 1.0,
    "reclaim_licences": 2.0,
    "revisit_target": 1.0,
    "improve_coverage": 2.0,
    "enable_and_train": 4.0,
    "sanction_shadow_it": 3.0,
    "retire_shadow_it": 4.0,
    "consolidate": 8.0,
}

ACTIONS: dict[str, str] = {
    "reclaim_licences": "reclaim idle licences",
    "revisit_target": "revisit the adoption target",
    "improve_coverage": "extend telemetry coverage before judging",
    "enable_and_train": "enable and train the target population",
    "sanction_shadow_it": "sanction the shadow-IT tool (emergent strategy)",
    "retire_shadow_it": "retire the shadow-IT tool",
    "consolidate": "consolidate overlapping tools",
    "fund_initiative": "fund the initiative or drop it from the strategy",
}


@dataclass(frozen=True)
class Item:
    """One roadmap line: what to act on, the action, every factor of its priority and why."""

    kind: str  # investment | initiative | capability | application
    subject: str
    name: str
    action: str
    reason: str
    initiative: str | None = None
    weight: float = 1.0
    gap: float = 0.0
    wasted: float = 0.0
    value_at_risk: float = 0.0
    confidence: float = 0.0
    effort: float = 1.0
    after: tuple[str, ...] = ()  # initiatives this item waits for

    @property
    def priority(self) -> float | None:
        """weight × gap × (wasted + value at risk) × confidence / effort; None for unscored items."""
        if self.action == "fund_initiative":
            return None
        return self.weight * self.gap * (self.wasted + self.value_at_risk) * self.confidence / self.effort


def data_confidence(as_of: date, since: date | None) -> float:
    """min(1, days of evidence / 28): days from `since` (go-live or first telemetry) to as_of inclusive."""
    if since is None or since > as_of:
        return 0.0
    return min(1.0, ((as_of - since).days + 1) / FULL_DATA_DAYS)


def plan_gap(state: InvestmentState) -> float | None:
    """Relative gap to plan: max(0, planned - adoption) / planned; None when either is unknown."""
    if state.planned_ratio is None or state.adoption_ratio is None or state.planned_ratio <= 0:
        return None
    return max(0.0, state.planned_ratio - state.adoption_ratio) / state.planned_ratio


def _renewal_soon(inv: InvestmentInfo, as_of: date) -> bool:
    return inv.renewal_date is not None and 0 <= (inv.renewal_date - as_of).days <= RENEWAL_SOON_DAYS


def _reclaimable(inv: InvestmentInfo, st: InvestmentState) -> bool:
    return (
        st.licence_utilisation is not None
        and st.wasted_spend is not None
        and inv.annual_cost > 0
        and st.licence_utilisation <= RECLAIM_MAX_UTILISATION
        and st.wasted_spend / inv.annual_cost >= RECLAIM_MIN_WASTE_SHARE
    )


def investment_action(inv: InvestmentInfo, st: InvestmentState, as_of: date) -> str | None:
    """The one action for an investment, by the first rule that applies (docs/alignment.md lists them)."""
    if st.status == "not_started":
        return None
    if _reclaimable(inv, st) and _renewal_soon(inv, as_of):
        return "reclaim_licences"
    if st.status == "unknown":
        return "improve_coverage"
    if st.judged and st.forecast == "not_reached":
        return "revisit_target"
    gap = plan_gap(st)
    if st.status == "low" or (st.at_risk and gap):
        return "enable_and_train"
    if _reclaimable(inv, st):
        return "reclaim_licences"
    return None


def investment_item(facts: Facts, inv: InvestmentInfo, weight: float) -> Item | None:
    """The roadmap item of one investment, or None when nothing needs doing."""
    st = facts.state(inv.id)
    action = investment_action(inv, st, facts.as_of)
    if action is None:
        return None
    data = data_confidence(facts.as_of, max(inv.go_live, facts.usage.first_day or inv.go_live))
    coverage = st.coverage if st.coverage is not None else UNKNOWN_COVERAGE_CONFIDENCE
    rel_gap = plan_gap(st) or 0.0
    wasted = st.wasted_spend or 0.0
    effort = EFFORT[action]
    if action == "reclaim_licences":
        gap = max(0.0, 1.0 - (st.licence_utilisation or 0.0))
        confidence = coverage * data
        if _renewal_soon(inv, facts.as_of):
            effort = EFFORT["reclaim_licences_at_renewal"]
            reason = f"utilisation {st.licence_utilisation:.0%}, renewal on {inv.renewal_date}"
        else:
            reason = f"utilisation {st.licence_utilisation:.0%}, idle seats cost {wasted:,.0f} a year"
        at_risk_value = inv.annual_cost * rel_gap
    elif action == "improve_coverage":
        unseen = 1.0 - (st.coverage or 0.0)
        gap, confidence, at_risk_value = unseen, data, inv.annual_cost * unseen
        reason = f"coverage {st.coverage or 0.0:.0%} is below the minimum: adoption cannot be judged"
    else:
        gap, confidence, at_risk_value = rel_gap, coverage * data, inv.annual_cost * rel_gap
        adoption = st.adoption_ratio or 0.0
        planned = st.planned_ratio or 0.0
        if action == "revisit_target":
            reason = f"adoption {adoption:.0%} vs plan {planned:.0%}; the forecast never reaches {inv.target_ratio:.0%}"
        else:
            reason = f"status {st.status}: adoption {adoption:.0%} vs plan {planned:.0%}"
    return Item(
        kind="investment",
        subject=inv.id,
        name=inv.name,
        action=action,
        reason=reason,
        initiative=inv.initiative,
        weight=weight,
        gap=gap,
        wasted=wasted if action != "improve_coverage" else 0.0,
        value_at_risk=at_risk_value,
        confidence=confidence,
        effort=effort,
    )


def _app_weight(facts: Facts, apps: Iterable[str]) -> tuple[float, str | None]:
    """The highest initiative weight among investments funding any of `apps` (orphan weight otherwise)."""
    best: tuple[float, str | None] = (ORPHAN_WEIGHT, None)
    wanted = set(apps)
    for inv in facts.strategy.investments.values():
        if inv.initiative and wanted.intersection(inv.applications):
            weight = facts.strategy.initiatives[inv.initiative].weight
            if weight > best[0]:
                best = (weight, inv.initiative)
    return best


def overlap_items(facts: Facts) -> list[Item]:
    """One `consolidate` item per capability where sanctioned tools overlap in some k-safe department."""
    catalog = {a.id: CatalogApp(a.sanctioned, a.capability) for a in facts.strategy.applications.values()}
    found = overlap(facts.usage.active_by_department, catalog, facts.k)
    apps_by_capability: dict[str, set[str]] = {}
    departments: dict[str, list[str]] = {}
    for o in found:
        apps_by_capability.setdefault(o.capability, set()).update(o.apps)
        departments.setdefault(o.capability, []).append(o.department)
    data = data_confidence(facts.as_of, facts.usage.first_day)
    items = []
    for capability, apps in sorted(apps_by_capability.items()):
        focus = {a: facts.usage.focus_s.get(a, 0.0) for a in apps}
        total = sum(focus.values())
        leader = max(sorted(focus), key=lambda a: focus[a])
        gap = 1.0 - focus[leader] / total if total > 0 else 0.0
        funding = [inv for inv in facts.strategy.investments.values() if apps.intersection(inv.applications)]
        # Spend on the tools that lose the consolidation is duplicate spend.
        duplicate = sum(inv.annual_cost for inv in funding if leader not in inv.applications)
        value = sum(inv.annual_cost for inv in funding) * gap
        weight, initiative = _app_weight(facts, apps)
        others = ", ".join(facts.app_name(a) for a in sorted(apps - {leader}))
        items.append(
            Item(
                kind="capability",
                subject=capability,
                name=f"{capability}: {facts.app_name(leader)} and {others}",
                action="consolidate",
                reason=f"{gap:.0%} of {capability} use is outside {facts.app_name(leader)}; "
                f"overlap in {', '.join(sorted(departments[capability]))}",
                initiative=initiative,
                weight=weight,
                gap=gap,
                wasted=duplicate,
                value_at_risk=value,
                confidence=data,
                effort=EFFORT["consolidate"],
            )
        )
    return items


def reference_cost_per_user(facts: Facts) -> float:
    """Σ annual cost / Σ active users over investments with active users: the price of a sanctioned seat."""
    cost = users = 0.0
    for inv in facts.strategy.investments.values():
        st = facts.state(inv.id)
        if st.mau > 0:
            cost += inv.annual_cost
            users += st.mau
    return cost / users if users > 0 else 0.0


def shadow_items(facts: Facts) -> list[Item]:
    """Sanction growing shadow IT (emergent strategy), retire the rest."""
    growing = {c.app for c in emergent(facts)}
    price = reference_cost_per_user(facts)
    data = data_confidence(facts.as_of, facts.usage.first_day)
    items = []
    for app in shadow_apps(facts):
        users = len(facts.usage.active_users[app])
        info = facts.strategy.applications.get(app)
        capability = info.capability if info else None
        alternatives = [
            a.name
            for a in facts.strategy.applications.values()
            if capability and a.capability == capability and a.sanctioned
        ]
        action = "sanction_shadow_it" if app in growing else "retire_shadow_it"
        where = "uncatalogued" if info is None else "catalogued, not sanctioned"
        reason = f"{users} active users, {where}" + (", growing" if app in growing else "")
        if alternatives:
            reason += f"; sanctioned alternative: {', '.join(sorted(alternatives))}"
        items.append(
            Item(
                kind="application",
                subject=app,
                name=facts.app_name(app),
                action=action,
                reason=reason,
                weight=ORPHAN_WEIGHT,
                gap=1.0,
                value_at_risk=users * price,
                confidence=data,
                effort=EFFORT[action],
            )
        )
    return items


def unfunded_items(facts: Facts) -> list[Item]:
    """An unscored `fund_initiative` item for each initiative no investment serves."""
    funded = {inv.initiative for inv in facts.strategy.investments.values()}
    return [
        Item(
            kind="initiative",
            subject=ini.id,
            name=ini.name,
            action="fund_initiative",
            reason="no investment serves this initiative",
            initiative=ini.id,
            weight=ini.weight,
        )
        for ini in facts.strategy.initiatives.values()
        if ini.id not in funded
    ]


def prerequisites(depends_on: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """Every initiative each initiative waits for, directly or through others (cycles tolerated)."""
    closure: dict[str, frozenset[str]] = {}
    for start in depends_on:
        seen: set[str] = set()
        stack = list(depends_on.get(start, ()))
        while stack:
            dep = stack.pop()
            if dep not in seen and dep != start:
                seen.add(dep)
                stack.extend(depends_on.get(dep, ()))
        closure[start] = frozenset(seen)
    return closure


def _sort_key(item: Item) -> tuple[bool, float, str, str]:
    # Unscored items (unfunded initiatives) go last unless a dependency pulls them forward.
    return (item.priority is None, -(item.priority or 0.0), item.kind, item.subject)


def sequence(
    ranked: Sequence[T], initiative_of: Callable[[T], str | None], depends_on: Mapping[str, Iterable[str]]
) -> list[tuple[T, tuple[str, ...]]]:
    """Keep the ranked order, except that an initiative's entries wait for those of what it depends on.

    Greedy: repeatedly take the first entry none of whose (transitive) prerequisite initiatives still
    has an entry waiting. A dependency cycle (the catalog rejects them) falls back to the ranked order.
    Returns each entry with the prerequisite initiatives it waited for.
    """
    before = prerequisites(depends_on)
    waiting = list(ranked)
    placed: list[tuple[T, tuple[str, ...]]] = []
    while waiting:
        pending = {ini for e in waiting if (ini := initiative_of(e))}
        index = next(
            (n for n, e in enumerate(waiting) if not before.get(initiative_of(e) or "", frozenset()) & pending),
            0,
        )
        entry = waiting.pop(index)
        placed.append((entry, tuple(sorted(before.get(initiative_of(entry) or "", frozenset())))))
    return placed


def order(items: Iterable[Item], depends_on: Mapping[str, Iterable[str]]) -> list[Item]:
    """Highest priority first, sequenced by initiative dependencies."""
    ranked = sorted(items, key=_sort_key)
    return [replace(item, after=after) for item, after in sequence(ranked, lambda i: i.initiative, depends_on)]


def roadmap(facts: Facts) -> list[Item]:
    """Every roadmap item, ranked by priority and sequenced by initiative dependencies."""
    items: list[Item] = []
    for inv in facts.strategy.investments.values():
        weight = facts.strategy.initiatives[inv.initiative].weight if inv.initiative else ORPHAN_WEIGHT
        item = investment_item(facts, inv, weight)
        if item is not None:
            items.append(item)
    items += overlap_items(facts) + shadow_items(facts) + unfunded_items(facts)
    return order(items, {i.id: i.depends_on for i in facts.strategy.initiatives.values()})


@dataclass(frozen=True)
class InitiativePriority:
    """An initiative's share of the roadmap: the sum of its items' priorities."""

    initiative: str
    name: str
    priority: float
    items: int
    depends_on: tuple[str, ...]


def initiative_ranking(facts: Facts, items: Iterable[Item]) -> list[InitiativePriority]:
    """Initiatives by total priority of their items, never before an initiative they depend on."""
    totals: dict[str, list[float]] = {}
    for item in items:
        if item.initiative:
            totals.setdefault(item.initiative, []).append(item.priority or 0.0)
    rows = [
        InitiativePriority(ini.id, ini.name, sum(totals.get(ini.id, [])), len(totals.get(ini.id, [])), ini.depends_on)
        for ini in facts.strategy.initiatives.values()
    ]
    rows.sort(key=lambda r: (-r.priority, r.initiative))
    depends = {i.id: i.depends_on for i in facts.strategy.initiatives.values()}
    return [row for row, _ in sequence(rows, lambda r: r.initiative, depends)]
