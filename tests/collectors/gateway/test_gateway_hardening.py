"""Issue 11's gateway findings: bounded bodies, slow clients, token guessing, refused and uncommittable events."""

from __future__ import annotations

import errno
import gzip
import json
import re
import socket
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from base.settings import Settings
from collectors.gateway.body import gunzip
from collectors.gateway.errors import GatewayError
from collectors.gateway.server import MAX_HEAD_BYTES, GuardedHttpToolsProtocol
from collectors.gateway.service import GatewayService, KafkaUnavailableError, SpoolCommitError
from collectors.gateway.tokens import TokenStore
from collectors.record import Record, events_of
from collectors.sink import MemorySink, is_permanent
from tests.support.wait import wait_until

Gateway = Any
Kit = Any


def metric(svc: GatewayService, sample: str) -> float:
    for line in svc.metrics.exposition().decode().splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[1])
    raise AssertionError(f"{sample} not exposed")


def raw(gw: Gateway, data: bytes, wait_s: float = 10.0) -> bytes:
    """What the server answers to `data` on a fresh connection, until it closes it (or `wait_s` passes)."""
    with socket.create_connection((gw.server.host, gw.server.port), timeout=wait_s) as conn:
        conn.sendall(data)
        out = b""
        while chunk := conn.recv(65536):
            out += chunk
        return out


# -- 4: nesting depth and events per request ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b'{"event_id": "x"}\n' + b"[" * 5000 + b"]" * 5000 + b"\n", "application/x-ndjson"),
        (b'[{"event_id": "x", "app": ' + b"[" * 5000 + b"]" * 5000 + b"}]", "application/json"),
        (b"[" * 9 + b"]" * 9, "application/json"),
    ],
    ids=["array", "ndjson-line", "inside-a-field", "just-over-the-limit"],
)
def test_deeply_nested_json_is_a_400_naming_the_limit(
    gateway: Gateway, kit: Kit, body: bytes, content_type: str
) -> None:
    response = gateway.post(body, headers={"Content-Type": content_type})
    kit.assert_error(response, 400, "bad_request", "nested deeper than 8 levels")
    assert gateway.memory.records == []


def test_nesting_up_to_the_limit_is_parsed(gateway: Gateway, kit: Kit) -> None:
    nested = kit.event(0, app=[[[[[["x"]]]]]])  # 8 levels with the array and the event object
    response = gateway.post(json.dumps([nested]).encode())
    assert response.status_code == 202
    assert response.json()["rejected"] == 1  # parsed, then refused by the contract: app is a string


