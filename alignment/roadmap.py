"""Gap analysis and a prioritised roadmap (steps 3 and 4 of the five-step method).

priority = strategic weight × money × confidence / effort, where money is the one figure the action acts on:
the spend at stake (idle seats, duplicate tools, priced shadow IT) for reclaim, consolidate and shadow-IT
items, the value at risk for adoption actions. The two figures are shown side by side, never added
(docs/metrics.md, Money at stake). An investment gets at most one action by a fixed rule order, plus
`revisit_target` after `enable_and_train` when there is evidence that the target itself is wrong; items with
nothing to gain are dropped. The order respects initiative dependencies: no item of an initiative comes before
every item of the initiatives it depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import NamedTuple, TypeVar

from alignment.emergent import emergent
from alignment.facts import Facts, InterventionEffect, InvestmentInfo, InvestmentState
from alignment.maturity import shadow_apps

ORPHAN_WEIGHT = 0.5  # spend tied to no initiative still counts, at half the default initiative weight
FULL_DATA_DAYS = 28  # days of evidence for full confidence (one docs/metrics.md window)
RENEWAL_SOON_DAYS = 90
RECLAIM_MAX_UTILISATION = 0.7
RECLAIM_MIN_WASTE_SHARE = 0.2
UNKNOWN_COVERAGE_CONFIDENCE = 0.5  # licence figures without a directory: half confidence
OUTSIDE_SHARE = 0.25  # share of active users outside the target population that questions the target
MIN_MONEY = 0.5  # money that rounds to 0 in the currency: nothing to gain, so the item is dropped
# A training or enablement that measurably raised the investment's adoption elsewhere (intervention_effects, verdict
# effect and a rise, the groups not drifting apart before it) is re-run from its material for the lagging departments:
# half the effort, so it ranks higher.
PROVEN_EFFORT_FACTOR = 0.5
TRAINING_KINDS = ("training", "enablement")  # the interventions that are what enable_and_train proposes

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
    "enable_and_train": "enable and train the lagging departments",
    "sanction_shadow_it": "sanction the shadow-IT tool (emergent strategy)",
    "retire_shadow_it": "retire the shadow-IT tool",
    "consolidate": "consolidate interchangeable tools",
    "fund_initiative": "fund the initiative or drop it from the strategy",
}

SPEND_AT_STAKE = "spend_at_stake"
VALUE_AT_RISK = "value_at_risk"
# The one money figure each scored action's priority weighs; fund_initiative has none (unscored).
WEIGHS: dict[str, str] = {
    "reclaim_licences": SPEND_AT_STAKE,
    "consolidate": SPEND_AT_STAKE,
    "sanction_shadow_it": SPEND_AT_STAKE,
    "retire_shadow_it": SPEND_AT_STAKE,
    "enable_and_train": VALUE_AT_RISK,
    "revisit_target": VALUE_AT_RISK,
    "improve_coverage": VALUE_AT_RISK,
}


@dataclass(frozen=True)
class Item:
    """One roadmap line: what to act on, the action, every factor of its priority, why, and who decides."""

    kind: str  # investment | initiative | applications (interchangeable tools) | application (shadow IT)
    subject: str
    name: str
    action: str
    reason: str
    initiative: str | None = None
    weight: float = 1.0
    gap: float = 0.0
    wasted: float = 0.0  # spend at stake: idle seats, duplicate tools or priced shadow IT; never value at risk
    value_at_risk: float = 0.0  # annual cost × relative plan gap; shown apart, never added to `wasted`
    confidence: float = 0.0
    effort: float = 1.0
    after: tuple[str, ...] = ()  # initiatives this item waits for
    currency: str = ""  # of the money figures ("" when the item has none)
    departments: tuple[str, ...] = ()  # lagging target departments (>= k people), lowest adoption first
    owner: str | None = None  # who answers for the subject, when the catalog names someone
    decision: str = ""  # what the steering committee is asked to decide
    priced: bool = True  # False: a shadow-IT tool without a catalog price has no money to weigh

    @property
    def spend_at_stake(self) -> float:
        """The annual spend the action can save (the `wasted` field)."""
        return self.wasted

    @property
    def weighs(self) -> str | None:
        """Which money figure the priority weighs: spend_at_stake, value_at_risk, or None (unscored)."""
        return WEIGHS.get(self.action) if self.priced else None

    @property
    def money(self) -> float | None:
        """The money figure the priority weighs; None for unscored items."""
        weighs = self.weighs
        if weighs is None:
            return None
        return self.wasted if weighs == SPEND_AT_STAKE else self.value_at_risk

    @property
    def priority(self) -> float | None:
        """weight × money × confidence / effort; None for unscored items."""
        money = self.money
        return None if money is None else self.weight * money * self.confidence / self.effort


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


def value_at_risk(inv: InvestmentInfo, state: InvestmentState) -> float:
    """Annual cost × relative plan gap: the part of the spend whose planned use is not happening (<= cost)."""
    return inv.annual_cost * (plan_gap(state) or 0.0)


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
    """The one action for an investment, by the first rule that applies (docs/alignment.md lists them).

    An on-track investment gets nothing unless it has idle seats to reclaim. An unknown one gets no licence
    action: seats nobody is seen on are not idle while people go unseen (missing data is not zero use), the same
    rule as the LicenceWasteBeforeRenewal alert.
    """
    if st.status == "not_started":
        return None
    if st.status == "unknown":
        # Too little history is not a coverage problem: wait for the status instead of acting on it. A population
        # under k is never measured, so there is nothing to act on either (docs/metrics.md, Privacy).
        return None if st.status_reason in ("insufficient_history", "small_population") else "improve_coverage"
    if _reclaimable(inv, st) and _renewal_soon(inv, as_of):
        return "reclaim_licences"
    if st.status == "low":
        return "enable_and_train"
    if _reclaimable(inv, st):
        return "reclaim_licences"
    return None


def target_evidence(inv: InvestmentInfo, st: InvestmentState, k: int) -> str | None:
    """Why the target itself looks wrong, or None: partial coverage, or many users outside the population."""
    found = []
    if st.coverage is not None and st.coverage < inv.target_ratio:
        found.append(
            f"only {st.coverage:.0%} of the target population sends telemetry, "
            f"so the {inv.target_ratio:.0%} target cannot be reached as measured"
        )
    if st.adoption_ratio is not None and st.population:
        outside = st.mau - round(st.adoption_ratio * st.population)
        if outside >= k and outside >= OUTSIDE_SHARE * st.mau:
            found.append(f"{outside} of its {st.mau} active users are outside the target population")
    return "; ".join(found) or None


def department_adoption(facts: Facts, inv: InvestmentInfo) -> list[tuple[str, float]]:
    """(department, adoption) per target department of >= k people whose use can be seen, lowest first
    (alignment.summary.department_adoption)."""
    return list(facts.usage.department_adoption.get(inv.id, ()))


def lagging_departments(facts: Facts, inv: InvestmentInfo, st: InvestmentState) -> list[tuple[str, float]]:
    """The target departments (k-safe, use seen) whose adoption is below today's planned ratio."""
    if st.planned_ratio is None:
        return []
    return [(d, ratio) for d, ratio in department_adoption(facts, inv) if ratio < st.planned_ratio]


