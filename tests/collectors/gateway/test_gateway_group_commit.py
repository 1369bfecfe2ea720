"""Group commit: several requests delivered in one send, each answered as if it had been alone."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from base.settings import Settings
from collectors.gateway.body import Body
from collectors.gateway.committer import GroupCommitter
from collectors.gateway.errors import GatewayError
from collectors.gateway.service import GatewayService, IngestResult, Validated
from collectors.record import events_of
from collectors.sink import MemorySink


def _requests(service: GatewayService, kit: Any, sizes: list[int]) -> list[Validated]:
    """One validated request per size, with distinct event ids, one device."""
    out, n = [], 0
    for size in sizes:
        events = [kit.event(k % 60, event_id=f"r{n + k}") for k in range(size)]
        out.append(service.validate("laptop-1", Body(json.dumps(events).encode(), "application/json")))
        n += size
    return out


def _ids(sink: MemorySink) -> list[str]:
    return [e["event_id"] for r in sink.records for e in events_of(r.value)]


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def service(settings: Settings, sink: MemorySink, kit: Any) -> GatewayService:
    return GatewayService.from_settings(settings, sink=sink, clock=kit.clock)


def test_a_group_is_one_send_and_every_request_is_answered(service: GatewayService, sink: MemorySink, kit: Any) -> None:
    outcomes = service.accept_all(_requests(service, kit, [5, 0, 3, 600]))
    assert [o.accepted for o in outcomes if isinstance(o, IngestResult)] == [5, 0, 3, 600]
    assert [len(events_of(r.value)) for r in sink.records] == [5, 3, 500, 100]  # one record per request and 500
    assert _ids(sink) == [f"r{n}" for n in range(608)]
    assert service.spool.depth == 0


def test_what_kafka_did_not_acknowledge_is_spooled_in_order(
    service: GatewayService, sink: MemorySink, kit: Any
) -> None:
    sink.fail_after = 2  # the first two records: the first request and half of the second
    outcomes = service.accept_all(_requests(service, kit, [5, 600, 4]))
    assert all(isinstance(o, IngestResult) for o in outcomes)  # durable all the same: 202 for each
    assert _ids(sink) == [f"r{n}" for n in range(505)]
    assert service.spool.depth == 100 + 4
    assert service.replay_once() == 104
    assert _ids(sink) == [f"r{n}" for n in range(609)]


def test_a_refusal_answers_503_only_to_the_requests_it_touched(
    service: GatewayService, sink: MemorySink, kit: Any
) -> None:
    requests = _requests(service, kit, [5, 3])
    sink.refuse = "the clock is 2 h fast"
    outcomes = service.accept_all(requests)
    assert [o.status for o in outcomes if isinstance(o, GatewayError)] == [503, 503]
    assert service.spool.depth == 0  # refused events are not kept: their senders keep them


def test_the_committer_groups_concurrent_submissions_and_raises_each_error() -> None:
    groups: list[list[int]] = []
    release = threading.Event()

    def commit(items: list[int]) -> list[int | BaseException]:
        release.wait(5)  # the first group blocks, so the others gather meanwhile
        groups.append(items)
        return [ValueError(n) if n % 2 else n * 10 for n in items]

    committer: GroupCommitter[int, int] = GroupCommitter(commit)
    committer.start()

    async def main() -> list[int | BaseException]:
        tasks = [asyncio.ensure_future(committer.submit(n)) for n in range(6)]
        await asyncio.sleep(0.2)
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        outcomes = asyncio.run(main())
    finally:
        committer.stop()
    assert [o if isinstance(o, int) else str(o) for o in outcomes] == [0, "1", 20, "3", 40, "5"]
    assert sorted(n for group in groups for n in group) == list(range(6))
    assert len(groups) < 6  # at least some submissions shared a delivery


def test_a_failing_commit_fails_its_group_and_the_committer_goes_on() -> None:
    calls = 0

    def commit(items: list[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a defect")
        return list(items)

    committer: GroupCommitter[int, int] = GroupCommitter(commit)
    committer.start()

    async def main() -> tuple[Any, Any]:
        first = await asyncio.gather(committer.submit(1), return_exceptions=True)
        second = await committer.submit(2)
        return first[0], second

    try:
        first, second = asyncio.run(main())
    finally:
        committer.stop()
    assert isinstance(first, RuntimeError) and second == 2
