import pytest

from pipeline.domain.privacy import drop_small, is_reportable, roll_up_small, shown_beside_a_total


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