class Proven(NamedTuple):
    """A training or enablement that measurably raised adoption, with its interval; `low` is the conservative effect."""

    effect: InterventionEffect
    low: float
    high: float


def proven_elsewhere(facts: Facts, inv: InvestmentInfo, departments: Sequence[str]) -> list[Proven]:
    """The trainings and enablements of `inv` that measurably raised its adoption and that at least one of
    `departments` (the lagging ones; any, when none is named) has not had, the largest low end of the interval first.

    Never one whose groups were already drifting apart before it (trends diverging): the rise may be that drift. Ranked
    by the interval's low end, not the point estimate: the largest of several estimates tends to overstate its effect
    (the winner's curse); the low end is what the data supports.
    """
    found = []
    for e in facts.effects:
        interval = e.interval
        if interval is None or interval[0] <= 0 or not e.rose or e.diverging:
            continue
        if e.investment != inv.id or e.kind not in TRAINING_KINDS:
            continue
        if departments and not set(departments) - set(e.departments):
            continue  # given only where it still lags: not elsewhere
        found.append(Proven(e, *interval))
    return sorted(found, key=lambda p: (-p.low, p.effect.first_day, p.effect.intervention))


def nameable(facts: Facts, departments: Iterable[str]) -> list[str]:
    """The departments the day's k-safe department sizes show at k people or more: the only ones text may name.

    The published list of an effect already leaves out departments under k; a final estimate is kept as it was
    made, so a department that has since shrunk under k (or is no longer shown) is not named either.
    """
    return [d for d in departments if facts.department_sizes.get(d, 0) >= facts.k]


