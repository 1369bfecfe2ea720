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

Work per request is split in two: `validate` (CPU: parse, validate, pseudonymise, pack) and `accept_all`
(delivery, which waits for Kafka), so the HTTP layer can deliver many requests' records in one send
(collectors.gateway.committer); each request still gets the answer it would have had alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import TypeAdapter, ValidationError

from base.errors import TransientError
from base.kafka_security import KafkaSecurity
from base.settings import Settings
from collectors.event import UsageEvent, window
from collectors.gateway.body import JSON_TYPES, Body, items_of
from collectors.gateway.errors import GatewayError
from collectors.gateway.metrics import GatewayMetrics
from collectors.gateway.ratelimit import RateLimiter, retry_after
from collectors.gateway.tokens import TokenStore, refusal
from collectors.policy import PolicySource, PrivacyPolicy
from collectors.record import MAX_BYTES, MAX_EVENTS, Record, from_bytes, pack, runs, to_bytes
from collectors.sink import KafkaSink, ProducerRefusedError, Sink
from collectors.spool import Batch, Spool

log = logging.getLogger(__name__)

MAX_ERRORS = 100  # error entries listed in one answer; the rejected count stays exact
REPLAY_BATCH = 5000  # events per replay round: a few packed records, a few MiB at most
MAX_BACKOFF_S = 60.0  # longest wait between replay (or spool commit) attempts
LOG_EVERY_S = 60.0  # a failure that persists is logged at most this often
KAFKA_PROBE_S = 30.0  # with nothing sent for this long, whether Kafka answers is probed for alignmon_gateway_kafka_up

# A whole JSON body validated in one call (parsing included); what it refuses is looked at event by event.
EVENTS: TypeAdapter[list[UsageEvent]] = TypeAdapter(list[UsageEvent])
# Tokens json.loads reads only to refuse (parse_constant), which pydantic's parser may read as floats.
_CONSTANTS = (b"NaN", b"Infinity")


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


class Packed(NamedTuple):
    """One Kafka record of one device's events, and those events one by one as the spool keeps them."""

    record: Record
    size: int  # events in the record
    events: Callable[[], list[Record]]  # made only when the record goes to the spool


class Validated(NamedTuple):
    """A request's events, validated and packed, and the answer it gets once they are delivered."""

    result: IngestResult
    packs: list[Packed]


def packed_runs(events: Sequence[Record]) -> list[Packed]:
    """Per-event records packed as collectors.record does: consecutive events of a device, up to its limits."""
    return [Packed(Record(key, pack(run)), len(run), partial(_one_by_one, key, run)) for key, run in runs(events)]


def _one_by_one(key: bytes, values: Sequence[bytes]) -> list[Record]:
    return [Record(key, value) for value in values]


def _serialised(key: bytes, events: Sequence[UsageEvent]) -> list[Record]:
    return [Record(key, event.to_json_bytes()) for event in events]


