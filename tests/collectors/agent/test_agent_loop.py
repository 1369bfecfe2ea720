"""The agent loop with scripted sources, the real disk spool and a real local HTTP server."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.agent.agent import EXIT_OK, EXIT_PENDING, EXIT_REFUSED, Agent
from collectors.event import UsageEvent
from collectors.spool import Spool
from collectors.uploader import Backoff, Uploader
from tests.support.wait import wait_until

Stub = Any


class ListSource:
    """Hands out scripted batches of events, one per poll, and some on flush."""

    name = "fake"

    def __init__(self, batches: list[list[UsageEvent]], on_flush: list[UsageEvent] | None = None) -> None:
        self.interval_s = 0.02
        self.batches = batches
        self.on_flush = on_flush or []
        self.commits = 0
        self.polls = 0
        self.closed = False

    @property
    def behind(self) -> bool:
        return False

    def poll(self, now: datetime) -> list[UsageEvent]:
        self.polls += 1
        return self.batches.pop(0) if self.batches else []

    def commit(self) -> None:
        self.commits += 1

    def flush(self, now: datetime) -> list[UsageEvent]:
        out, self.on_flush = self.on_flush, []
        return out

    def close(self) -> None:
        self.closed = True


def build(tmp_path: Path, url: str, sources: list[Any], **kwargs: Any) -> Agent:
    spool = Spool(tmp_path / "spool")
    uploader = Uploader(spool, url, "tok", backoff=Backoff(base_s=0.01, cap_s=0.05))
    return Agent(sources, spool, uploader, upload_interval_s=0.05, **kwargs)


def no_wait(_seconds: float) -> bool:
    return False


def test_a_full_spool_refuses_new_events_loudly_and_keeps_the_old(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent], caplog: pytest.LogCaptureFixture
) -> None:
    source = ListSource([[event(n) for n in range(4)], [event(4), event(5)]])
    agent = build(tmp_path, stub.url, [source], max_spool_events=5)
    agent.poll(source)
    assert (agent.spool.depth, source.commits) == (4, 1)
    with caplog.at_level(logging.ERROR, logger="collectors.agent.agent"):
        agent.poll(source)
    assert agent.spool.depth == 4
    assert source.commits == 1  # a bridge does not move its mark past events that were refused
    assert agent.refused == 2
    assert "SPOOL FULL: 4 events wait for the gateway (limit 5); refusing 2 new fake events" in caplog.text
    agent.close()


def test_once_collects_flushes_and_uploads_everything(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    source = ListSource([[event(0), event(1)], [event(2)]], on_flush=[event(3)])
    agent = build(tmp_path, stub.url, [source])
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    assert agent.once(5.0, sleep=wait) == EXIT_OK
    assert waits == [5.0]
    assert [i for r in stub.requests for i in r.ids] == ["ev-0", "ev-1", "ev-2", "ev-3"]
    assert source.polls == 2
    assert source.closed
    assert Spool(tmp_path / "spool").depth == 0


def test_once_with_a_revoked_token_keeps_the_events(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    stub.script = [stub.reply(401)]
    agent = build(tmp_path, stub.url, [ListSource([[event(0), event(1)]])])
    assert agent.once(0.0, sleep=no_wait) == EXIT_REFUSED
    assert Spool(tmp_path / "spool").depth == 2


def test_once_with_the_gateway_down_exits_pending(tmp_path: Path, event: Callable[..., UsageEvent]) -> None:
    from alignmon.stack.process import free_port

    agent = build(tmp_path, f"http://127.0.0.1:{free_port()}", [ListSource([[event(0)]])])
    assert agent.once(0.0, sleep=no_wait, max_attempts=2) == EXIT_PENDING
    assert Spool(tmp_path / "spool").depth == 1


def test_run_uploads_in_the_background_and_flushes_on_stop(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    stub.script = [stub.reply(503), stub.reply(429, {"Retry-After": "0"})]
    source = ListSource([[event(n)] for n in range(5)], on_flush=[event(99)])
    agent = build(tmp_path, stub.url, [source])
    runner = threading.Thread(target=lambda: setattr(agent, "code", agent.run()))
    runner.start()
    wait_until(lambda: sum(len(r.events) for r in stub.requests[2:]) >= 5, 20, "the background upload", 0.02)
    agent.stop()
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert agent.code == EXIT_OK  # type: ignore[attr-defined]
    delivered = [i for r in stub.requests[2:] for i in r.ids]
    assert delivered == [*(f"ev-{n}" for n in range(5)), "ev-99"]
    assert source.polls >= 5
    assert Spool(tmp_path / "spool").depth == 0


def test_run_stops_on_a_revoked_token(tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]) -> None:
    stub.decide = lambda events: stub.reply(401)
    agent = build(tmp_path, stub.url, [ListSource([[event(0)], [event(1)]])])
    started = time.monotonic()
    assert agent.run() == EXIT_REFUSED
    assert time.monotonic() - started < 10
    assert isinstance(agent.fatal, Exception)
    assert "revoked" in str(agent.fatal)
    assert Spool(tmp_path / "spool").depth == 2
