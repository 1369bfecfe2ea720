"""Serve the gateway with uvicorn: in the foreground (the CLI) or in a background thread (tests, bench).

uvicorn's httptools protocol (llhttp, in C) on uvloop, extended with a request-head timeout (a connection that does
not send a complete request head in time is closed: slow-loris), a 431 for a request head over MAX_HEAD_BYTES
(llhttp has no such limit) and the gateway's JSON error shape for requests llhttp cannot parse.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import NamedTuple

import httptools
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from base.settings import Settings
from collectors.gateway.errors import error_body
from collectors.gateway.tls import ServerTLS

MAX_HEAD_BYTES = 16 * 1024  # request line and headers; more is answered 431
_HEAD_FRAMING = len(" HTTP/1.1\r\n") + len("\r\n")  # of a request line and head, besides method, target, headers


class Limits(NamedTuple):
    """Connection limits of the HTTP server (see the gateway_* settings)."""

    header_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.gateway_header_timeout_s, settings.gateway_keep_alive_s, settings.gateway_max_connections)


def _raw_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 error response in the gateway's JSON shape, for use outside an ASGI request."""
    body = json.dumps(error_body(status, message)).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class _RefusedError(Exception):
    """Raised in a parser callback to stop parsing a request and answer it with this status and detail."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


_TOO_LARGE = f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request-head timeout, a head-size limit and JSON bodies on bad requests.

    The head timer runs while the connection owes a request head: from the connection's start, and from each
    response until the next head is complete (a pipelined head that is already complete owes nothing).
    """

    header_timeout_s = 10.0
    _head_timer: asyncio.TimerHandle | None = None
    _head_open = False  # a request head has begun and is not complete
    _head_bytes = 0  # of the open head, counted from whole packets while it stays incomplete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # A packet that starts inside a head, or where no body is pending, and leaves the head open, belongs to that
        # head entirely: counting such packets bounds a head that never ends. The complete head is measured exactly
        # in on_headers_complete (llhttp keeps a header's bytes until its line ends, so a trickled one would grow).
        cycle = self.cycle
        whole = self._head_open or cycle is None or not cycle.more_body
        super().data_received(data)
        if whole and self._head_open and self.cycle is cycle and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(431, _TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        # The head as sent in the canonical form ("Name: value" lines); uvicorn has collected target and headers.
        size = len(self.parser.get_method()) + 1 + len(self.url) + _HEAD_FRAMING
        size += sum(len(name) + len(value) + 4 for name, value in self.headers)
        # Raised here, httptools turns them into an HttpParserError, which uvicorn answers with send_400_response.
        if size > MAX_HEAD_BYTES:
            raise _RefusedError(431, _TOO_LARGE)
        if self.parser.should_upgrade() and _has_body(self.headers):
            # llhttp takes what follows an upgrade offer's head as the new protocol: the body would be lost.
            raise _RefusedError(400, "a request with a body cannot offer a protocol upgrade (drop Upgrade)")
        self._head_open = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._arm_head_timer()  # no pipelined request went on: the next head must arrive in time too

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_open:  # a partial head: say why; a silent connection is just closed
            message = f"the request head did not arrive within {self.header_timeout_s:g} s"
            self.transport.write(_raw_response(408, "Request Timeout", message))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this from inside its `except httptools.HttpParserError`, so the error is at hand.
        error = sys.exc_info()[1]
        if isinstance(error, httptools.HttpParserCallbackError) and error.__context__ is not None:
            error = error.__context__  # raised in a callback: ours, or uvicorn's (an invalid URL, say)
        if isinstance(error, _RefusedError):
            self._refuse(error.status, error.detail)
        else:
            self._refuse(400, f"malformed HTTP request ({error})" if error else "the request is not valid HTTP/1.1")

    def _refuse(self, status: int, detail: str) -> None:
        self._cancel_head_timer()
        reason = "Bad Request" if status == 400 else "Request Header Fields Too Large"
        self.transport.write(_raw_response(status, reason, f"{detail}: send an HTTP/1.1 request to POST /v1/events"))
        self.transport.close()


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request with these (lower-cased) headers has a body."""
    return any(
        name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0") for name, value in headers
    )


def guarded_protocol(header_timeout_s: float) -> type[GuardedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, with this header timeout."""
    return type("GatewayHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"header_timeout_s": header_timeout_s})


def uvicorn_config(
    app: Starlette, host: str, port: int, limits: Limits | None = None, tls: ServerTLS | None = None
) -> uvicorn.Config:
    """uvicorn's configuration of the gateway; with `tls`, https only (and client certificates when it says so)."""
    limits = limits or Limits()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
        http=guarded_protocol(limits.header_timeout_s),
        loop="uvloop",
        timeout_keep_alive=max(1, round(limits.keep_alive_s)),
        limit_concurrency=limits.max_connections,
        **(tls.uvicorn_options() if tls is not None else {}),
    )


class BackgroundServer:
    """uvicorn in a thread, for running the real HTTP stack in-process; port 0 picks a free port."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None) -> None:
        self.server = uvicorn.Server(uvicorn_config(app, host, port, limits))
        self.host = host
        self.port = port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> BackgroundServer:
        self._thread = threading.Thread(target=self.server.run, name="gateway-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway HTTP server did not start")
            time.sleep(0.02)
        sockets = [s for server in self.server.servers for s in server.sockets]
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
