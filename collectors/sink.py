"""Where accepted events go: a Kafka producer, or an in-memory stand-in for unit tests.

Both honour one contract, checked by the same test suite: `send` delivers records (collectors.record:
one or several events of one device each) in order and returns how many leading records are durably
acknowledged; the caller keeps the rest.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from base.errors import AlignmonError
from base.kafka_security import PLAINTEXT, KafkaSecurity, Refusal
from collectors.record import Record

log = logging.getLogger(__name__)

RECHECK_S = 30.0  # the sink asks the cluster whether it takes this client at most this often
# Producer errors that name an authentication or TLS failure (kafka-python seldom gives them: a refused login or
# certificate mostly shows as "Unable to bootstrap", see KafkaSink._may_be_refused).
_REFUSAL_ERRORS = ("SaslAuthenticationFailedError", "UnsupportedSaslMechanismError", "IllegalSaslStateError")


# Producer errors that a retry of the same records cannot cure (kafka-python marks them non-retriable):
# the broker refuses the records themselves or this producer's configuration.
PERMANENT_ERRORS = (
    "InvalidTimestampError",
    "MessageSizeTooLargeError",
    "RecordListTooLargeError",
    "InvalidRecordError",
    "InvalidTopicError",
    "InvalidRequiredAcksError",
    "PolicyViolationError",
    "TopicAuthorizationFailedError",
    "ClusterAuthorizationFailedError",
    "UnsupportedForMessageFormatError",
    "UnsupportedCompressionTypeError",
)


def is_permanent(exc: BaseException) -> bool:
    """Whether a producer error refuses the records for good (a clock far off, a record too large, no access)."""
    return any(cls.__name__ in PERMANENT_ERRORS for cls in type(exc).__mro__)


class ProducerRefusedError(AlignmonError):
    """Kafka refused records for good; `acked` leading records were acknowledged before."""

    def __init__(self, acked: int, kind: str, reason: str) -> None:
        super().__init__(f"Kafka refuses the events ({kind}): {reason}")
        self.acked = acked
        self.kind = kind
        self.reason = reason


class Sink(Protocol):
    """Somewhere records become durable."""

    def send(self, records: Sequence[Record]) -> int:
        """Deliver in order; returns how many leading records are acknowledged (all on success).

        Raises ProducerRefusedError when the destination refuses records for good.
        """
        ...

    def reachable(self) -> bool:
        """Whether the destination answers right now (for health checks)."""
        ...

    def close(self) -> None: ...


class MemorySink:
    """An in-memory sink for unit tests; `up = False` makes it fail like an unreachable Kafka."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.up = True
        self.fail_after: int | None = None  # acknowledge only this many records of the next send
        self.refuse: str | None = None  # refuse every send for good, with this reason
        self._lock = threading.Lock()

    def send(self, records: Sequence[Record]) -> int:
        with self._lock:
            if not self.up:
                return 0
            if self.refuse is not None:
                raise ProducerRefusedError(0, "InvalidTimestampError", self.refuse)
            count = len(records) if self.fail_after is None else min(self.fail_after, len(records))
            self.fail_after = None
            self.records.extend(records[:count])
            return count

    def reachable(self) -> bool:
        return self.up

    def close(self) -> None:
        pass


