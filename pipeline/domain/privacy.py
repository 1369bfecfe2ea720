"""k-anonymity for breakdowns: a group covering fewer than k distinct users is never shown on its own."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TypeVar

from pipeline.domain.rules import K_ANONYMITY

OTHER = "other"

G = TypeVar("G")


def is_reportable(users: Collection[str], k: int = K_ANONYMITY) -> bool:
    """True when the group covers at least k distinct users."""
    return len(frozenset(users)) >= k


def drop_small(groups: Mapping[G, Collection[str]], k: int = K_ANONYMITY) -> dict[G, frozenset[str]]:
    """Keep only groups with at least k distinct users; the others are dropped."""
    return {name: frozenset(users) for name, users in groups.items() if is_reportable(users, k)}


def roll_up_small(
    groups: Mapping[str, Collection[str]], k: int = K_ANONYMITY, other: str = OTHER
) -> dict[str, frozenset[str]]:
    """Merge groups under k into one `other` bucket, which is itself dropped when it is still under k.

    Figures for `other` must be recomputed from its merged users, never summed from the small groups'
    figures. Dropping or merging stops a small group being read directly; a total published next to the
    kept groups can still let someone subtract, so callers should take totals over the kept groups only.
    """
    if other in groups:
        raise ValueError(f"a group is already named {other!r}: pick another name for the roll-up bucket")
    kept = drop_small(groups, k)
    merged = frozenset(user for name, users in groups.items() if name not in kept for user in users)
    if merged and is_reportable(merged, k):
        kept[other] = merged
    return kept


def shown_beside_a_total(sizes: Mapping[G, int], k: int = K_ANONYMITY) -> list[G]:
    """The groups that may be shown next to a published total over all of them, smallest first.

    Groups under k are left out; when what is left out then holds 1 to k - 1 people, subtracting the shown groups
    from the total would reveal it, so the smallest shown groups are left out too until it holds k or more
    (secondary suppression; pipeline/sql/departments.sql applies the same rule).
    """
    shown = sorted((g for g, n in sizes.items() if n >= k), key=lambda g: (sizes[g], str(g)))
    left_out = sum(n for n in sizes.values() if n < k)
    while shown and 0 < left_out < k:
        left_out += sizes[shown.pop(0)]
    return shown


S = TypeVar("S")
E = TypeVar("E")


def shown_together(
    members: Mapping[S, Collection[E]],
    people: Mapping[E, Collection[str]],
    importance: Sequence[S],
    k: int = K_ANONYMITY,
) -> list[S]:
    """The counts that may be published side by side, as a sub-list of `importance` (least important first).

    `members[s]` are the elements count s counts (devices, or groups of devices alike), `people[e]` the people behind
    element e. A count is shown only over k people or more; and since shown counts can be added and subtracted, the
    elements that lie in exactly the same shown counts (an atom) must be none or k people or more too (a 28-day count
    minus a 7-day one counts who went quiet for a week). While an atom holds 1 to k - 1 people, the
    counts that tell it from another atom (or from none, so that it is counted nowhere) are left out, picking the
    cheapest: never a more important count to keep less important ones (secondary suppression).
    """
    rank = {s: 1 << n for n, s in enumerate(importance)}  # an atom's signature: the bits of the counts it lies in

    def who(elements: Collection[E]) -> set[str]:
        return {person for e in elements for person in people[e]}

    shown = sum(rank[s] for s in importance if len(who(members[s])) >= k)
    signature: dict[E, int] = {}
    for s in importance:
        for e in members[s]:
            signature[e] = signature.get(e, 0) | rank[s]
    while True:
        atoms: dict[int, set[str]] = {}
        for e, bits in signature.items():
            if bits & shown:
                atoms.setdefault(bits & shown, set()).update(people[e])
        small = [a for a, persons in atoms.items() if len(persons) < k]
        if not small:
            return [s for s in importance if rank[s] & shown]
        # Leaving out the counts in which atom a and atom b differ merges them (b = 0: a is counted nowhere). As an
        # integer, that set of counts is the cheaper the less important its most important count.
        shown &= ~min(a ^ b for a in small for b in (*atoms, 0) if b != a)
