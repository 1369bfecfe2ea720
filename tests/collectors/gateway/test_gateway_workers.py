"""`alignmon gateway` with several worker processes on a real broker: each worker serves, a dead one is restarted,
`/metrics` sums them, none outlives a killed supervisor, and a spool slot no configured worker owns is replayed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from alignmon.stack.process import free_port
from base.errors import AlignmonError
from collectors.gateway.tokens import TokenStore
from collectors.gateway.workers import check_port_free, slots_in_use, spool_slot
from collectors.record import Record, events_of, to_bytes
from collectors.spool import Spool
from tests.support.procfs import alive, children, cmdline, listening

pytestmark = pytest.mark.integration

Kit = Any


class Fleet:
    """A gateway subprocess with its workers, a device token, and helpers to post to it."""

    def __init__(self, alignmon: Any, tmp: Path, bootstrap: str, topic: str, workers: int, kit: Kit) -> None:
        self.tmp = tmp
        self.kit = kit
        self.port = free_port()
        self.env = kit.process_env(tmp, bootstrap, topic, workers)
        store = TokenStore(tmp / "tokens.sqlite")
        self.token = store.issue("laptop-1")
        store.close()
        self.alignmon = alignmon
        self.sent = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, workers: int) -> subprocess.Popen[bytes]:
        self.proc = self.alignmon.start(["gateway", "--port", str(self.port)], self.env, f"gateway-{self.port}")
        self.kit.wait_for(lambda: len(self.serving()) == workers, 60, f"{workers} workers listening")
        self.kit.wait_for(self.healthy, 60, "the gateway's /healthz")
        return self.proc

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def workers(self) -> set[int]:
        """The worker processes (spawned with a `multiprocessing` command line that runs run_worker)."""
        return {pid for pid in children(self.pid) if b"resource_tracker" not in cmdline(pid)}

    def serving(self) -> set[int]:
        """The workers listening on the port."""
        return {pid for pid in self.workers() if listening(pid, self.port)}

    def post(self, count: int = 5) -> int:
        """Post `count` events on a new connection (so the kernel may pick any worker); returns the status."""
        now = datetime.now(UTC)
        events = [self.kit.event(n, now=now, event_id=f"e-{self.sent + n}") for n in range(count)]
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30) as http:
            answer = http.post("/v1/events", content=json.dumps(events).encode(), headers=headers)
        if answer.status_code == 202:
            assert answer.json() == {"accepted": count, "rejected": 0, "errors": []}
            self.sent += count
        return answer.status_code


def test_workers_serve_are_restarted_and_their_metrics_add_up(
    alignmon: Any, tmp_path: Path, kafka_bootstrap: str, topic: str, kit: Kit, read_topic: Callable[..., Any]
) -> None:
    fleet = Fleet(alignmon, tmp_path, kafka_bootstrap, topic, 2, kit)
    fleet.start(2)
    first = fleet.workers()
    assert len(first) == 2
    assert spool_slot(tmp_path / "spool", 1).is_dir()  # each worker opened its own spool slot
    assert all(fleet.post() == 202 for _ in range(20))

    # Each worker in turn is killed: the other serves every request meanwhile, and the dead one comes back.
    for victim in sorted(first):
        os.kill(victim, signal.SIGKILL)
        assert all(fleet.post() == 202 for _ in range(20))
        kit.wait_for(lambda victim=victim: victim not in fleet.workers() and len(fleet.serving()) == 2, 60, "restart")
    assert not fleet.serving() & first  # both were replaced, and each replacement served in turn

    metrics = httpx.get(f"http://127.0.0.1:{fleet.port}/metrics", timeout=10).text
    accepted = next(line for line in metrics.splitlines() if line.startswith("alignmon_gateway_events_accepted_total"))
    assert float(accepted.split()[1]) == fleet.sent  # the killed workers' counts included
    assert "alignmon_gateway_spool_events 0.0" in metrics

    fleet.alignmon.stop_all()
    assert fleet.proc is not None and fleet.proc.returncode == 0
    events = [e for r in read_topic(kafka_bootstrap, topic) for e in events_of(r.value)]
    assert sorted(e["event_id"] for e in events) == sorted(f"e-{n}" for n in range(fleet.sent))


def test_no_worker_outlives_a_killed_supervisor(
    alignmon: Any, tmp_path: Path, kafka_bootstrap: str, topic: str, kit: Kit
) -> None:
    fleet = Fleet(alignmon, tmp_path, kafka_bootstrap, topic, 2, kit)
    fleet.start(2)
    workers = fleet.workers()
    assert fleet.post() == 202
    os.kill(fleet.pid, signal.SIGKILL)
    kit.wait_for(lambda: not any(alive(pid) for pid in workers), 60, "the workers to stop")
    kit.wait_for(lambda: _port_free(fleet.port), 30, "the port to be free")
    fleet.start(2)  # and the spools' locks are free: a new gateway starts on the same folders
    assert fleet.post() == 202


def _port_free(port: int) -> bool:
    try:
        check_port_free("127.0.0.1", port)
    except AlignmonError:
        return False
    return True


def test_a_spool_slot_no_configured_worker_owns_is_replayed(
    alignmon: Any, tmp_path: Path, kafka_bootstrap: str, topic: str, kit: Kit, read_topic: Callable[..., Any]
) -> None:
    # Events left in worker 2's spool by an earlier gateway that ran three workers.
    left = spool_slot(tmp_path / "spool", 2)
    values = [json.dumps(kit.event(n, now=datetime.now(UTC), event_id=f"left-{n}")).encode() for n in range(7)]
    with Spool(left) as spool:
        spool.append(to_bytes(Record(kit.device(), value)) for value in values)
    assert slots_in_use(tmp_path / "spool") == 3

    fleet = Fleet(alignmon, tmp_path, kafka_bootstrap, topic, 1, kit)
    fleet.start(3)  # one configured, but slots 1 and 2 exist, slot 2 with events: three workers
    kit.wait_for(
        lambda: any(e["event_id"] == "left-6" for r in read_topic(kafka_bootstrap, topic) for e in events_of(r.value)),
        60,
        "the left events in Kafka",
    )
    fleet.alignmon.stop_all()
    with Spool(left) as spool:
        assert spool.depth == 0
    assert slots_in_use(tmp_path / "spool") == 0  # empty again: the next start runs the configured one worker


def test_a_worker_that_cannot_start_stops_the_gateway_instead_of_looping(
    alignmon: Any, tmp_path: Path, kafka_bootstrap: str, topic: str, kit: Kit
) -> None:
    damaged = spool_slot(tmp_path / "spool", 1)
    damaged.mkdir(parents=True)
    (damaged / f"{0:020d}.seg").write_bytes(b"\x00\x00\x00\x05garbage")  # damaged before the last segment
    (damaged / f"{1:020d}.seg").write_bytes(b"")
    fleet = Fleet(alignmon, tmp_path, kafka_bootstrap, topic, 2, kit)
    proc = alignmon.start(["gateway", "--port", str(fleet.port)], fleet.env, "gateway-damaged")
    assert proc.wait(timeout=120) == 1
    log = (tmp_path / "gateway-damaged.log").read_text()
    assert "damaged record" in log and "exit as soon as they start" in log
    assert _port_free(fleet.port)