def _worked_elsewhere(facts: Facts, proof: Proven) -> str:
    """'it worked elsewhere: the training of … in Finance raised adoption by at least +8.3 pp (…)'."""
    e = proof.effect
    named = nameable(facts, e.departments)
    where, in_departments = (":", f" in {', '.join(named)}") if named else (" in the organisation:", "")
    return (
        f"it worked elsewhere{where} the {e.kind} of {e.first_day}{in_departments} raised adoption by at least "
        f"{proof.low * 100:+.1f} pp ({e.level:.0%} interval {proof.low * 100:+.1f} to {proof.high * 100:+.1f} pp)"
    )


def _idle_seats(inv: InvestmentInfo, st: InvestmentState) -> int:
    return max(0, (inv.seats or 0) - st.mau)


def investment_items(facts: Facts, inv: InvestmentInfo, weight: float) -> list[Item]:
    """The roadmap items of one investment: its action, then revisit_target when the target looks wrong."""
    st = facts.state(inv.id)
    action = investment_action(inv, st, facts.as_of)
    if action is None:
        return []
    data = data_confidence(facts.as_of, max(inv.go_live, facts.usage.first_day or inv.go_live))
    coverage = st.coverage if st.coverage is not None else UNKNOWN_COVERAGE_CONFIDENCE
    rel_gap = plan_gap(st) or 0.0
    wasted = st.wasted_spend or 0.0
    base = Item(
        kind="investment",
        subject=inv.id,
        name=inv.name,
        action=action,
        reason="",
        initiative=inv.initiative,
        weight=weight,
        gap=rel_gap,
        wasted=wasted,
        value_at_risk=value_at_risk(inv, st),
        confidence=coverage * data,
        effort=EFFORT[action],
        currency=inv.currency,
        owner=inv.owner,
    )
    adoption, planned = st.adoption_ratio or 0.0, st.planned_ratio or 0.0
    if action == "reclaim_licences":
        seats = f"up to {_idle_seats(inv, st)} idle seats" if inv.seats else "idle seats"
        if _renewal_soon(inv, facts.as_of):
            reason = f"utilisation {st.licence_utilisation:.0%}, renewal on {inv.renewal_date}"
            decision = f"Renew {inv.name} on {inv.renewal_date} without {seats}"
            base = replace(base, effort=EFFORT["reclaim_licences_at_renewal"])
        else:
            reason = f"utilisation {st.licence_utilisation:.0%}, idle seats cost {wasted:,.0f} a year"
            decision = f"Reclaim {seats} of {inv.name}"
        return [replace(base, gap=max(0.0, 1.0 - (st.licence_utilisation or 0.0)), reason=reason, decision=decision)]
    if action == "improve_coverage":
        unseen = 1.0 - (st.coverage or 0.0)
        if st.coverage is None:
            reason = "no directory: adoption cannot be judged"
            decision = f"Provide the directory so that {inv.name} can be judged"
        else:
            reason = f"coverage {st.coverage:.0%} is below the minimum: adoption cannot be judged"
            decision = f"Extend telemetry to the target population of {inv.name} before judging it"
        # Idle seats counted with most users unseen are not evidence: only the unseen spend is weighed.
        return [
            replace(
                base,
                gap=unseen,
                wasted=0.0,
                value_at_risk=inv.annual_cost * unseen,
                confidence=data,
                reason=reason,
                decision=decision,
            )
        ]
    lagging = lagging_departments(facts, inv, st)
    names = tuple(d for d, _ in lagging)
    where = ", ".join(f"{d} {ratio:.0%}" for d, ratio in lagging)
    train = replace(
        base,
        reason=f"status low: adoption {adoption:.0%} vs plan {planned:.0%}"
        + (f"; lagging: {where}" if where else "; no lagging department of k or more people to name"),
        departments=names,
        decision=f"Fund enablement and training for {inv.name} in {', '.join(names) or 'its target population'}",
    )
    proven = proven_elsewhere(facts, inv, names)
    if proven:
        train = replace(
            train,
            effort=EFFORT["enable_and_train"] * PROVEN_EFFORT_FACTOR,
            reason=f"{train.reason}; {_worked_elsewhere(facts, proven[0])}",
        )
    evidence = target_evidence(inv, st, facts.k)
    if evidence is None:
        return [train]
    revisit = replace(
        base,
        action="revisit_target",
        effort=EFFORT["revisit_target"],
        reason=f"after the training: adoption {adoption:.0%} vs plan {planned:.0%}; {evidence}",
        decision=f"Revisit the target of {inv.name} ({inv.target_ratio:.0%} by {inv.target_date}) "
        "and its target population",
    )
    return [train, revisit]


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


