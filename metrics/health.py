"""/healthz and /readyz on the pipeline's exporter port: is the process alive, and is it consuming.

healthz (liveness): the process answers and its loop came round within `Bounds.stuck_s`. One step of the loop (a
batch, a refresh, a snapshot, a lake cycle) may take long, so the bound is generous.

readyz (readiness): the process is the writer (a standby waiting for the writers' lease is healthy but not ready),
is not stopping, has partitions of the topic assigned, knows its consumer lag (Kafka answered a lag check within
`Bounds.recent_s`), and keeps up: nothing was left to read at that check (an idle pipeline is ready however old its
last commit), or a batch was committed, or nothing was left to read, within `recent_s`.

Both answer from what the pipeline's threads record (pipeline.stats), never by asking Kafka or DuckDB, so a probe
costs microseconds and neither waits for nor slows a scrape of /metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from pipeline.stats import ConsumerStats

if TYPE_CHECKING:
    from base.settings import Settings

RECENT_REFRESHES = 4  # refresh intervals within which a lag check and a commit (or an empty backlog) are recent
RECENT_FLOOR_S = 60.0  # ... and never less than this
STUCK_FACTOR = 5  # the loop is stuck after this many `recent` bounds without coming round (5 min by default)


class Probe(NamedTuple):
    """An answer: the HTTP status (200 or 503) and a small JSON body saying why."""

    status: int
    body: dict[str, Any]


class Bounds(NamedTuple):
    """How old the pipeline's last lag check, commit and loop round may be, derived from its settings."""

    recent_s: float = RECENT_FLOOR_S
    stuck_s: float = STUCK_FACTOR * RECENT_FLOOR_S

    @classmethod
    def from_settings(cls, settings: Settings) -> Bounds:
        recent = max(RECENT_FLOOR_S, RECENT_REFRESHES * settings.refresh_interval_s)
        return cls(recent, STUCK_FACTOR * recent)


def _age(at: float | None, now: float) -> float | None:
    return None if at is None else round(max(now - at, 0.0), 1)


class WriterProbes:
    """The probes of the pipeline that writes (the only one, or the holder of the writers' lease)."""

    def __init__(
        self,
        stats: ConsumerStats,
        bounds: Bounds,
        stopping: Callable[[], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats, self.bounds, self.stopping, self.clock = stats, bounds, stopping, clock

    def healthz(self) -> Probe:
        age = _age(self.stats.loop_at, self.clock())
        body: dict[str, Any] = {"status": "ok", "role": "writer", "loop_age_s": age}
        if age is not None and age > self.bounds.stuck_s:
            body["status"] = "stuck"
            body["reason"] = (
                f"the pipeline's loop has not come round for {age:.0f} s (bound {self.bounds.stuck_s:.0f} s): a batch, "
                "refresh, snapshot or lake write is stuck"
            )
            return Probe(503, body)
        return Probe(200, body)

    def readyz(self) -> Probe:
        s, now, recent = self.stats, self.clock(), self.bounds.recent_s
        lag_age = _age(s.lag_checked_at, now)
        progress = max((t for t in (s.committed_at, s.caught_up_at) if t is not None), default=None)
        progress_age = _age(progress, now)
        reasons = []
        if self.stopping():
            reasons.append("stopping")
        if s.partitions == 0:
            reasons.append("no partition of the topic is assigned yet (does the topic exist?)")
        if lag_age is None:
            reasons.append("consumer lag not known yet: Kafka has not answered a lag check")
        elif lag_age > recent:
            reasons.append(f"consumer lag not known: Kafka has not answered a lag check for {lag_age:.0f} s")
        elif s.lag_records:
            if progress_age is None:
                reasons.append(f"{s.lag_records} records to read and nothing committed yet")
            elif progress_age > recent:
                reasons.append(f"{s.lag_records} records to read and no commit for {progress_age:.0f} s")
        body: dict[str, Any] = {
            "ready": not reasons,
            "role": "writer",
            "partitions": s.partitions,
            "lag_records": s.lag_records,
            "lag_age_s": lag_age,
            "commit_age_s": _age(s.committed_at, now),
            "bound_s": recent,
            "reasons": reasons,
        }
        return Probe(503 if reasons else 200, body)


class StandbyProbes:
    """The probes of a standby waiting for the writers' lease: healthy while its lease thread runs, never ready."""

    def __init__(self, waiting: Callable[[], bool]) -> None:
        self.waiting = waiting

    def healthz(self) -> Probe:
        if self.waiting():
            return Probe(200, {"status": "ok", "role": "standby"})
        reason = "the writers' lease thread stopped: this standby cannot take over (see the log)"
        return Probe(503, {"status": "failed", "role": "standby", "reason": reason})

    def readyz(self) -> Probe:
        reasons = ["standby: waiting for the writers' lease (another pipeline writes)"]
        return Probe(503, {"ready": False, "role": "standby", "reasons": reasons})


Routes = dict[str, Callable[[], Probe]]


def routes(probes: WriterProbes | StandbyProbes) -> Routes:
    """The paths the exporter answers with a probe."""
    return {"/healthz": probes.healthz, "/readyz": probes.readyz}