class GatewayService:
    """Everything behind the HTTP layer; build it with `from_settings`, then `start()` and `stop()`."""

    def __init__(
        self,
        *,
        tokens: TokenStore,
        sink: Sink,
        spool: Spool,
        policy: PrivacyPolicy | PolicySource,
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
        self._policies = policy if isinstance(policy, PolicySource) else PolicySource(policy)
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
        self._last_contact = float("-inf")  # when Kafka was last sent to or probed (monotonic)
        self.metrics = metrics if metrics is not None else GatewayMetrics()
        self.metrics.track_spool(lambda: self.spool.depth)
        self.metrics.spool_depth.set(self.spool.depth)
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
        spool_dir: Path | None = None,
    ) -> GatewayService:
        """A service wired from settings; any boundary can be passed in instead (tests, benchmarks, a worker's
        own spool folder)."""
        # Before the spool: a bad directory leaves nothing open. The directory is re-read when HR's feed replaces it.
        policy = PolicySource.from_settings(settings, monotonic)
        return cls(
            tokens=tokens if tokens is not None else TokenStore(settings.token_db, clock=clock),
            sink=sink
            if sink is not None
            else KafkaSink(
                settings.kafka_bootstrap,
                settings.topic,
                timeout_s=produce_timeout_s,
                security=KafkaSecurity.from_settings(settings),
            ),
            spool=Spool(spool_dir if spool_dir is not None else settings.spool_dir),
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

    @staticmethod
    def check_settings(settings: Settings) -> None:
        """Raise what `from_settings` would on the key and the directory, without opening anything."""
        PrivacyPolicy.from_settings(settings)

    @property
    def policy(self) -> PrivacyPolicy:
        """The privacy policy to apply now (its directory as last read)."""
        return self._policies.current()

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
        """The device of a `Bearer <token>` header; 401 when missing, unknown, revoked or expired.

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
        info = self.tokens.lookup(token.strip())
        if info is None or info.revoked_at is not None:
            self.auth_limiter.acquire(key)
            raise GatewayError(
                401, "invalid or revoked device token: ask an admin for a new one (alignmon tokens issue)", challenge
            )
        if not info.valid(self.tokens.now()):
            # Not counted as a bad token: a fleet behind one NAT whose tokens expired should read why, not get 429.
            raise GatewayError(401, refusal(info), challenge)
        return info.device_id

    def check_rate(self, device_id: str) -> None:
        """429 with Retry-After when the device is over its request rate."""
        wait = self.limiter.acquire(device_id)
        if wait > 0:
            raise GatewayError(
                429,
                f"too many requests from this device: retry after {retry_after(wait)} s, or send larger batches",
                {"Retry-After": retry_after(wait)},
            )

    def ingest_body(self, device_id: str, body: Body) -> IngestResult:
        """Validate a body's events as `device_id`'s, apply the policy and deliver the accepted ones."""
        return self.accept(self.validate(device_id, body))

    def validate(self, device_id: str, body: Body) -> Validated:
        """A body's events as `device_id`'s, cleaned by the policy and packed, and the answer once delivered.

        A JSON array is validated in one call and its events serialised a record at a time; a body with any
        invalid event (or NDJSON) is looked at item by item, which gives each its error. Both accept the same
        events. CPU only: `accept` does the delivery's waiting.
        """
        bounds = window(self.clock(), **self.event_bounds)
        events = self._whole(device_id, body, bounds)
        if events is None:
            items = items_of(body, max_depth=self.max_json_depth, max_events=self.max_events)
            return self.validate_items(device_id, items, bounds)
        policy = self.policy
        cleaned = [clean for event in events for clean in policy.apply(event)]
        return Validated(IngestResult(accepted=len(events)), self._packed(policy.device_pseudonym(device_id), cleaned))

    def accept(self, validated: Validated) -> IngestResult:
        """Deliver validated events (Kafka or the spool: 503 if neither) and count them accepted."""
        (outcome,) = self.accept_all([validated])
        if isinstance(outcome, GatewayError):
            raise outcome
        return outcome

    def accept_all(self, batch: Sequence[Validated]) -> list[IngestResult | GatewayError]:
        """Deliver several requests' events in one produce round-trip; each request gets its own answer or error,
        exactly what `accept` would have given it alone (collectors.gateway.committer groups them)."""
        outcomes: list[IngestResult | GatewayError] = []
        for validated, error in zip(batch, self._deliver_all([v.packs for v in batch]), strict=True):
            if error is None:
                self.metrics.accepted.inc(validated.result.accepted)
            outcomes.append(validated.result if error is None else error)
        return outcomes

    def _whole(self, device_id: str, body: Body, bounds: dict[str, Any]) -> list[UsageEvent] | None:
        """The events of a JSON array body if every one is valid and `device_id`'s, else None."""
        if body.media not in JSON_TYPES or any(token in body.data for token in _CONSTANTS):
            return None
        try:
            events = EVENTS.validate_json(body.data, context=bounds)
        except ValidationError:
            return None
        if len(events) > self.max_events or any(event.device_id != device_id for event in events):
            return None
        return events

    @staticmethod
    def _packed(key: str, events: list[UsageEvent]) -> list[Packed]:
        """One device's cleaned events as records of up to MAX_EVENTS, serialised a record at a time."""
        device = key.encode()
        packs = []
        for first in range(0, len(events), MAX_EVENTS):
            chunk = events[first : first + MAX_EVENTS]
            value = chunk[0].to_json_bytes() if len(chunk) == 1 else EVENTS.dump_json(chunk, exclude_none=True)
            if len(value) > MAX_BYTES:  # long titles: let collectors.record cut the records by size too
                return packed_runs(_serialised(device, events))
            packs.append(Packed(Record(device, value), len(chunk), partial(_serialised, device, chunk)))
        return packs

    def ingest(self, device_id: str, items: Sequence[Any]) -> IngestResult:
        """Validate each item as an event of `device_id`, apply the policy and deliver the accepted ones."""
        return self.accept(self.validate_items(device_id, items))

    def validate_items(self, device_id: str, items: Sequence[Any], bounds: dict[str, Any] | None = None) -> Validated:
        """Each item validated as an event of `device_id` (errors noted per item), the accepted ones cleaned."""
        bounds = bounds if bounds is not None else window(self.clock(), **self.event_bounds)
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
        return Validated(result, packed_runs(accepted))

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
        self._deliver(packed_runs(events))

    def _deliver(self, packs: Sequence[Packed]) -> None:
        (error,) = self._deliver_all([packs])
        if error is not None:
            raise error

    def _deliver_all(self, requests: Sequence[Sequence[Packed]]) -> list[GatewayError | None]:
        """Deliver each request's records in order, all in one send; per request None (durable) or why not (503).

        A request whose records Kafka acknowledged is done; the others' unacknowledged events go to the spool in
        order (one fsync for all), or, when Kafka refused them for good, are not accepted at all.
        """
        errors: list[GatewayError | None] = [None] * len(requests)
        if not any(requests):
            return errors
        with self._route:
            if self.spool.depth > 0:
                if self._refusal is not None:  # the spool's head is refused: do not queue more behind it
                    return [self._refused(sum(p.size for p in r), self._refusal) if r else None for r in requests]
                self._spool_late([(n, r) for n, r in enumerate(requests) if r], errors)
                return errors
        done, refused = self._send([p for r in requests for p in r])
        late: list[tuple[int, Sequence[Packed]]] = []
        first = 0  # index of the request's first record in the send
        for n, packs in enumerate(requests):
            unacked = packs[max(0, done - first) :]
            first += len(packs)
            if not unacked:
                continue
            if refused is not None:
                errors[n] = self._refused(sum(p.size for p in unacked), refused)
            else:
                late.append((n, unacked))
        if late:
            with self._route:
                self._spool_late(late, errors)
        return errors

    def _spool_late(self, late: Sequence[tuple[int, Sequence[Packed]]], errors: list[GatewayError | None]) -> None:
        """Spool the requests' events in order, in one append; if that fails, each of them gets the 503."""
        try:
            self._to_spool([event for _, packs in late for p in packs for event in p.events()])
        except GatewayError as exc:
            for n, _ in late:
                errors[n] = exc

    def _refused(self, count: int, refused: ProducerRefusedError) -> GatewayError:
        """503: events Kafka would refuse are not accepted (nor spooled), so the sender keeps them."""
        self.metrics.refused.labels(reason=refused.kind).inc(count)
        return GatewayError(503, f"{refused}. The events were not accepted: retry once the gateway is fixed")

    def _send_packed(self, events: Sequence[Record]) -> tuple[int, ProducerRefusedError | None]:
        """Send events packed into records: how many leading EVENTS Kafka acknowledged, and a permanent refusal."""
        packs = packed_runs(events)
        done, refused = self._send(packs)
        return sum(p.size for p in packs[:done]), refused

    def _send(self, packs: Sequence[Packed]) -> tuple[int, ProducerRefusedError | None]:
        """Send packed records: how many leading RECORDS Kafka acknowledged, and a permanent refusal."""
        began = time.perf_counter()
        refused: ProducerRefusedError | None = None
        try:
            acked = self.sink.send([p.record for p in packs])
        except ProducerRefusedError as exc:
            acked, refused = exc.acked, exc
        self.metrics.produce_seconds.observe(time.perf_counter() - began)
        self.metrics.kafka_up.set(1 if acked == len(packs) else 0)
        self._last_contact = self._monotonic()
        if refused is not None:
            if self._refusal is None:
                log.error("%s; answering 503 until it is fixed", refused)
            self._refusal = refused
            self.metrics.producer_refusing.set(1)
        elif acked == len(packs) and self._refusal is not None:
            log.info("Kafka accepts the gateway's events again")
            self._refusal = None
            self.metrics.producer_refusing.set(0)
        return acked, refused

    def _to_spool(self, events: Sequence[Record]) -> None:
        try:
            self.spool.append(to_bytes(e) for e in events)
        except OSError as exc:
            raise GatewayError(
                503, f"Kafka is unreachable and the disk spool failed ({exc.strerror or exc}): retry later"
            ) from None
        self.metrics.spooled.inc(len(events))
        self.metrics.spool_depth.set(self.spool.depth)
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

    def probe_kafka(self) -> None:
        """With nothing sent for KAFKA_PROBE_S and nothing spooled, set alignmon_gateway_kafka_up from whether a
        bootstrap server answers: an idle gateway (at night, just started) still says whether it could deliver."""
        now = self._monotonic()
        if now - self._last_contact < KAFKA_PROBE_S or self.spool.depth:
            return
        self._last_contact = now
        self.metrics.kafka_up.set(1 if self.sink.reachable() else 0)

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
        self.metrics.spool_depth.set(self.spool.depth)

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
                self.probe_kafka()
                self._wake.wait(1.0)
            elif self.spool.depth == 0:
                log.info("spool replayed: Kafka has every spooled event")
