import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.domain.privacy import drop_small, is_reportable, roll_up_small, shown_beside_a_total, shown_together


def users(prefix: str, n: int) -> set[str]:
    return {f"{prefix}{i}" for i in range(n)}


def test_four_users_suppressed_five_shown() -> None:
    assert not is_reportable(users("a", 4))
    assert is_reportable(users("a", 5))
    # Distinct users count, not rows.
    assert not is_reportable(["a", "a", "b", "c", "d"])


def test_drop_small_groups() -> None:
    groups = {"sales": users("s", 5), "hr": users("h", 4)}
    assert drop_small(groups) == {"sales": frozenset(users("s", 5))}
    assert drop_small(groups, k=4).keys() == {"sales", "hr"}


def test_roll_small_groups_into_other() -> None:
    groups = {"sales": users("s", 5), "hr": users("h", 3), "legal": users("l", 2)}
    assert roll_up_small(groups) == {
        "sales": frozenset(users("s", 5)),
        "other": frozenset(users("h", 3) | users("l", 2)),
    }


def test_other_bucket_under_k_is_dropped_too() -> None:
    groups = {"sales": users("s", 6), "hr": users("h", 2), "legal": users("l", 2)}
    assert roll_up_small(groups) == {"sales": frozenset(users("s", 6))}


def test_other_counts_distinct_users_across_small_groups() -> None:
    # The same 3 people appear in two small groups: 3 distinct users, still under 5.
    groups = {"sales": users("s", 5), "g1": users("x", 3), "g2": users("x", 3)}
    assert roll_up_small(groups) == {"sales": frozenset(users("s", 5))}


def test_other_name_collision_is_an_error() -> None:
    with pytest.raises(ValueError, match="already named"):
        roll_up_small({"other": users("o", 5)})


def test_what_a_total_would_reveal_is_left_out_too() -> None:
    # Legal's 4 people would follow from the total minus the others: the smallest other group goes too.
    assert shown_beside_a_total({"Sales": 12, "Support": 8, "Finance": 6, "Legal": 4}) == ["Support", "Sales"]
    # Left-out groups already holding k or more people reveal nobody: the rest is shown.
    assert shown_beside_a_total({"Sales": 12, "HR": 2, "Legal": 4}) == ["Sales"]  # 6 >= 5 left out: Sales stays
    assert shown_beside_a_total({"Sales": 12, "Support": 8}) == ["Support", "Sales"]  # nothing left out
    assert shown_beside_a_total({"Sales": 12, "Legal": 4}) == []  # one group beside the total is the total


def _one_each(elements: list[str]) -> dict[str, set[str]]:
    return {e: {e} for e in elements}  # one person per element (a device)


def test_a_count_whose_difference_from_another_singles_out_fewer_than_k_is_left_out() -> None:
    # 28 days: 7 devices; 7 days: 5 of them. 28d - 7d = the 2 that went quiet: the 7-day count goes.
    month, week = [f"d{i}" for i in range(7)], [f"d{i}" for i in range(5)]
    members = {"28d": month, "7d": week}
    assert shown_together(members, _one_each(month), ["7d", "28d"]) == ["28d"]
    # With k or more people in the difference, both are shown; a count under k is never shown.
    assert shown_together(members, _one_each(month), ["7d", "28d"], k=2) == ["7d", "28d"]
    assert shown_together({"28d": month, "1d": ["d0"]}, _one_each(month), ["1d", "28d"]) == ["28d"]
    # The difference counts people, not devices: the 2 quiet devices of people who also have a device in the 7-day
    # count are still 2 people.
    people = {**_one_each(week), "d5": {"d0"}, "d6": {"d1"}}
    assert shown_together(members, people, ["7d", "28d"]) == ["28d"]


def test_the_least_important_counts_that_merge_a_small_group_are_left_out() -> None:
    # Two ways to stop "silent" and "28d" singling out d5 (28d - 7d - silent): leave out the 7-day count, or the
    # silent one. Whichever comes first in importance goes; the other stays.
    everyone = [f"d{i}" for i in range(11)]
    members = {"28d": everyone, "7d": everyone[:5], "silent": everyone[6:]}  # d5: neither in 7d nor silent
    assert shown_together(members, _one_each(everyone), ["7d", "silent", "28d"]) == ["silent", "28d"]
    assert shown_together(members, _one_each(everyone), ["silent", "7d", "28d"]) == ["7d", "28d"]
    # A total beside its parts: the total minus the shown part is the other part's 2 people.
    parts = {"all": everyone[:7], "agent": everyone[:5], "osquery": everyone[5:7]}
    assert shown_together(parts, _one_each(everyone), ["agent", "osquery", "all"]) == ["all"]
    assert shown_together(parts, _one_each(everyone), ["all", "osquery", "agent"]) == ["agent"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=14),
    st.lists(st.lists(st.integers(0, 13), max_size=14), min_size=1, max_size=6),
    st.integers(1, 4),
)
def test_no_sum_or_difference_of_the_shown_counts_singles_out_fewer_than_k(
    owners: list[str], sets: list[list[int]], k: int
) -> None:
    """Elements are devices with an owner each; counts are sets of them. Any sum and difference of shown counts is a
    sum of atoms (elements in exactly the same shown counts): each must hold no one or k people or more."""
    people = {n: {owner} for n, owner in enumerate(owners)}
    members = {f"c{i}": {n for n in s if n in people} for i, s in enumerate(sets)}
    shown = shown_together(members, people, list(members), k)
    assert shown == [c for c in members if c in shown]  # in the order given
    for c in shown:
        assert len({p for n in members[c] for p in people[n]}) >= k
    atoms: dict[frozenset[str], set[str]] = {}
    for n, owner in people.items():
        inside = frozenset(c for c in shown if n in members[c])
        if inside:
            atoms.setdefault(inside, set()).update(owner)
    assert all(len(who) >= k for who in atoms.values())
    if len(members) == 1 and len({owners[n] for n in members["c0"]}) >= k:
        assert shown == ["c0"]  # nothing to subtract from: a count over k people is shown
