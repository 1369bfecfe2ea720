import pytest

from pipeline.domain.privacy import drop_small, is_reportable, roll_up_small


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
