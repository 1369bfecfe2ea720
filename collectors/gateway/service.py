"""The gateway's logic: authenticate, rate-limit, validate, apply the privacy policy, deliver durably.

Delivery rule: an event is acknowledged to the client only once Kafka has acknowledged it or it is
fsynced in the disk spool. While the spool holds anything, new events are appended behind it, and a
background thread replays it to Kafka in order, so each device's events keep their order.

When Kafka refuses events for good (a producer error no retry cures, such as timestamps out of the
broker's range), requests are answered 503 with the reason instead of filling the spool. When the
spool cannot record that replayed events left it (disk full), the position Kafka acknowledged is
kept in memory and only the commit is retried, with exponential backoff: the batch is not re-sent.

Kafka gets packed records (collectors.record: a request's events become one record per 500). The spool
keeps one event per spool record, so its depth and the spooled, replayed and refused counts count events
as they go to Kafka; replay packs consecutive events of a device again before sending. The client's
`accepted` (and the accepted metric) counts the events the device sent: at `hour` or `day` time
granularity the policy splits a span that crosses local midnight into one event per day, and the pieces
of one accepted event count once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from pydantic import ValidationError

from base.errors import TransientError
from base.settings import Settings
from collectors.event import UsageEvent, window
from collectors.gateway.errors import GatewayError
from collectors.gateway.metrics import GatewayMetrics
from collectors.gateway.ratelimit import RateLimiter, retry_after
from collectors.gateway.tokens import TokenStore
from collectors.policy import PrivacyPolicy
from collectors.record import Record, from_bytes, pack, runs, to_bytes
from collectors.sink import KafkaSink, ProducerRefusedError, Sink
from collectors.spool import Batch, Spool

log = logging.getLogger(__name__)

MAX_ERRORS = 100  # error entries listed in one answer; the rejected count stays exact
REPLAY_BATCH = 5000  # events per replay round: a few packed records, a few MiB at most
MAX_BACKOFF_S = 60.0  # longest wait between replay (or spool commit) attempts
LOG_EVERY_S = 60.0  # a failure that persists is logged at most this often


class KafkaUnavailableError(TransientError):
    """Kafka did not acknowledge a whole batch; what it did acknowledge is committed, the rest waits."""


class SpoolCommitError(TransientError):
    """Kafka has the replayed events but the spool could not record it; only the commit is retried."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EventError:
    """Why one event of a batch was rejected; `field` is a dotted path or None for the whole event."""

    index: int
    field: str | None
    message: str


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: int = 0
    errors: list[EventError] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "errors": [{"index": e.index, "field": e.field, "message": e.message} for e in self.errors],
        }