def _currency(currencies: Iterable[str]) -> str:
    found = sorted(set(currencies))
    return found[0] if len(found) == 1 else ("mixed" if found else "")


def overlap_items(facts: Facts) -> list[Item]:
    """One `consolidate` item per group of interchangeable tools used side by side in some k-safe department.

    Sharing a capability is not enough (Excel and Word are both office tools): the catalog must say the
    applications do the same job. The leader is the most used; the spend at stake is what the investments
    that fund only the other tools cost.
    """
    apps_by_group: dict[str, set[str]] = {}
    departments: dict[str, list[str]] = {}
    for o in facts.usage.overlaps:
        apps_by_group.setdefault(o.capability, set()).update(o.apps)
        departments.setdefault(o.capability, []).append(o.department)
    data = data_confidence(facts.as_of, facts.usage.first_day)
    items = []
    for key, apps in sorted(apps_by_group.items()):
        focus = dict(facts.usage.overlap_focus_s.get(key, {}))
        total = sum(focus.values())
        leader = max(sorted(focus), key=lambda a: focus[a])
        others = sorted(apps - {leader})
        duplicates = [inv for inv in facts.strategy.investments.values() if set(inv.applications) <= set(others)]
        weight, initiative = _app_weight(facts, apps)
        # Who answers for the retirement: the owners of the investments that fund only the retired tools.
        retiring = sorted({inv.owner for inv in duplicates if inv.owner})
        owner = ", ".join(retiring) or (facts.strategy.initiatives[initiative].owner if initiative else None)
        gap = 1.0 - focus[leader] / total if total > 0 else 0.0
        other_names = ", ".join(facts.app_name(a) for a in others)
        funded = f"; duplicate spend: {', '.join(inv.name for inv in duplicates)}" if duplicates else ""
        items.append(
            Item(
                kind="applications",
                subject=key,
                name=f"{facts.app_name(leader)} and {other_names}",
                action="consolidate",
                reason=f"interchangeable; {gap:.0%} of their use is outside {facts.app_name(leader)}; "
                f"used side by side in {', '.join(sorted(departments[key]))}{funded}",
                initiative=initiative,
                weight=weight,
                gap=gap,
                wasted=sum(inv.annual_cost for inv in duplicates),
                confidence=data,
                effort=EFFORT["consolidate"],
                currency=_currency(inv.currency for inv in duplicates),
                owner=owner,
                decision=f"Standardise on {facts.app_name(leader)} and retire {other_names}",
            )
        )
    return items