def bootstrap_reachable(bootstrap: str, timeout_s: float = 0.5) -> bool:
    """Whether any bootstrap server accepts a TCP connection."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


class KafkaSink:
    """An idempotent, acks=all, batching Kafka producer that gives up within a few seconds.

    The producer's own delivery timeout is shorter than our wait, so every future resolves (acked or
    failed) before we stop waiting: a record we report as not acknowledged is not still in flight.
    After a failure the producer is closed at once and a fresh one is made for the next send; while one thread makes
    it, the others wait for that one attempt only, never for a second.

    With TLS or SASL (`security`), a certificate the cluster does not trust or a wrong password refuses the records for
    good (ProducerRefusedError, with the one-line reason) instead of looking like an outage. The commands ask the
    cluster when they start (KafkaSecurity.check); the sink asks again only after a failure that may be a refusal,
    at most once per `recheck_s`, within one deadline (`timeout_s`), on the failing thread and outside the lock: no
    other send waits for it. A refusal found is answered at once until it is asked again.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        timeout_s: float = 5.0,
        linger_ms: int = 10,
        batch_size: int = 512 * 1024,
        clock: Callable[[], float] | None = None,
        security: KafkaSecurity = PLAINTEXT,
        recheck_s: float = RECHECK_S,
    ) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.topic = topic
        self.timeout_s = timeout_s
        self.linger_ms = linger_ms
        self.batch_size = batch_size
        self.clock = clock  # record timestamps in seconds; None lets the producer stamp them
        self.recheck_s = recheck_s
        self._producer: Any = None
        self._lock = threading.Lock()
        self._failed_makes = 0  # producers that could not be made (read before waiting for the lock)
        self._refusal: Refusal | None = None  # what the cluster said when last asked: it refuses this client
        self._asked_at = float("-inf")  # when it was last asked (time.monotonic())
        self._asking = threading.Lock()  # held by the one thread asking it

    def _config(self) -> dict[str, Any]:
        delivery_ms = int(self.timeout_s * 1000)
        request_ms = max(1000, delivery_ms - self.linger_ms - 500)
        return {
            "bootstrap_servers": self.bootstrap.split(","),
            "client_id": "alignmon-gateway",
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": self.linger_ms,
            "batch_size": self.batch_size,
            "max_request_size": max(1024 * 1024, self.batch_size * 2),
            "delivery_timeout_ms": delivery_ms,
            "request_timeout_ms": request_ms,
            "max_block_ms": request_ms,
            "bootstrap_timeout_ms": request_ms,
            "reconnect_backoff_max_ms": 1000,
            **self.security.options(),
        }

    def _get(self) -> Any:
        """The producer, made if there is none; None when another thread's attempt to make one failed meanwhile."""
        failed = self._failed_makes
        with self._lock:
            if self._producer is None:
                if self._failed_makes != failed:
                    return None  # it failed while this thread waited: no second wait for the same outage
                from kafka import KafkaProducer  # noqa: PLC0415  (slow import; only when producing)

                try:
                    self._producer = KafkaProducer(**self._config())
                except BaseException:
                    self._failed_makes += 1
                    raise
            return self._producer

    def _standing_refusal(self) -> Refusal | None:
        """The refusal the cluster last answered, asked again (outside the lock) once it is `recheck_s` old."""
        if self._refusal is None or time.monotonic() - self._asked_at < self.recheck_s:
            return self._refusal
        return self._ask()

    def _may_be_refused(self, exc: BaseException, making: bool) -> bool:
        """Whether a failure may be the cluster refusing this client, so worth asking it.

        kafka-python names few refusals: a wrong password or a certificate either side refuses mostly ends in
        "Unable to bootstrap" when a producer is made, as an outage does; then a bootstrap server that accepts
        connections is the tell. A cluster that accepts none is away: nothing to ask.
        """
        if self.security.protocol == "PLAINTEXT":
            return False  # it asks nothing, so nothing is refused
        if type(exc).__name__ in _REFUSAL_ERRORS or "Handshake failed" in str(exc):
            return True
        return making and bootstrap_reachable(self.bootstrap)

    def _ask(self) -> Refusal | None:
        """Ask the cluster whether it refuses this client, within `timeout_s`; a thread that finds another asking does
        not wait for it and gets the last answer."""
        if not self._asking.acquire(blocking=False):
            return self._refusal
        try:
            found = self.security.refusal(self.bootstrap, self.timeout_s)
            self._refusal, self._asked_at = found, time.monotonic()
            return found
        finally:
            self._asking.release()

    def _after_failure(self, exc: BaseException, making: bool) -> None:
        """Raise ProducerRefusedError when the cluster, asked (at most once per `recheck_s`), refuses this client."""
        if time.monotonic() - self._asked_at < self.recheck_s or not self._may_be_refused(exc, making):
            return
        found = self._ask()
        if found is not None:
            raise ProducerRefusedError(0, found.kind, found.message)

    def _discard(self, producer: Any) -> None:
        with self._lock:
            if self._producer is producer:
                self._producer = None
        try:
            producer.close(timeout=0)
        except Exception:  # close() flushes first and raises if a batch is still pending
            log.debug("closing a failed producer raised", exc_info=True)
            # Abort what is left so it cannot reach Kafka after the caller spooled it (a duplicate).
            sender = getattr(producer, "_sender", None)
            if sender is not None:
                sender.force_close()

    def send(self, records: Sequence[Record]) -> int:
        from kafka.errors import KafkaError  # noqa: PLC0415

        if not records:
            return 0
        if (refusal := self._standing_refusal()) is not None:
            raise ProducerRefusedError(0, refusal.kind, refusal.message)
        try:
            producer = self._get()
        except (KafkaError, OSError, ValueError) as exc:
            log.warning("Kafka at %s is not reachable: %s", self.bootstrap, exc)
            self._after_failure(exc, making=True)
            return 0
        if producer is None:
            return 0
        futures = []
        refused: BaseException | None = None
        first: BaseException | None = None  # the first failure, for _after_failure
        try:
            for record in records:
                stamp = None if self.clock is None else int(self.clock() * 1000)
                futures.append(producer.send(self.topic, key=record.key, value=record.value, timestamp_ms=stamp))
        except KafkaError as exc:
            log.warning("producing to Kafka failed: %s", exc)
            first = exc
            if is_permanent(exc):
                refused = exc
        # Wait for every future, even after a failure: once all have resolved, none can be delivered
        # late (after the caller spooled it), and the producer can be closed without waiting.
        deadline = time.monotonic() + self.timeout_s + 2.0
        acked, failed = 0, False
        for future in futures:
            try:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # any failure means not acknowledged: the caller spools it
                if not failed:
                    log.warning("Kafka did not acknowledge a record: %s", exc or type(exc).__name__)
                    refused = exc if is_permanent(exc) else None
                    first = first or exc
                failed = True
                continue
            if not failed:
                acked += 1
        if acked < len(records):
            self._discard(producer)
            if refused is not None:
                raise ProducerRefusedError(acked, type(refused).__name__, str(refused) or type(refused).__name__)
            if first is not None:
                try:
                    self._after_failure(first, making=False)
                except ProducerRefusedError as exc:
                    raise ProducerRefusedError(acked, exc.kind, exc.reason) from None
        return acked

    def reachable(self) -> bool:
        return bootstrap_reachable(self.bootstrap)

    def close(self, timeout_s: float = 5.0) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=timeout_s)
            except Exception:
                log.debug("closing the producer raised", exc_info=True)
