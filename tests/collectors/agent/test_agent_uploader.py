"""The uploader against a real local HTTP server that answers from a script: retries, commits, no loss."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.event import UsageEvent
from collectors.spool import Spool
from collectors.uploader import (
    Backoff,
    UploadAuthError,
    UploadConfigError,
    Uploader,
    UploadRetryError,
    UploadTLSError,
    UrllibTransport,
    parse_retry_after,
)

TOKEN = "tok-123"
Stub = Any


def spool_with(tmp_path: Path, events: list[UsageEvent]) -> Spool:
    spool = Spool(tmp_path / "spool")
    spool.append(e.to_json_bytes() for e in events)
    return spool


class Sleeps:
    """An injected sleep that records the delays and never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.delays.append(seconds)
        return False


def test_backoff_doubles_up_to_the_cap_with_jitter_below_the_ceiling() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0, jitter=0.5)
    assert [backoff.delay(n, rng=lambda: 0.0) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert [backoff.delay(n, rng=lambda: 1.0) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff.delay(10_000, rng=lambda: 0.0) == 8.0


def test_retry_after_header_values() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


def test_500_429_then_202_delivers_every_event_once_in_order(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    events = [event(n) for n in range(1200)]
    spool = spool_with(tmp_path, events)
    stub.script = [stub.reply(500), stub.reply(429, {"Retry-After": "7"}), stub.reply(503)]
    sleeps = Sleeps()
    uploader = Uploader(spool, stub.url, TOKEN, backoff=Backoff(base_s=1.0, cap_s=60.0), rng=lambda: 0.0)
    assert uploader.drain(sleep=sleeps) == 1200
    # 500 -> backoff 1 s; 429 -> its Retry-After; 503 -> backoff 4 s (the third failure in a row).
    assert sleeps.delays == [1.0, 7.0, 4.0]
    sizes = [len(r.events) for r in stub.requests]
    assert sizes == [500, 500, 500, 500, 500, 200]
    first_batch = [f"ev-{n}" for n in range(500)]
    assert [r.ids for r in stub.requests[:4]] == [first_batch] * 4  # the same batch, resent whole
    delivered = [i for r in stub.requests[3:] for i in r.ids]
    assert delivered == [f"ev-{n}" for n in range(1200)]
    assert spool.depth == 0
    assert uploader.accepted_total == 1200
    for request in stub.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Content-Encoding"] == "gzip"
        assert request.headers["Content-Type"] == "application/json"
    assert UsageEvent.model_validate(stub.requests[-1].events[-1]) == events[-1]


def test_401_stops_with_a_clear_message_and_keeps_the_rest(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    spool = spool_with(tmp_path, [event(n) for n in range(10)])
    stub.script = [stub.reply(202), stub.reply(401)]
    uploader = Uploader(spool, stub.url, TOKEN, batch_size=4)
    with pytest.raises(UploadAuthError, match=r"wrong, expired or was revoked.*6 events stay in the spool"):
        uploader.drain(sleep=Sleeps())
    assert spool.depth == 6
    spool.close()

    # After a restart with a good token the remaining six go, and nothing is sent twice.
    reopened = Spool(tmp_path / "spool")
    assert reopened.depth == 6
    assert Uploader(reopened, stub.url, "new-token", batch_size=4).drain(sleep=Sleeps()) == 6
    accepted = [i for r in stub.requests if r is not stub.requests[1] for i in r.ids]
    assert accepted == [f"ev-{n}" for n in range(10)]
    assert reopened.depth == 0


def test_after_a_401_a_rotated_token_in_the_token_file_is_used_without_a_restart(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    spool = spool_with(tmp_path, [event(n) for n in range(6)])
    token_file = tmp_path / "agent-token"
    token_file.write_text(TOKEN)
    stub.script = [stub.reply(202), stub.reply(401)]
    uploader = Uploader(spool, stub.url, TOKEN, batch_size=3, reread_token=token_file.read_text)
    token_file.write_text("rotated-token")  # handed out while the agent runs; the old one's grace then ended
    assert uploader.drain(sleep=Sleeps()) == 6
    assert [r.headers["Authorization"] for r in stub.requests] == [f"Bearer {TOKEN}"] * 2 + ["Bearer rotated-token"]
    assert [i for r in stub.requests[::2] for i in r.ids] == [f"ev-{n}" for n in range(6)]  # the refused batch resent
    assert spool.depth == 0

    # A 401 while the file still holds the refused token stops as before, and the events stay.
    spool.append([event(6).to_json_bytes()])
    stub.script = [stub.reply(401)]
    with pytest.raises(UploadAuthError, match=r"1 event stays in the spool"):
        uploader.drain(sleep=Sleeps())
    assert spool.depth == 1


def test_events_rejected_with_field_errors_are_logged_and_dropped(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent], caplog: pytest.LogCaptureFixture
) -> None:
    spool = spool_with(tmp_path, [event(n) for n in range(5)])
    errors = [{"index": 2, "field": "duration_s", "message": "Input should be greater than or equal to 0"}]
    stub.script = [stub.reply(202, body={"accepted": 4, "rejected": 1, "errors": errors})]
    uploader = Uploader(spool, stub.url, TOKEN)
    with caplog.at_level(logging.WARNING, logger="collectors.uploader"):
        assert uploader.drain(sleep=Sleeps()) == 5
    assert spool.depth == 0
    assert (uploader.accepted_total, uploader.dropped_total) == (4, 1)
    assert "rejected event 2 of the batch (duration_s: Input should be greater than or equal to 0)" in caplog.text
    assert len(stub.requests) == 1


def test_413_halves_the_batch_until_the_gateway_takes_it(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    spool = spool_with(tmp_path, [event(n) for n in range(10)])
    stub.decide = lambda events: stub.reply(413) if len(events) > 3 else stub.reply(202)
    uploader = Uploader(spool, stub.url, TOKEN, batch_size=8)
    assert uploader.drain(sleep=Sleeps()) == 10
    accepted = [i for r in stub.requests if len(r.events) <= 3 for i in r.ids]
    assert accepted == [f"ev-{n}" for n in range(10)]
    assert [len(r.events) for r in stub.requests][:3] == [8, 4, 2]
    assert spool.depth == 0


def test_a_single_event_too_large_even_alone_is_dropped(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    spool = spool_with(tmp_path, [event(0), event(1)])
    stub.decide = lambda events: stub.reply(413) if events[0]["event_id"] == "ev-0" else stub.reply(202)
    uploader = Uploader(spool, stub.url, TOKEN)
    uploader.drain(sleep=Sleeps())
    assert spool.depth == 0
    assert uploader.dropped_total == 1
    assert [r.ids for r in stub.requests] == [["ev-0", "ev-1"], ["ev-0"], ["ev-1"]]


def test_network_errors_back_off_and_keep_everything(tmp_path: Path, event: Callable[..., UsageEvent]) -> None:
    from alignmon.stack.process import free_port

    spool = spool_with(tmp_path, [event(n) for n in range(3)])
    uploader = Uploader(
        spool, f"http://127.0.0.1:{free_port()}", TOKEN, backoff=Backoff(base_s=2.0, cap_s=100.0), rng=lambda: 1.0
    )
    with pytest.raises(UploadRetryError, match="gateway unreachable: ConnectionRefusedError"):
        uploader.upload_once()
    sleeps = Sleeps()
    assert uploader.drain(sleep=sleeps, max_attempts=3) == 0
    # Failures 2, 3, 4 in a row (the first came from upload_once): 2 * 2**n halved by the full jitter.
    assert sleeps.delays == [2.0, 4.0]
    assert spool.depth == 3


def test_a_wrong_gateway_url_is_a_config_error(tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]) -> None:
    spool = spool_with(tmp_path, [event(0)])
    uploader = Uploader(spool, stub.url + "/nope", TOKEN)
    with pytest.raises(UploadConfigError, match="answered 404"):
        uploader.drain(sleep=Sleeps())
    assert spool.depth == 1


def test_stop_during_a_wait_returns_at_once(tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]) -> None:
    spool = spool_with(tmp_path, [event(0)])
    stub.script = [stub.reply(500)]
    uploader = Uploader(spool, stub.url, TOKEN)
    assert uploader.drain(sleep=lambda _s: True) == 0
    assert spool.depth == 1
    assert len(stub.requests) == 1


def test_an_empty_spool_sends_nothing(tmp_path: Path, stub: Stub) -> None:
    uploader = Uploader(Spool(tmp_path / "spool"), stub.url, TOKEN, http=UrllibTransport(timeout_s=5))
    assert uploader.upload_once() is None
    assert stub.requests == []


def test_a_device_id_the_token_does_not_cover_stops_instead_of_dropping_everything(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    spool = spool_with(tmp_path, [event(0), event(1)])
    errors = [
        {"index": i, "field": "device_id", "message": "device_id does not match the device this token was issued to"}
        for i in range(2)
    ]
    stub.script = [stub.reply(202, body={"accepted": 0, "rejected": 2, "errors": errors})]
    with pytest.raises(UploadConfigError, match="pass the --device the token was issued to"):
        Uploader(spool, stub.url, TOKEN).drain(sleep=Sleeps())
    assert spool.depth == 2


# -- TLS: the roots are checked, and $SSL_CERT_FILE names other ones (as with httpx before) -------------------


@pytest.fixture
def tls_gateway(tmp_path: Path) -> Iterator[tuple[str, Path, list[bytes]]]:
    """A local HTTPS server with a self-signed certificate answering 202: its URL, certificate and bodies."""
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: apt-get install openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(gzip.decompress(self.rfile.read(int(self.headers["Content-Length"]))))
            answer = json.dumps({"accepted": 1, "rejected": 0, "errors": []}).encode()
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert, bodies
    server.shutdown()
    server.server_close()


def test_https_checks_the_certificate_against_the_roots(
    tls_gateway: tuple[str, Path, list[bytes]],
    tmp_path: Path,
    event: Callable[..., UsageEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, cert, bodies = tls_gateway
    spool = spool_with(tmp_path, [event(0)])
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(UploadTLSError, match="presents a certificate this computer does not trust"):
        Uploader(spool, url, TOKEN).upload_once()  # no resend can fix it: the uploader stops and keeps the events
    assert spool.depth == 1
    assert bodies == []
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    assert Uploader(spool, url, TOKEN).upload_once() == (1, 1, 0)
    assert [json.loads(b)[0]["event_id"] for b in bodies] == ["ev-0"]
    assert spool.depth == 0


def test_uploads_go_through_the_proxy_the_environment_names(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("no_proxy", "NO_PROXY", "http_proxy", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", stub.url)  # the stub plays the proxy: the gateway's name never resolves
    spool = spool_with(tmp_path, [event(0)])
    assert Uploader(spool, "http://gateway.invalid:18700", TOKEN).upload_once() == (1, 1, 0)
    assert stub.requests[0].ids == ["ev-0"]


def test_a_401_says_the_gateways_reason_once_without_advice_of_its_own(
    tmp_path: Path, stub: Stub, event: Callable[..., UsageEvent]
) -> None:
    from datetime import UTC, datetime

    from collectors.gateway.tokens import TokenInfo, refusal

    expired = TokenInfo("laptop-7", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), None, None)
    reason = refusal(expired)  # what the real gateway answers for an expired token
    spool = spool_with(tmp_path, [event(0)])
    stub.script = [stub.reply(401, body={"error": {"status": 401, "code": "unauthorized", "message": reason}})]
    uploader = Uploader(spool, stub.url, TOKEN)
    with pytest.raises(UploadAuthError) as refused:
        uploader.drain(sleep=Sleeps())
    assert str(refused.value) == (
        f"the gateway at {uploader.url} refused the device token (401): {reason}. 1 event stays in the spool until "
        "then."
    )
    assert "alignmon tokens rotate" in reason and str(refused.value).count("tokens rotate") == 1
    spool.close()