def shadow_items(facts: Facts) -> list[Item]:
    """Sanction growing shadow IT (emergent strategy), retire the rest; priced only by the catalog's price."""
    growing = {c.app for c in emergent(facts)}
    data = data_confidence(facts.as_of, facts.usage.first_day)
    items = []
    for app in shadow_apps(facts):
        users = facts.usage.active_users[app]
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
        price = info.annual_cost_per_user if info else None
        priced = price is not None and price > 0
        currency = (info.currency or "") if info and priced else ""
        if priced:
            reason += f"; {users} users × {currency} {price:,.0f} a year (catalog price)"
        else:
            reason += "; no price in the catalog, so no cost"
        name = facts.app_name(app)
        if action == "sanction_shadow_it":
            decision = f"Sanction {name} (catalog it as sanctioned, with an owner) or offer an alternative"
        else:
            decision = f"Retire {name}; move its users to {', '.join(sorted(alternatives)) or 'a sanctioned tool'}"
        items.append(
            Item(
                kind="application",
                subject=app,
                name=name,
                action=action,
                reason=reason,
                weight=ORPHAN_WEIGHT,
                gap=1.0,
                wasted=users * (price or 0.0) if priced else 0.0,
                confidence=data,
                effort=EFFORT[action],
                currency=currency,
                decision=decision,
                priced=priced,
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
            owner=ini.owner,
            decision=f"Fund {ini.name} or drop it from the strategy",
        )
        for ini in facts.strategy.initiatives.values()
        if ini.id not in funded
    ]


def worth_doing(item: Item) -> bool:
    """False for a scored item with nothing to gain: money that rounds to 0, or no confidence at all."""
    money = item.money
    return money is None or (money >= MIN_MONEY and item.confidence > 0)


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
    # Unscored items (unfunded initiatives, unpriced shadow IT) go last unless a dependency pulls them forward.
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


def first_actions_first(items: Sequence[Item]) -> list[Item]:
    """Move each revisit_target to just after its investment's enable_and_train when it was ranked before it.

    Its effort is smaller, so it may outrank the training; but the right first step for a low investment is
    enabling its people, and the target is revisited only after that.
    """
    trained = {i.subject for i in items if i.action == "enable_and_train"}
    out: list[Item] = []
    held: dict[str, Item] = {}
    for item in items:
        if item.action == "revisit_target" and item.subject in trained:
            held[item.subject] = item
            continue
        out.append(item)
        if item.action == "enable_and_train" and item.subject in held:
            out.append(held.pop(item.subject))
    return out + list(held.values())


def order(items: Iterable[Item], depends_on: Mapping[str, Iterable[str]]) -> list[Item]:
    """Highest priority first, sequenced by initiative dependencies, training before revisiting a target."""
    ranked = first_actions_first(sorted(items, key=_sort_key))
    return [replace(item, after=after) for item, after in sequence(ranked, lambda i: i.initiative, depends_on)]


def roadmap(facts: Facts) -> list[Item]:
    """Every roadmap item worth doing, ranked by priority and sequenced by initiative dependencies."""
    items: list[Item] = []
    for inv in facts.strategy.investments.values():
        weight = facts.strategy.initiatives[inv.initiative].weight if inv.initiative else ORPHAN_WEIGHT
        items += investment_items(facts, inv, weight)
    items += overlap_items(facts) + shadow_items(facts) + unfunded_items(facts)
    kept = [item for item in items if worth_doing(item)]
    return order(kept, {i.id: i.depends_on for i in facts.strategy.initiatives.values()})


@dataclass(frozen=True)
class InitiativePriority:
    """An initiative's share of the roadmap: the sum of its items' priorities."""

    initiative: str
    name: str
    priority: float
    items: int
    depends_on: tuple[str, ...]


def initiative_ranking(facts: Facts, items: Iterable[Item]) -> list[InitiativePriority]:
    """Initiatives by total priority of their items, never before an initiative they depend on.

    Two actions on one subject (training, then revisiting the target) weigh the same money: the subject
    counts once, with its highest priority.
    """
    best: dict[str, dict[tuple[str, str], float]] = {}
    counts: dict[str, int] = {}
    for item in items:
        if item.initiative:
            subjects = best.setdefault(item.initiative, {})
            key = (item.kind, item.subject)
            subjects[key] = max(subjects.get(key, 0.0), item.priority or 0.0)
            counts[item.initiative] = counts.get(item.initiative, 0) + 1
    rows = [
        InitiativePriority(ini.id, ini.name, sum(best.get(ini.id, {}).values()), counts.get(ini.id, 0), ini.depends_on)
        for ini in facts.strategy.initiatives.values()
    ]
    rows.sort(key=lambda r: (-r.priority, r.initiative))
    depends = {i.id: i.depends_on for i in facts.strategy.initiatives.values()}
    return [row for row, _ in sequence(rows, lambda r: r.initiative, depends)]
