"""The privacy policy's pseudonym caches: one per policy, so per key, bounded, and the same values as uncached."""

from __future__ import annotations

import dataclasses

from base.pseudonym import pseudonymise, pseudonymise_device
from collectors.event import UsageEvent
from collectors.policy import PSEUDONYM_CACHE, PrivacyPolicy


def test_cached_pseudonyms_are_the_keyed_ones() -> None:
    policy = PrivacyPolicy(b"key-a")
    for _ in range(3):
        assert policy.user_pseudonym(" Alice ") == pseudonymise("alice", b"key-a")
        assert policy.device_pseudonym("LAPTOP-1") == pseudonymise_device("LAPTOP-1", b"key-a")
    assert policy.user_pseudonym.cache_info().hits == 2  # type: ignore[attr-defined]
    # A user and a device of the same name are two pseudonyms (two domains), not one cache entry.
    assert policy.user_pseudonym("LAPTOP-1") != policy.device_pseudonym("LAPTOP-1")


def test_another_key_is_another_cache() -> None:
    first = PrivacyPolicy(b"key-a")
    assert first.user_pseudonym("alice") == pseudonymise("alice", b"key-a")
    for other in (PrivacyPolicy(b"key-b"), dataclasses.replace(first, key=b"key-b")):
        assert other.user_pseudonym.cache_info().currsize == 0  # type: ignore[attr-defined]
        assert other.user_pseudonym("alice") == pseudonymise("alice", b"key-b") != first.user_pseudonym("alice")
        assert other.device_pseudonym("pc") == pseudonymise_device("pc", b"key-b")
    assert first.user_pseudonym("alice") == pseudonymise("alice", b"key-a")  # the first key's values stay its own


def test_the_cache_is_bounded() -> None:
    policy = PrivacyPolicy(b"key-a")
    for n in range(PSEUDONYM_CACHE + 100):  # a device inventing user names does not grow the gateway's memory
        policy.user_pseudonym(f"invented-{n}")
    assert policy.user_pseudonym.cache_info().currsize == PSEUDONYM_CACHE  # type: ignore[attr-defined]
    assert policy.user_pseudonym("invented-0") == pseudonymise("invented-0", b"key-a")


def test_apply_uses_the_policys_key() -> None:
    event = UsageEvent.model_validate(
        {"event_id": "e1", "kind": "focus", "device_id": "pc-1", "user": "Alice", "app": "code.exe",
         "start": "2026-11-02T09:00:00+01:00", "duration_s": 60.0, "source": "agent"}
    )  # fmt: skip
    (a,) = PrivacyPolicy(b"key-a").apply(event)
    (b,) = PrivacyPolicy(b"key-b").apply(event)
    assert (a.user, a.device_id) == (pseudonymise("Alice", b"key-a"), pseudonymise_device("pc-1", b"key-a"))
    assert (b.user, b.device_id) == (pseudonymise("Alice", b"key-b"), pseudonymise_device("pc-1", b"key-b"))


def test_another_directory_keeps_the_pseudonyms_computed_so_far() -> None:
    """The gateway's directory reload: same key, so the remembered pseudonyms stay (no cold cache after a feed)."""
    policy = PrivacyPolicy(b"k" * 32, departments={"u": "Sales"})
    policy.user_pseudonym("Alice")
    moved = policy.with_departments({"u": "Legal"})
    assert moved.departments == {"u": "Legal"} and policy.departments == {"u": "Sales"}
    assert moved.user_pseudonym is policy.user_pseudonym and moved.user_pseudonym.cache_info().currsize == 1
