"""Which of several `alignmon pipeline` processes writes: the member Kafka's group coordinator gives the lease.

Standby mode (ALIGNMON_STANDBY): every process joins one consumer group on a one-partition topic that holds no
records; the coordinator assigns that partition to exactly one member. When that member stops heartbeating (killed,
machine lost, network cut) for the session timeout, the coordinator takes it back and gives it to a waiting member.
The sticky assignor leaves it where it is when a standby joins or leaves. The group reads and commits nothing: the
pipeline's offsets of the events topic stay in its DuckDB file.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kafka import KafkaConsumer
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.errors import KafkaError

from base.kafka_security import PLAINTEXT, KafkaSecurity
from pipeline.consumer import check_reachable
from pipeline.errors import BrokerUnavailableError

log = logging.getLogger(__name__)

MAX_POLL_S = 600  # the lease thread polls every POLL_MS; a thread stalled this long leaves the group
POLL_MS = 200
METADATA_MAX_AGE_MS = 5000
WAIT_S = 0.1


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


def _finish_joins(coordinator: Any) -> None:
    """Keep kafka-python 3.0.12 from forgetting a join that a poll's timeout interrupted.

    Its join loop runs while `need_rejoin()`; for a rejoin over new metadata (the lease topic just created) the
    leader's assignment makes that False before the SyncGroup answer arrives. A poll that times out in between leaves
    the answer unread: the member stays "rebalancing" with its heartbeats off, is never assigned and drops out of the
    group — CI saw a lone member never take the lease. A join in flight, or finished but not yet taken in, is a join
    still needed, as in the Java client and kafka-python 2.x (dpkp/kafka-python#1695).
    """
    assert coordinator._join_task is None  # a version without it fails at start, not by never joining
    needed = coordinator.need_rejoin
    coordinator.need_rejoin = lambda: needed() or coordinator._join_task is not None


class Lease:
    """Membership of the writers' group, kept by a thread of its own; `held()` says whether this process writes.

    The thread polls the group (joins and rebalances complete only inside a poll that waits), so the work of the
    process — a long rebuild, a long refresh — never delays it. `held()` is also False once no heartbeat has been
    acknowledged for half the session timeout: a process that was paused (SIGSTOP, a stalled disk or VM) may have
    lost the lease without being told yet, and stops writing at its next step (docs/operations.md, Fencing).
    """

    def __init__(
        self, bootstrap: str, topic: str, group: str, timeout_s: float, security: KafkaSecurity = PLAINTEXT
    ) -> None:
        self.topic = topic
        self._timeout_s = timeout_s
        self._holder = _Holder()
        # BrokerUnavailableError (transient) at once, not after kafka-python's 30 s; KafkaRefusedError (terminal)
        check_reachable(bootstrap, security=security)
        try:
            self._consumer = self._join(bootstrap, group, int(timeout_s * 1000), security)
        except KafkaError as exc:
            raise BrokerUnavailableError(bootstrap, exc) from exc
        # kafka-python's heartbeat clocks (time.monotonic()); read here so that a version without them fails at start.
        self._heartbeat = self._consumer._coordinator.heartbeat
        assert isinstance(self._heartbeat.last_receive, float) and isinstance(self._heartbeat.last_send, float)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="pipeline-lease", daemon=True)
        self._thread.start()

    def _join(self, bootstrap: str, group: str, timeout_ms: int, security: KafkaSecurity) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id="alignmon-pipeline-lease",
            enable_auto_commit=False,
            session_timeout_ms=timeout_ms,
            heartbeat_interval_ms=max(timeout_ms // 6, 100),
            max_poll_interval_ms=MAX_POLL_S * 1000,
            partition_assignment_strategy=[StickyPartitionAssignor],
            # A member that joined before the topic's metadata reached it was assigned nothing and would rejoin only
            # at the next refresh (5 min by default): a CI run saw a lone member wait past 90 s for its lease.
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
            **security.options(),
        )
        _finish_joins(consumer._coordinator)
        deadline = time.monotonic() + timeout_ms / 1000
        while not consumer.partitions_for_topic(self.topic) and time.monotonic() < deadline:
            time.sleep(WAIT_S)  # just created (pipeline/process.py): wait until this client's metadata has it
        consumer.subscribe([self.topic], listener=self._holder)
        return consumer

    def _keep(self) -> None:
        """The lease thread: the only user of the consumer until close()."""
        while not self._closing.is_set():
            try:
                self._consumer.poll(timeout_ms=POLL_MS, max_records=1)  # the topic holds no records
            except KafkaError as exc:  # the broker away: the heartbeats lapse and held() turns False by itself
                log.warning("the writers' lease cannot reach Kafka: %s", exc)
                self._closing.wait(1.0)
            except Exception:  # a dead thread would keep no lease: held() says so, and the log why
                log.exception("the writers' lease thread failed")
                raise

    def held(self) -> bool:
        """Whether this member holds the lease and heard from the coordinator within half the session timeout."""
        if not self._holder.held or not self._thread.is_alive():
            return False
        heartbeat = self._heartbeat
        # The acknowledged heartbeat was sent no later than both clocks: the send of the last one, and the handling of
        # the last answer (a reply handled after a pause is stamped late; its send is not). A rejoin resets neither.
        heard = min(heartbeat.last_receive, heartbeat.last_send)
        return bool(time.monotonic() - heard < self._timeout_s / 2)

    def alive(self) -> bool:
        """Whether the thread that keeps this member in the group runs (a standby without it never takes over)."""
        return self._thread.is_alive()

    def wait(self, stopping: threading.Event) -> bool:
        """Block until this member holds the lease (True) or `stopping` is set (False)."""
        while not stopping.is_set():
            if self.held():
                return True
            stopping.wait(WAIT_S)
        return False

    def close(self) -> None:
        """Leave the group at once: a standby takes the lease without waiting for the session timeout."""
        self._closing.set()
        self._thread.join()
        self._consumer.close(autocommit=False)