def test_more_events_than_the_limit_are_refused_before_parsing(
    settings: Settings, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    gw = make_gateway(settings.model_copy(update={"max_events_per_request": 3}))
    assert gw.post_events([kit.event(i) for i in range(3)]).json()["accepted"] == 3
    kit.assert_error(gw.post_events([kit.event(i) for i in range(4)]), 413, "payload_too_large", "at most 3 events")
    ndjson = gw.post(kit.ndjson([kit.event(i) for i in range(4)]), headers={"Content-Type": "application/x-ndjson"})
    kit.assert_error(ndjson, 413, "payload_too_large", "at most 3 events")
    blank_lines = kit.ndjson([kit.event(i) for i in range(3)]).replace(b"\n", b"\n\n \n")
    assert gw.post(blank_lines, headers={"Content-Type": "application/x-ndjson"}).json()["accepted"] == 3
    tiny = gzip.compress(b"[" + b"{}," * 20_000 + b"{}]")  # small on the wire, many items inflated
    kit.assert_error(gw.post(tiny, headers={"Content-Encoding": "gzip"}), 413, "payload_too_large", "JSON values")
    assert len(gw.sent()) == 6


# -- 5: many gzip members -------------------------------------------------------------------------


def test_gunzip_of_many_tiny_members_is_linear() -> None:
    member = gzip.compress(b"[]", mtime=0)
    body = member * (6 * 1024 * 1024 // len(member))  # 6 MiB, ~280,000 members
    began = time.monotonic()
    assert gunzip(body, 10 * 1024 * 1024) == b"[]" * (len(body) // len(member))
    assert time.monotonic() - began < 10.0  # quadratic copying took ~30 s; linear is well under 1 s


def test_a_body_of_many_gzip_members_is_refused_by_the_events_limit(
    settings: Settings, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    gw = make_gateway(settings.model_copy(update={"max_events_per_request": 100}))
    halves = [b'[{"event_id": "laptop-1-0", ', json.dumps(kit.event(0))[1:].encode() + b"]"]
    two = b"".join(gzip.compress(half, mtime=0) for half in halves)
    assert gw.post(two, headers={"Content-Encoding": "gzip"}).json()["accepted"] == 1  # members join up
    members = gzip.compress(b" ", mtime=0) * 101
    response = gw.post(members, headers={"Content-Encoding": "gzip"})
    kit.assert_error(response, 413, "payload_too_large", "more than 100 members")


# -- 6: slow clients, connection limit, token guessing ------------------------------------------------


def test_a_silent_connection_is_closed_within_the_header_timeout(
    settings: Settings, make_gateway: Callable[..., Gateway]
) -> None:
    gw = make_gateway(settings.model_copy(update={"gateway_header_timeout_s": 1.0}))
    began = time.monotonic()
    assert raw(gw, b"") == b""  # closed without a word
    assert time.monotonic() - began < 8.0


def test_a_trickled_request_head_is_answered_408_and_closed(
    settings: Settings, make_gateway: Callable[..., Gateway]
) -> None:
    gw = make_gateway(settings.model_copy(update={"gateway_header_timeout_s": 1.0}))
    began = time.monotonic()
    answer = raw(gw, b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")  # the head never ends
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
    assert time.monotonic() - began < 8.0


def test_a_stalled_body_is_answered_408(settings: Settings, make_gateway: Callable[..., Gateway]) -> None:
    gw = make_gateway(settings.model_copy(update={"gateway_body_timeout_s": 1.0}))
    head = (
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {gw.token}\r\nContent-Length: 100\r\n\r\n"
    )
    began = time.monotonic()
    answer = raw(gw, head.encode() + b"[")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive within 1 s" in answer
    assert time.monotonic() - began < 8.0


def test_connections_over_the_limit_get_503(settings: Settings, make_gateway: Callable[..., Gateway]) -> None:
    gw = make_gateway(settings.model_copy(update={"gateway_max_connections": 2}))
    idle = [socket.create_connection((gw.server.host, gw.server.port)) for _ in range(2)]
    try:
        connections = gw.server.server.server_state.connections  # what uvicorn counts against the limit
        wait_until(lambda: len(connections) == 2, 10, "the server to register both idle connections", 0.01)
        assert gw.client.get("/healthz").status_code == 503
    finally:
        for conn in idle:
            conn.close()


def test_bad_tokens_from_one_address_are_rate_limited(
    settings: Settings, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    gw = make_gateway(settings.model_copy(update={"auth_failures_per_s": 0.5, "auth_failure_burst": 3}))
    for n in range(3):
        kit.assert_error(gw.post(b"[]", token=f"guess-{n}"), 401, "unauthorized", "invalid or revoked")
    limited = gw.post(b"[]", token="guess-3")
    kit.assert_error(limited, 429, "rate_limited", "too many bad device tokens")
    assert limited.headers["retry-after"] == "2"
    kit.assert_error(gw.post(b"[]"), 429, "rate_limited", "bad device tokens")  # not even a valid one is checked
    gw.monotonic.now += 2.0
    assert gw.post(b"[]").status_code == 202
    kit.assert_error(gw.post(b"[]", token="guess-4"), 401, "unauthorized", "invalid")


# -- 6: request heads on the wire: split, too large, pipelined, timed per request --------------------


def request(gw: Gateway, body: bytes = b"[]", *, close: bool = False, pad: int = 0) -> bytes:
    """A whole POST /v1/events as sent on the wire, with an X-Pad header of `pad` bytes if `pad`."""
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {gw.token}\r\nContent-Length: {len(body)}\r\n"
    )
    if pad:
        head += f"X-Pad: {'p' * pad}\r\n"
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


def statuses(answer: bytes) -> list[int]:
    """The status codes of the responses in `answer`, in order (the gateway's JSON bodies hold no status line)."""
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]


def last_error(answer: bytes) -> dict[str, Any]:
    """The JSON error of the last response in `answer`."""
    error: dict[str, Any] = json.loads(answer.rsplit(b"\r\n\r\n", 1)[1])["error"]
    return error


def read_until_closed(conn: socket.socket) -> bytes:
    out = b""
    while chunk := conn.recv(65536):
        out += chunk
    return out


def read_response(conn: socket.socket) -> bytes:
    """One whole response (with a Content-Length) from a keep-alive connection."""
    out = b""
    while b"\r\n\r\n" not in out:
        out += conn.recv(65536)
    head, _, body = out.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def test_connections_are_served_by_the_guarded_httptools_protocol_on_uvloop(gateway: Gateway) -> None:
    import uvloop

    with socket.create_connection((gateway.server.host, gateway.server.port)):
        connections = gateway.server.server.server_state.connections
        wait_until(lambda: len(connections) == 1, 10, "the server to register the connection", 0.01)
        (protocol,) = connections
        assert isinstance(protocol, GuardedHttpToolsProtocol)
        assert isinstance(protocol.loop, uvloop.Loop)


def test_a_request_head_in_many_small_packets_is_accepted(gateway: Gateway) -> None:
    data = request(gateway, close=True)
    with socket.create_connection((gateway.server.host, gateway.server.port), timeout=10) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for n in range(0, len(data), 3):
            conn.sendall(data[n : n + 3])
            time.sleep(0.001)  # pacing, so that the server reads many small packets
        assert statuses(read_until_closed(conn)) == [202]


def test_a_request_head_of_the_limit_is_read_and_one_byte_more_is_431(gateway: Gateway) -> None:
    bare = len(request(gateway, close=True, pad=1)) - len(b"[]") - 1  # the head with an empty X-Pad
    at_limit = request(gateway, close=True, pad=MAX_HEAD_BYTES - bare)
    assert len(at_limit) - len(b"[]") == MAX_HEAD_BYTES
    assert statuses(raw(gateway, at_limit)) == [202]
    answer = raw(gateway, request(gateway, close=True, pad=MAX_HEAD_BYTES - bare + 1))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert statuses(answer) == [431]
    assert b"content-type: application/json" in head.lower()
    error = json.loads(body)["error"]
    assert set(error) == {"status", "code", "message"}
    assert error["status"] == 431
    assert error["code"] == "request_header_fields_too_large"
    assert f"larger than {MAX_HEAD_BYTES} bytes" in error["message"]


@pytest.mark.parametrize("piece", [1024, MAX_HEAD_BYTES + 1], ids=["trickled", "at-once"])
def test_a_request_head_that_never_ends_is_431_once_over_the_limit(
    settings: Settings, make_gateway: Callable[..., Gateway], piece: int
) -> None:
    # llhttp keeps an unfinished header line whole, without a limit: the protocol counts the bytes that reach it.
    gw = make_gateway(settings.model_copy(update={"gateway_header_timeout_s": 1.0}))
    unfinished = b"POST /v1/events HTTP/1.1\r\nX-Pad: " + b"p" * MAX_HEAD_BYTES

    def answer_to(head: bytes) -> bytes:
        with socket.create_connection((gw.server.host, gw.server.port), timeout=30) as conn:
            for n in range(0, len(head), piece):
                conn.sendall(head[n : n + piece])
            return read_until_closed(conn)

    assert statuses(answer_to(unfinished[:MAX_HEAD_BYTES])) == [408]  # not too large: it waits for the rest
    over = answer_to(unfinished[: MAX_HEAD_BYTES + 1])
    assert statuses(over) == [431]
    assert last_error(over)["code"] == "request_header_fields_too_large"


def test_pipelined_requests_after_a_large_body_are_each_answered(gateway: Gateway) -> None:
    big = request(gateway, b"[" + b" " * 40_000 + b"]")
    second = request(gateway)
    head_end = big.index(b"\r\n\r\n") + 5
    # A packet with the end of a body and the start of the next head: its body bytes are not part of that head.
    packets = [big[:head_end], big[head_end:] + second[:20], second[20:] + request(gateway, close=True)]
    with socket.create_connection((gateway.server.host, gateway.server.port), timeout=10) as conn:
        for packet in packets:
            conn.sendall(packet)
            time.sleep(0.05)  # pacing, so that the server reads the packets apart
        assert statuses(read_until_closed(conn)) == [202, 202, 202]


@pytest.mark.parametrize("pipelined", [False, True], ids=["keep-alive", "pipelined"])
def test_each_request_on_a_connection_has_its_own_head_timeout(
    settings: Settings, make_gateway: Callable[..., Gateway], pipelined: bool
) -> None:
    gw = make_gateway(settings.model_copy(update={"gateway_header_timeout_s": 1.0}))
    partial = b"POST /v1/events HTTP/1.1\r\nHost: x\r\n"  # the third head never ends
    with socket.create_connection((gw.server.host, gw.server.port), timeout=30) as conn:
        answer = b""
        if pipelined:
            conn.sendall(request(gw) + request(gw) + partial)
        else:
            for _ in range(2):  # each head in time after its answer, the two together later than one timeout
                conn.sendall(request(gw))
                answer += read_response(conn)
                time.sleep(0.6)
            conn.sendall(partial)
        answer += read_until_closed(conn)
    assert statuses(answer) == [202, 202, 408]
    assert last_error(answer)["code"] == "request_timeout"


# -- 13: garbage on the wire, token file modes ------------------------------------------------------


def test_a_garbage_request_line_gets_a_400_that_says_why(gateway: Gateway) -> None:
    answer = raw(gateway, b"\x16\x03\x01 hello there\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/json" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "bad_request"
    assert "malformed HTTP request" in error["message"]


def test_a_request_line_llhttp_refuses_gets_the_json_400_with_its_reason(gateway: Gateway) -> None:
    for line, reason in [(b"FOO@ / HTTP/1.1", b"Invalid method"), (b"CONNECT x:443 HTTP/1.1", b"invalid url")]:
        answer = raw(gateway, line + b"\r\nHost: x\r\n\r\n")
        assert statuses(answer) == [400]
        assert last_error(answer)["code"] == "bad_request"
        assert reason in last_error(answer)["message"].encode()


def test_an_upgrade_offer_is_ignored_without_a_body_and_refused_with_one(gateway: Gateway) -> None:
    offer = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
    with socket.create_connection((gateway.server.host, gateway.server.port), timeout=10) as conn:
        conn.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{offer}\r\n".encode())
        assert statuses(read_response(conn)) == [200]  # as curl --http2 asks: answered in HTTP/1.1
        conn.sendall(request(gateway, close=True))  # and the connection goes on in HTTP/1.1
        assert statuses(read_until_closed(conn)) == [202]
    # llhttp would take the body for the offered protocol, and the gateway would read an empty one.
    with_body = request(gateway, json.dumps([{"event_id": "x"}]).encode())
    answer = raw(gateway, with_body.replace(b"Host: x\r\n", f"Host: x\r\n{offer}".encode()))
    assert statuses(answer) == [400]
    assert "cannot offer a protocol upgrade" in last_error(answer)["message"]
    assert gateway.memory.records == []


def test_the_token_database_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "tokens.sqlite"
    store = TokenStore(path)
    store.issue("laptop-1")
    store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    for side in path.parent.glob("tokens.sqlite-*"):
        assert stat.S_IMODE(side.stat().st_mode) == 0o600, side.name


def test_an_older_world_readable_token_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite"
    path.touch(mode=0o644)
    path.chmod(0o644)
    TokenStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- 11: departments never come from a device ---------------------------------------------------------


def test_a_device_supplied_department_is_dropped_without_a_directory(gateway: Gateway, kit: Kit) -> None:
    assert gateway.post_events([kit.event(0, department="Executive")]).json()["accepted"] == 1
    (event,) = gateway.sent()
    assert "department" not in event


# -- 7: the spool cannot commit after Kafka took the events ---------------------------------------------


def spooled(settings: Settings, n: int, backoff_s: float = 1.0) -> tuple[GatewayService, MemorySink]:
    """A service whose spool holds `n` events (Kafka was away), with Kafka back."""
    sink = MemorySink()
    svc = GatewayService.from_settings(settings, sink=sink, replay_backoff_s=backoff_s)
    sink.up = False
    svc.deliver([Record(b"d1", json.dumps({"event_id": f"e{i}"}).encode()) for i in range(n)])
    assert svc.spool.depth == n
    sink.up = True
    return svc, sink


def ids(sink: MemorySink) -> list[str]:
    return [e["event_id"] for r in sink.records for e in events_of(r.value)]


def disk_full(position: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_spool_commit_is_retried_without_sending_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, sink = spooled(settings, 3)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(svc.spool, "_store_position", disk_full)
            for _ in range(3):
                with pytest.raises(SpoolCommitError, match="No space left"):
                    svc.replay_once()
            assert ids(sink) == ["e0", "e1", "e2"]  # sent once, not once per attempt
            health = svc.health()
            assert health["status"] == "degraded"
            assert "No space left" in health["spool"]["commit_error"]
            assert metric(svc, "alignmon_gateway_spool_commit_failing") == 1.0
            assert metric(svc, "alignmon_gateway_spool_commit_failures_total") == 3.0
        assert svc.replay_once() == 3  # the disk has room again: only the commit happens
        assert ids(sink) == ["e0", "e1", "e2"]
        assert svc.spool.depth == 0
        assert svc.health()["spool"] == {"depth": 0, "commit_error": None}
        assert metric(svc, "alignmon_gateway_spool_commit_failing") == 0.0
        assert metric(svc, "alignmon_gateway_events_replayed_total") == 3.0
    finally:
        svc.stop()


def test_the_replay_loop_sends_each_event_once_while_commits_fail(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, kit: Kit
) -> None:
    svc, sink = spooled(settings, 50, backoff_s=0.01)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(svc.spool, "_store_position", disk_full)
            svc.start()
            kit.wait_for(lambda: metric(svc, "alignmon_gateway_spool_commit_failures_total") >= 4, 10, "retries")
            assert ids(sink) == [f"e{i}" for i in range(50)]
        kit.wait_for(lambda: svc.spool.depth == 0, 10, "the commit to succeed")
        assert ids(sink) == [f"e{i}" for i in range(50)]
    finally:
        svc.stop()


# -- 8: Kafka refuses the events for good ---------------------------------------------------------------


def test_permanent_producer_errors_are_told_apart_from_transient_ones() -> None:
    from kafka import errors

    assert is_permanent(errors.InvalidTimestampError())
    assert is_permanent(errors.MessageSizeTooLargeError())
    assert is_permanent(errors.TopicAuthorizationFailedError())
    assert not is_permanent(errors.KafkaTimeoutError())
    assert not is_permanent(errors.NotEnoughReplicasError())
    assert not is_permanent(errors.KafkaConnectionError())


def test_a_permanent_producer_error_is_a_503_with_the_reason_in_health_and_metrics(gateway: Gateway, kit: Kit) -> None:
    gateway.memory.refuse = "timestamp out of range"
    response = gateway.post_events([kit.event(0), kit.event(1)])
    kit.assert_error(response, 503, "unavailable", "InvalidTimestampError")
    assert "timestamp out of range" in response.json()["error"]["message"]
    assert gateway.service.spool.depth == 0  # not accepted, so not spooled: the device keeps them
    health = gateway.client.get("/healthz").json()
    assert health["status"] == "degraded"
    assert "InvalidTimestampError" in health["kafka"]["refused"]
    text = gateway.client.get("/metrics").text
    assert 'alignmon_gateway_events_refused_total{reason="InvalidTimestampError"} 2.0' in text
    assert "alignmon_gateway_producer_refusing 1.0" in text
    gateway.memory.refuse = None
    assert gateway.post_events([kit.event(0)]).status_code == 202
    assert gateway.client.get("/healthz").json()["status"] == "ok"
    assert "alignmon_gateway_producer_refusing 0.0" in gateway.client.get("/metrics").text


def test_a_refused_spool_head_stops_queueing_behind_it(settings: Settings) -> None:
    svc, sink = spooled(settings, 2)
    try:
        sink.refuse = "timestamp out of range"
        with pytest.raises(KafkaUnavailableError, match="InvalidTimestampError"):
            svc.replay_once()
        assert svc.spool.depth == 2  # kept: they were answered 202 before
        with pytest.raises(GatewayError, match="InvalidTimestampError") as refused:
            svc.deliver([Record(b"d1", b'{"event_id": "late"}')])
        assert refused.value.status == 503
        assert svc.spool.depth == 2
        sink.refuse = None
        assert svc.replay_once() == 2
        assert ids(sink) == ["e0", "e1"]
    finally:
        svc.stop()


@pytest.mark.integration
def test_a_gateway_clock_hours_fast_is_refused_by_kafka_with_503(
    settings: Settings, kafka_bootstrap: str, topic: str, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    from collectors.sink import KafkaSink

    def fast() -> datetime:
        return datetime.fromtimestamp(time.time() + 2 * 3600, UTC)

    # The broker refuses timestamps more than message.timestamp.after.max.ms (1 h by default) ahead.
    sink = KafkaSink(kafka_bootstrap, topic, clock=lambda: fast().timestamp())
    wired = settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap, "topic": topic})
    gw = make_gateway(wired, sink=sink, clock=fast)
    response = gw.post_events([kit.event(0, now=fast())])
    kit.assert_error(response, 503, "unavailable", "InvalidTimestampError")
    assert gw.service.spool.depth == 0
    assert "InvalidTimestampError" in gw.client.get("/healthz").json()["kafka"]["refused"]
    assert kit.consume(kafka_bootstrap, topic) == []