class GatewayService:
    """Everything behind the HTTP layer; build it with `from_settings`, then `start()` and `stop()`."""

    def __init__(
        self,
        *,
        tokens: TokenStore,
        sink: Sink,
        spool: Spool,
        policy: PrivacyPolicy,
        limiter: RateLimiter,
        max_body_bytes: int,
        clock: Callable[[], datetime] = _utcnow,
        metrics: GatewayMetrics | None = None,
        replay_backoff_s: float = 1.0,
        auth_limiter: RateLimiter | None = None,
        max_json_depth: int = 8,
        max_events: int = 5000,
        body_timeout_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        event_bounds: dict[str, Any] | None = None,
    ) -> None:
        self.tokens = tokens
        self.event_bounds = event_bounds or {}
        self.sink = sink
        self.spool = spool
        self.policy = policy
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes
        self.auth_limiter = auth_limiter if auth_limiter is not None else RateLimiter(0, 1)
        self.max_json_depth = max_json_depth
        self.max_events = max_events
        self.body_timeout_s = body_timeout_s
        self.clock = clock
        self._monotonic = monotonic
        self._refusal: ProducerRefusedError | None = None  # why Kafka refuses events for good, while it does
        self._unrecorded: tuple[Batch, int] | None = None  # replayed and acknowledged, not yet committed
        self._commit_error: str | None = None
        self._last_commit_log = float("-inf")
        self.metrics = metrics if metrics is not None else GatewayMetrics()
        self.metrics.track_spool(lambda: self.spool.depth)
        self._replay_backoff_s = replay_backoff_s
        self._route = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._replayer: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sink: Sink | None = None,
        tokens: TokenStore | None = None,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        metrics: GatewayMetrics | None = None,
        produce_timeout_s: float = 5.0,
        replay_backoff_s: float = 1.0,
    ) -> GatewayService:
        """A service wired from settings; any boundary can be passed in instead (tests, benchmarks)."""
        policy = PrivacyPolicy.from_settings(settings)  # before the spool: a bad directory leaves nothing open
        return cls(
            tokens=tokens if tokens is not None else TokenStore(settings.token_db),
            sink=sink
            if sink is not None
            else KafkaSink(settings.kafka_bootstrap, settings.topic, timeout_s=produce_timeout_s),
            spool=Spool(settings.spool_dir),
            policy=policy,
            limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst, monotonic),
            max_body_bytes=settings.max_body_bytes,
            clock=clock,
            metrics=metrics,
            replay_backoff_s=replay_backoff_s,
            auth_limiter=RateLimiter(settings.auth_failures_per_s, settings.auth_failure_burst, monotonic),
            max_json_depth=settings.max_json_depth,
            max_events=settings.max_events_per_request,
            body_timeout_s=settings.gateway_body_timeout_s,
            monotonic=monotonic,
            event_bounds=settings.event_bounds(),
        )

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start replaying the spool (anything left from a previous run goes first)."""
        if self.spool.depth:
            log.info("spool holds %d events from before; replaying them to Kafka first", self.spool.depth)
        self._stopping.clear()
        self._replayer = threading.Thread(target=self._replay_loop, name="gateway-spool-replay", daemon=True)
        self._replayer.start()

    def stop(self) -> None:
        """Stop replaying and release Kafka, the spool and the token store; the spool stays on disk."""
        self._stopping.set()
        self._wake.set()
        if self._replayer is not None:
            self._replayer.join(timeout=30)
            self._replayer = None
        if self._unrecorded is not None:  # one last try, or the next start replays these events again
            try:
                self._commit(*self._unrecorded)
            except SpoolCommitError:
                log.warning("the spool could not record %d delivered events; they are sent again", self._unrecorded[1])
        self.sink.close()
        self.spool.close()
        self.tokens.close()

    # -- requests ---------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None, address: str | None = None) -> str:
        """The device of a `Bearer <token>` header; 401 when missing, unknown or revoked.

        Bad tokens are limited per client `address` (429 once over the limit), so tokens cannot be guessed fast.
        """
        challenge = {"WWW-Authenticate": 'Bearer realm="alignmon"'}
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GatewayError(401, "missing device token: send 'Authorization: Bearer <device token>'", challenge)
        key = address or "unknown"
        wait = self.auth_limiter.wait(key)
        if wait > 0:
            raise GatewayError(
                429,
                f"too many bad device tokens from this address: retry after {retry_after(wait)} s",
                {"Retry-After": retry_after(wait)},
            )
        device = self.tokens.authenticate(token.strip())
        if device is None:
            self.auth_limiter.acquire(key)
            raise GatewayError(
                401, "invalid or revoked device token: ask an admin for a new one (alignmon tokens issue)", challenge
            )
        return device

    def check_rate(self, device_id: str) -> None:
        """429 with Retry-After when the device is over its request rate."""
        wait = self.limiter.acquire(device_id)
        if wait > 0:
            raise GatewayError(
                429,
                f"too many requests from this device: retry after {retry_after(wait)} s, or send larger batches",
                {"Retry-After": retry_after(wait)},
            )

    def ingest(self, device_id: str, items: Sequence[Any]) -> IngestResult:
        """Validate each item as an event of `device_id`, apply the policy and deliver the accepted ones."""
        bounds = window(self.clock(), **self.event_bounds)
        result = IngestResult()
        accepted: list[Record] = []  # one event each (a split span gives several); deliver packs them
        for index, item in enumerate(items):
            try:
                event = UsageEvent.model_validate(item, context=bounds)
            except ValidationError as exc:
                details = exc.errors(include_url=False)
                self._reject(result, index, str(details[0]["type"]) if details else "invalid")
                for detail in details:
                    where = ".".join(str(part) for part in detail["loc"]) or None
                    self._note(result, EventError(index, where, detail["msg"]))
                continue
            if event.device_id != device_id:
                self._reject(result, index, "device_mismatch")
                self._note(
                    result,
                    EventError(index, "device_id", "device_id does not match the device this token was issued to"),
                )
                continue
            accepted += (Record(clean.device_id.encode(), clean.to_json_bytes()) for clean in self.policy.apply(event))
            result.accepted += 1
        self.deliver(accepted)
        self.metrics.accepted.inc(result.accepted)
        return result

    def _reject(self, result: IngestResult, index: int, reason: str) -> None:
        result.rejected += 1
        self.metrics.rejected.labels(reason=reason).inc()

    @staticmethod
    def _note(result: IngestResult, error: EventError) -> None:
        if len(result.errors) < MAX_ERRORS:
            result.errors.append(error)

    def deliver(self, events: Sequence[Record]) -> None:
        """Make events durable: Kafka if it acknowledges, else (or while the spool is busy) the spool.

        Each item is one event (device key, event JSON); consecutive events of a device go to Kafka
        packed into one record, and whatever Kafka did not acknowledge is spooled in order.
        """
        if not events:
            return
        with self._route:
            behind_spool = self.spool.depth > 0
            if behind_spool:
                if self._refusal is not None:  # the spool's head is refused: do not queue more behind it
                    self._refuse(len(events), self._refusal)
                self._to_spool(events)
                return
        done, refused = self._send_packed(events)
        if refused is not None:
            self._refuse(len(events) - done, refused)
        if done < len(events):
            with self._route:
                self._to_spool(events[done:])

    def _refuse(self, count: int, refused: ProducerRefusedError) -> NoReturn:
        """503: events Kafka would refuse are not accepted (nor spooled), so the sender keeps them."""
        self.metrics.refused.labels(reason=refused.kind).inc(count)
        raise GatewayError(503, f"{refused}. The events were not accepted: retry once the gateway is fixed")

    def _send_packed(self, events: Sequence[Record]) -> tuple[int, ProducerRefusedError | None]:
        """Send events packed into records: how many leading EVENTS Kafka acknowledged, and a permanent refusal."""
        grouped = list(runs(events))
        began = time.perf_counter()
        refused: ProducerRefusedError | None = None
        try:
            acked = self.sink.send([Record(key, pack(run)) for key, run in grouped])
        except ProducerRefusedError as exc:
            acked, refused = exc.acked, exc
        self.metrics.produce_seconds.observe(time.perf_counter() - began)
        self.metrics.kafka_up.set(1 if acked == len(grouped) else 0)
        if refused is not None:
            if self._refusal is None:
                log.error("%s; answering 503 until it is fixed", refused)
            self._refusal = refused
            self.metrics.producer_refusing.set(1)
        elif acked == len(grouped) and self._refusal is not None:
            log.info("Kafka accepts the gateway's events again")
            self._refusal = None
            self.metrics.producer_refusing.set(0)
        return sum(len(run) for _, run in grouped[:acked]), refused

    def _to_spool(self, events: Sequence[Record]) -> None:
        try:
            self.spool.append(to_bytes(e) for e in events)
        except OSError as exc:
            raise GatewayError(
                503, f"Kafka is unreachable and the disk spool failed ({exc.strerror or exc}): retry later"
            ) from None
        self.metrics.spooled.inc(len(events))
        self._wake.set()

    def health(self) -> dict[str, Any]:
        reachable = self.sink.reachable()
        depth = self.spool.depth
        healthy = reachable and depth == 0 and self._refusal is None and self._commit_error is None
        return {
            "status": "ok" if healthy else "degraded",
            "kafka": {"reachable": reachable, "refused": None if self._refusal is None else str(self._refusal)},
            "spool": {"depth": depth, "commit_error": self._commit_error},
        }

    # -- replay -----------------------------------------------------------------------------------

    def replay_once(self) -> int:
        """Send the oldest spooled events to Kafka; returns how many were delivered, raises if not all were."""
        if self._unrecorded is not None:
            batch, done = self._unrecorded
            self._commit(batch, done)  # Kafka has these already: never send them again
        else:
            peeked = self.spool.peek(REPLAY_BATCH)
            if peeked is None:
                return 0
            batch = peeked
            events = [from_bytes(data) for data in batch.records]
            done, refused = self._send_packed(events)
            self._commit(batch, done)
            if refused is not None:
                self.metrics.refused.labels(reason=refused.kind).inc(len(events) - done)
                raise KafkaUnavailableError(f"{refused}; the spooled events wait")
        if done < len(batch):
            raise KafkaUnavailableError(f"Kafka acknowledged only {done} of {len(batch)} spooled events")
        return done

    def _commit(self, batch: Batch, done: int) -> None:
        """Record in the spool that `done` events of `batch` are in Kafka; on failure remember it for a retry."""
        try:
            self.spool.commit(batch, done)
        except OSError as exc:
            self._unrecorded = (batch, done)
            self._commit_error = f"cannot record delivered events in the spool: {exc.strerror or exc}"
            self.metrics.spool_commit_failing.set(1)
            self.metrics.spool_commit_failures.inc()
            raise SpoolCommitError(self._commit_error) from exc
        if self._unrecorded is not None:
            log.info("the spool recorded its delivered events again")
        self._unrecorded = None
        self._commit_error = None
        self.metrics.spool_commit_failing.set(0)
        self.metrics.replayed.inc(done)

    def _replay_loop(self) -> None:
        backoff = self._replay_backoff_s
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                delivered = self.replay_once()
            except KafkaUnavailableError:
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            except SpoolCommitError as exc:
                now = self._monotonic()
                if now - self._last_commit_log >= LOG_EVERY_S:
                    self._last_commit_log = now
                    log.error("%s; retrying the commit (not the send) with backoff", exc)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            except Exception:
                log.exception("replaying the spool failed; retrying")
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = self._replay_backoff_s
            if delivered == 0:
                self._wake.wait(1.0)
            elif self.spool.depth == 0:
                log.info("spool replayed: Kafka has every spooled event")
