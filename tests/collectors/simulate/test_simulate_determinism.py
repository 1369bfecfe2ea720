"""Same seed, same fleet; every day generated on its own; ids as the event contract defines them."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from base.pseudonym import pseudonymise
from collectors.event import deterministic_id
from collectors.simulate import Organisation
from collectors.simulate.event_ids import simulator_event_id

DAY = date(2026, 3, 2)  # a Monday


def test_same_seed_gives_identical_events_and_ids() -> None:
    a = Organisation.build(7, 1.0, DAY)
    b = Organisation.build(7, 1.0, DAY)
    first = list(a.dicts_for_day(DAY))
    assert len(first) > 1000
    assert first == list(b.dicts_for_day(DAY))
    assert list(a.events_for_day(DAY)) == list(b.events_for_day(DAY))


def test_different_seed_gives_different_events() -> None:
    a = list(Organisation.build(7, 1.0, DAY).dicts_for_day(DAY))
    b = list(Organisation.build(8, 1.0, DAY).dicts_for_day(DAY))
    assert {e["event_id"] for e in a}.isdisjoint({e["event_id"] for e in b})
    # Not just other ids: other devices, times and durations.
    assert {e["device_id"] for e in a}.isdisjoint({e["device_id"] for e in b})
    assert [(e["start"], e["duration_s"]) for e in a] != [(e["start"], e["duration_s"]) for e in b]


def test_seeds_that_random_treats_alike_still_differ() -> None:
    # random.Random(n) and random.Random(-n) are the same generator; the fleet must not be.
    a = [e["start"] for e in Organisation.build(5, 1.0, DAY).dicts_for_day(DAY)]
    b = [e["start"] for e in Organisation.build(-5, 1.0, DAY).dicts_for_day(DAY)]
    assert a != b


def test_a_day_does_not_depend_on_other_days_generated() -> None:
    alone = list(Organisation.build(3, 1.0, DAY).dicts_for_day(DAY))
    busy = Organisation.build(3, 1.0, DAY)
    for n in (5, -3, 1, -1):
        list(busy.dicts_for_day(DAY + timedelta(days=n)))
    assert list(busy.dicts_for_day(DAY)) == alone


def test_backfill_is_the_days_ending_at_as_of_oldest_first() -> None:
    wednesday = DAY + timedelta(days=2)
    org = Organisation.build(3, 1.0, wednesday)
    days = [DAY, DAY + timedelta(days=1), wednesday]
    assert org.backfill_days(3) == days
    assert list(org.backfill(3)) == [e for day in days for e in org.events_for_day(day)]


def test_event_ids_are_the_contracts_deterministic_ids() -> None:
    org = Organisation.build(11, 1.0, DAY)
    per_user: Counter[str] = Counter()
    for event in org.events_for_day(DAY):
        index = per_user[event.user]
        per_user[event.user] += 1
        expected = deterministic_id("simulator", 11, event.user, event.device_id, DAY.isoformat(), index)
        assert event.event_id == expected


def test_fast_id_matches_deterministic_id_on_awkward_input() -> None:
    for seed, user, device, day, index in [
        (0, "a", "d", "2026-01-01", 0),
        (-12, "hr.008", "dev-x", "2030-12-31", 123456),
        (2**40, "ümlaut.001", "dév", "1999-01-01", 7),
    ]:
        assert simulator_event_id(seed, user, device, day, index) == deterministic_id(
            "simulator", seed, user, device, day, index
        )


def test_ids_are_unique_across_a_backfill() -> None:
    org = Organisation.build(42, 1.0, DAY)
    ids = [e["event_id"] for day in org.backfill_days(28) for e in org.dicts_for_day(day)]
    assert len(ids) == len(set(ids))


def test_pseudonymised_events_carry_the_gateways_pseudonyms_and_the_same_ids() -> None:
    key = b"test-key"
    org = Organisation.build(42, 1.0, DAY)
    raw = list(org.events_for_day(DAY))
    hidden = list(org.events_for_day(DAY, pseudonymise_with=key, with_department=True))
    assert len(raw) == len(hidden)
    departments = dict(org.directory_rows())
    for plain, masked in zip(raw, hidden, strict=True):
        assert masked.user == pseudonymise(plain.user, key)
        assert masked.user.startswith("u_") and plain.user not in masked.user
        assert masked.department == departments[plain.user]
        assert masked.event_id == plain.event_id  # a re-run with or without the key is the same event


def test_scale_multiplies_users_but_legal_stays_below_k() -> None:
    small = Organisation.build(42, 1.0, DAY)
    big = Organisation.build(42, 3.0, DAY)
    sizes = dict(small.departments)
    assert sizes == {"Sales": 60, "Support": 40, "Engineering": 80, "Finance": 15, "HR": 8, "Legal": 4}
    assert dict(big.departments) == {
        "Sales": 180,
        "Support": 120,
        "Engineering": 240,
        "Finance": 45,
        "HR": 24,
        "Legal": 4,
    }
    assert len(big.users) == 613
    assert Counter(d for _, d in big.directory_rows())["Legal"] == 4
