"""The writers' lease on a real broker: one holder, a group that stays settled, a hand-over when the holder leaves.

The pipeline-level behaviour (kill -9, a paused writer stepping down) is in test_standby.py with real processes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaAdminClient

import pipeline.lease as lease_module
from alignmon.stack.kafka import ensure_topics
from pipeline.lease import Lease

pytestmark = pytest.mark.integration


def test_one_member_holds_the_lease_the_group_stays_settled_and_a_leaving_holder_hands_it_over(
    kafka_bootstrap: str, wait_for: Callable[..., Any]
) -> None:
    topic, group = f"lease.{uuid.uuid4().hex[:8]}", f"writers.{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, {topic: 1})
    first = Lease(kafka_bootstrap, topic, group, 6)
    wait_for(first.held, timeout=30, what="the first member's lease")
    second = Lease(kafka_bootstrap, topic, group, 6)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:

        def settled() -> bool:
            g = admin.describe_groups([group])[group]
            return bool(g["group_state"] == "Stable" and len(g["members"]) == 2)

        wait_for(settled, timeout=30, what="both members in a settled group")
        # Settled: for three seconds the group is Stable every time it is looked at, and the holder never changes
        # (a member that kept restarting its join would keep the group rebalancing).
        for _ in range(12):
            assert settled()
            assert (first.held(), second.held()) == (True, False)
            time.sleep(0.25)
        first.close()  # leaves the group: the other member takes the lease without a session timeout
        wait_for(second.held, timeout=30, what="the hand-over")
    finally:
        second.close()
        admin.close()


def test_a_member_whose_polls_time_out_in_the_middle_of_joining_still_takes_the_lease(
    kafka_bootstrap: str, wait_for: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polls of 1 ms end inside every join, as a loaded machine's 200 ms polls sometimes do: without
    pipeline.lease._finish_joins, kafka-python forgot the rejoin that follows the new lease topic's metadata, and most
    lone members here never held the lease (8 of 10 in a loop of this test's steps)."""
    monkeypatch.setattr(lease_module, "POLL_MS", 1)
    for _ in range(5):
        topic = f"lease.{uuid.uuid4().hex[:8]}"
        ensure_topics(kafka_bootstrap, {topic: 1})  # just created, as a pipeline's first start does
        lease = Lease(kafka_bootstrap, topic, f"writers.{uuid.uuid4().hex[:8]}", 6)
        try:
            wait_for(lease.held, timeout=30, what="the lone member's lease")
        finally:
            lease.close()
