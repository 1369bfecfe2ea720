"""Which of several `alignmon pipeline` processes writes: the member Kafka's group coordinator gives the lease.

Standby mode (ALIGNMON_STANDBY): every process joins one consumer group on a one-partition topic that holds no
records; the coordinator assigns that partition to exactly one member. When that member stops heartbeating (killed,
machine lost, network cut) for the session timeout, or stops polling for MAX_POLL_S, the coordinator takes it back
and gives it to a waiting member. The sticky assignor leaves it where it is when a standby joins or leaves. The
group reads and commits nothing: the pipeline's offsets of the events topic stay in its DuckDB file.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.errors import KafkaError

from pipeline.consumer import check_reachable
from pipeline.errors import BrokerUnavailableError

log = logging.getLogger(__name__)

MAX_POLL_S = 600  # a writer whose loop has not polled for this long (hung) loses the lease
WAIT_POLL_MS = 500


class _Holder(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tracks whether the last completed assignment gave this member the partition.

    Revocation alone does not end the lease: the eager protocol revokes everything before every rebalance, also one
    in which the sticky assignor hands the partition straight back (a standby joining).
    """

    def __init__(self) -> None:
        self.held = False

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.held = bool(assigned)

    def on_partitions_lost(self, lost: Any) -> None:  # the session expired: another member may hold it now
        self.held = False


class Lease:
    """Membership of the writers' group; `held()` says whether this process is the writer."""

    def __init__(self, bootstrap: str, topic: str, group: str, timeout_s: float) -> None:
        self.topic = topic
        self._holder = _Holder()
        timeout_ms = int(timeout_s * 1000)
        check_reachable(bootstrap)  # BrokerUnavailableError (transient) at once, not after kafka-python's 30 s
        try:
            self._consumer = self._join(bootstrap, group, timeout_ms)
        except KafkaError as exc:
            raise BrokerUnavailableError(bootstrap, exc) from exc

    def _join(self, bootstrap: str, group: str, timeout_ms: int) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id="alignmon-pipeline-lease",
            enable_auto_commit=False,
            session_timeout_ms=timeout_ms,
            heartbeat_interval_ms=max(timeout_ms // 3, 100),
            max_poll_interval_ms=MAX_POLL_S * 1000,
            partition_assignment_strategy=[StickyPartitionAssignor],
        )
        consumer.subscribe([self.topic], listener=self._holder)
        return consumer

    def held(self, wait_ms: int = 0) -> bool:
        """Drive the group protocol (heartbeats run in their own thread; joins and rebalances need a poll) and say
        whether this member holds the lease."""
        self._consumer.poll(timeout_ms=wait_ms, max_records=1)  # the topic holds no records: nothing is read
        return self._holder.held and TopicPartition(self.topic, 0) in self._consumer.assignment()

    def wait(self, stopping: threading.Event) -> bool:
        """Block until this member holds the lease (True) or `stopping` is set (False)."""
        while not stopping.is_set():
            if self.held(WAIT_POLL_MS) and not stopping.is_set():
                return True
        return False

    def close(self) -> None:
        """Leave the group at once: a standby takes the lease without waiting for the session timeout."""
        self._consumer.close(autocommit=False)
