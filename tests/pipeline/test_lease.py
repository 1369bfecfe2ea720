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
