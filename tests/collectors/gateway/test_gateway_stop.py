"""`alignmon gateway` stopped by SIGTERM or SIGINT, as a real process with one worker and with two: it logs that it
stops and that it stopped, exits 0, and every event it answered 202 — while devices kept posting up to the signal —
is in Kafka, or, with Kafka away, in its spool."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from alignmon.stack.process import free_port
from collectors.gateway.tokens import TokenStore
from collectors.gateway.workers import spool_slot
from collectors.record import events_of
from collectors.spool import Spool
from tests.support.procfs import children, connected, listening

pytestmark = pytest.mark.integration

Kit = Any
POSTERS = 4  # devices posting at once, each on its own connection


class Gateway:
    """A gateway process, devices with tokens, and posters that record every event answered 202."""

    def __init__(self, alignmon: Any, tmp: Path, kit: Kit, bootstrap: str, topic: str, workers: int) -> None:
        self.alignmon, self.tmp, self.kit, self.workers = alignmon, tmp, kit, workers
        self.port = free_port()
        self.env = {**kit.process_env(tmp, bootstrap, topic, workers), "ALIGNMON_STATE_DIR": str(tmp / "state")}
        store = TokenStore(tmp / "tokens.sqlite")
        self.tokens = [store.issue(f"laptop-{n}") for n in range(POSTERS)]
        store.close()
        self.accepted: list[str] = []
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.name = f"gateway-{workers}"

    @property
    def log(self) -> str:
        return (self.tmp / f"{self.name}.log").read_text(errors="replace")

    def start(self) -> subprocess.Popen[bytes]:
        self.proc = proc = self.alignmon.start(["gateway", "--port", str(self.port)], self.env, self.name)

        def serving() -> bool:
            assert proc.poll() is None, self.log
            if self.workers == 1:
                return listening(proc.pid, self.port)
            return len([pid for pid in children(proc.pid) if listening(pid, self.port)]) == self.workers

        self.kit.wait_for(serving, 60, f"{self.workers} worker(s) listening")
        self.kit.wait_for(self.answers, 60, "the gateway's /healthz")
        return proc

    def answers(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def post_until_stopped(self, device: int, posted: threading.Event) -> None:
        """Post batches of 5 events until the gateway stops answering; keep the ids of those answered 202."""
        headers = {"Authorization": f"Bearer {self.tokens[device]}", "Content-Type": "application/json"}
        sent = 0
        while self.proc is not None and self.proc.poll() is None:
            now = datetime.now(UTC)
            ids = [f"d{device}-{sent + n}" for n in range(5)]
            sent += 5
            events = [self.kit.event(n, device=f"laptop-{device}", now=now, event_id=i) for n, i in enumerate(ids)]
            try:
                # A new connection for each batch, so the kernel spreads them over the workers.
                with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30) as http:
                    answer = http.post("/v1/events", content=json.dumps(events).encode(), headers=headers)
            except httpx.HTTPError:
                continue  # stopping: refused, or closed before an answer (not accepted)
            if answer.status_code == 202:
                assert answer.json() == {"accepted": 5, "rejected": 0, "errors": []}
                with self.lock:
                    self.accepted.extend(ids)
                posted.set()

    def stop_while_posting(self, sig: signal.Signals) -> int:
        """Send `sig` while devices post; the gateway's exit status."""
        assert self.proc is not None
        started = [threading.Event() for _ in range(POSTERS)]
        posters = [
            threading.Thread(target=self.post_until_stopped, args=(n, started[n]), daemon=True) for n in range(POSTERS)
        ]
        for poster in posters:
            poster.start()
        self.kit.wait_for(lambda: all(e.is_set() for e in started), 60, "every device's first 202")
        self.kit.wait_for(lambda: len(self.accepted) >= 200, 60, "200 events accepted")
        self.proc.send_signal(sig)
        status = self.proc.wait(timeout=120)
        for poster in posters:
            poster.join(timeout=60)
        return status

    def spooled(self) -> int:
        """Events left in every worker's spool slot."""
        total = 0
        for worker in range(self.workers):
            slot = spool_slot(self.tmp / "spool", worker)
            if slot.exists():
                with Spool(slot) as spool:
                    total += spool.depth
        return total


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers"])
def test_a_signal_stops_the_gateway_with_exit_0_and_every_accepted_event_in_kafka(
    alignmon: Any,
    tmp_path: Path,
    kafka_bootstrap: str,
    topic: str,
    kit: Kit,
    read_topic: Callable[..., list[Any]],
    workers: int,
    sig: signal.Signals,
) -> None:
    gateway = Gateway(alignmon, tmp_path, kit, kafka_bootstrap, topic, workers)
    gateway.start()
    assert gateway.stop_while_posting(sig) == 0, gateway.log
    log = gateway.log
    assert f"gateway stopping on {sig.name}" in log, log
    assert "gateway stopped cleanly" in log, log
    assert "Traceback" not in log, log
    if workers > 1:  # each worker stopped cleanly too
        assert all(f"gateway worker {n} stopped cleanly" in log for n in range(workers)), log
    stored = [e["event_id"] for r in read_topic(kafka_bootstrap, topic) for e in events_of(r.value)]
    assert set(gateway.accepted) <= set(stored)
    assert len(stored) == len(set(stored))  # nothing twice
    assert gateway.spooled() == 0


@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers"])
def test_a_gateway_stopped_while_kafka_is_away_exits_0_with_every_accepted_event_in_its_spool(
    alignmon: Any, tmp_path: Path, kit: Kit, workers: int
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"  # no broker listens here: every accepted event is spooled
    gateway = Gateway(alignmon, tmp_path, kit, nowhere, "unused", workers)
    gateway.start()
    assert gateway.stop_while_posting(signal.SIGTERM) == 0, gateway.log
    assert "gateway stopped cleanly" in gateway.log
    assert gateway.spooled() == len(gateway.accepted) >= 200  # closed, on disk, for the next start to replay


def test_a_second_ctrl_c_stops_the_gateway_at_once_with_exit_1(
    alignmon: Any, tmp_path: Path, kafka_bootstrap: str, topic: str, kit: Kit
) -> None:
    gateway = Gateway(alignmon, tmp_path, kit, kafka_bootstrap, topic, 1)
    proc = gateway.start()
    # A request whose body is still on its way: the first Ctrl-C waits for it (up to 10 s) before stopping.
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as slow:
        head = (
            f"POST /v1/events HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {gateway.tokens[0]}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n["
        )
        slow.sendall(head.encode())
        kit.wait_for(lambda: connected(proc.pid, gateway.port), 30, "the slow request's connection")
        proc.send_signal(signal.SIGINT)
        kit.wait_for(lambda: "gateway stopping on SIGINT" in gateway.log, 30, "the first Ctrl-C's stop")
        assert proc.poll() is None  # still waiting for the request in flight
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 1
    assert "gateway stopped at once (asked twice)" in gateway.log
