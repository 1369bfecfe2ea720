"""/healthz and /readyz of the pipeline's exporter port: the rules (metrics.health) on a clock the test moves, and
the routes as the exporter serves them beside /metrics, which a probe never holds up."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from base.settings import Settings
from metrics.exposition import serve
from metrics.health import Bounds, Probe, StandbyProbes, WriterProbes, routes
from pipeline.stats import ConsumerStats

BOUNDS = Bounds(recent_s=60.0, stuck_s=300.0)
FIGURES = b"# figures\nalignmon_up 1.0\n"


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def consuming(clock: Clock, lag: int = 0, committed_ago: float | None = 1.0) -> ConsumerStats:
    """A writer whose loop just came round, with 3 partitions and a lag check 2 s ago that found `lag` records."""
    stats = ConsumerStats(partitions=3, loop_at=clock.now, lag_records=lag, lag_checked_at=clock.now - 2)
    if lag == 0:
        stats.caught_up_at = stats.lag_checked_at
    if committed_ago is not None:
        stats.committed_at = clock.now - committed_ago
    return stats


def writer(stats: ConsumerStats, clock: Clock, stopping: bool = False) -> WriterProbes:
    return WriterProbes(stats, BOUNDS, lambda: stopping, clock)


def test_the_bounds_follow_the_refresh_interval_with_a_floor() -> None:
    assert Bounds.from_settings(Settings(refresh_interval_s=15)) == Bounds(60.0, 300.0)  # the defaults
    assert Bounds.from_settings(Settings(refresh_interval_s=1)) == Bounds(60.0, 300.0)
    assert Bounds.from_settings(Settings(refresh_interval_s=30)) == Bounds(120.0, 600.0)


def test_a_writer_whose_loop_comes_round_is_healthy_and_one_stuck_past_the_bound_is_not(clock: Clock) -> None:
    stats = consuming(clock)
    probes = writer(stats, clock)
    assert probes.healthz() == Probe(200, {"status": "ok", "role": "writer", "loop_age_s": 0.0})
    clock.now += 300
    assert probes.healthz().status == 200  # at the bound: still one long step
    clock.now += 1
    answer = probes.healthz()
    assert answer.status == 503
    assert answer.body["status"] == "stuck" and answer.body["loop_age_s"] == 301.0
    assert "has not come round for 301 s (bound 300 s)" in answer.body["reason"]


def test_an_idle_writer_with_nothing_to_read_is_ready_however_old_its_last_commit(clock: Clock) -> None:
    answer = writer(consuming(clock, lag=0, committed_ago=86_400), clock).readyz()
    assert answer == Probe(
        200,
        {
            "ready": True,
            "role": "writer",
            "partitions": 3,
            "lag_records": 0,
            "lag_age_s": 2.0,
            "commit_age_s": 86_400.0,
            "bound_s": 60.0,
            "reasons": [],
        },
    )
    assert writer(consuming(clock, lag=0, committed_ago=None), clock).readyz().status == 200  # an empty topic


def test_a_writer_behind_is_ready_while_it_commits_and_not_once_its_commits_stop(clock: Clock) -> None:
    assert writer(consuming(clock, lag=5000, committed_ago=3), clock).readyz().status == 200
    stale = writer(consuming(clock, lag=5000, committed_ago=61), clock).readyz()
    assert stale.status == 503 and stale.body["reasons"] == ["5000 records to read and no commit for 61 s"]
    never = writer(consuming(clock, lag=5000, committed_ago=None), clock).readyz()
    assert never.status == 503 and never.body["reasons"] == ["5000 records to read and nothing committed yet"]


def test_a_writer_that_caught_up_recently_is_ready_while_new_records_wait_for_their_first_batch(clock: Clock) -> None:
    stats = consuming(clock, lag=0, committed_ago=3600)
    clock.now += 5  # the next check finds records that arrived after an hour of quiet
    stats.lag_records, stats.lag_checked_at = 12, clock.now
    assert writer(stats, clock).readyz().status == 200  # caught up 7 s ago: not behind yet


def test_a_writer_whose_lag_is_not_known_is_not_ready(clock: Clock) -> None:
    stats = consuming(clock)
    clock.now += 58  # the check was 60 s ago: the bound
    assert writer(stats, clock).readyz().status == 200
    clock.now += 6  # Kafka has not answered a lag check for 66 s
    answer = writer(stats, clock).readyz()
    assert answer.status == 503
    assert answer.body["reasons"] == ["consumer lag not known: Kafka has not answered a lag check for 66 s"]
    assert writer(stats, clock).healthz().status == 200  # alive all the same: the broker is away, not the process


def test_a_writer_that_just_started_or_is_stopping_is_not_ready(clock: Clock) -> None:
    started = writer(ConsumerStats(loop_at=clock.now), clock)
    assert started.healthz().status == 200
    assert started.readyz() == Probe(
        503,
        {
            "ready": False,
            "role": "writer",
            "partitions": 0,
            "lag_records": None,
            "lag_age_s": None,
            "commit_age_s": None,
            "bound_s": 60.0,
            "reasons": [
                "no partition of the topic is assigned yet (does the topic exist?)",
                "consumer lag not known yet: Kafka has not answered a lag check",
            ],
        },
    )
    stopping = writer(consuming(clock), clock, stopping=True).readyz()
    assert stopping.status == 503 and stopping.body["reasons"] == ["stopping"]


def test_a_waiting_standby_is_healthy_and_never_ready() -> None:
    alive = True
    probes = StandbyProbes(lambda: alive)
    assert probes.healthz() == Probe(200, {"status": "ok", "role": "standby"})
    assert probes.readyz() == Probe(
        503,
        {
            "ready": False,
            "role": "standby",
            "reasons": ["standby: waiting for the writers' lease (another pipeline writes)"],
        },
    )
    alive = False
    assert probes.healthz().status == 503
    assert probes.healthz().body["status"] == "failed"


@pytest.fixture
def exporter() -> Iterator[Callable[..., str]]:
    servers: list[Any] = []

    def start(probes: dict[str, Callable[[], Probe]]) -> str:
        server = serve(lambda gzipped: gzip.compress(FIGURES) if gzipped else FIGURES, "127.0.0.1", 0, probes)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_exporter_answers_the_probes_as_json_beside_metrics(exporter: Callable[..., str]) -> None:
    url = exporter(routes(StandbyProbes(lambda: True)))
    health = httpx.get(f"{url}/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "role": "standby"}
    assert health.headers["content-type"] == "application/json"
    assert health.headers["cache-control"] == "no-store"
    ready = httpx.get(f"{url}/readyz?verbose=1")  # a query string is ignored, as for /metrics
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert httpx.get(f"{url}/metrics").content == FIGURES
    missing = httpx.get(f"{url}/status")
    assert missing.status_code == 404 and "/metrics, /healthz, /readyz" in missing.text


def test_a_probe_in_progress_does_not_hold_up_a_scrape(exporter: Callable[..., str]) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow() -> Probe:
        entered.set()
        release.wait(30)
        return Probe(200, {"status": "ok"})

    url = exporter({"/healthz": slow})
    answers: list[int] = []
    probe = threading.Thread(target=lambda: answers.append(httpx.get(f"{url}/healthz", timeout=60).status_code))
    probe.start()
    try:
        assert entered.wait(30)
        assert httpx.get(f"{url}/metrics", timeout=30).status_code == 200  # answered while the probe still waits
        assert not answers
    finally:
        release.set()
        probe.join(60)
    assert answers == [200]
