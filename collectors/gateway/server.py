"""Serve the gateway with uvicorn: in the foreground (the CLI) or in a background thread (tests, bench).

uvicorn's h11 protocol is extended with a header timeout (a connection that does not send a complete
request head in time is closed: slow-loris) and a JSON error body for requests h11 cannot parse.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import NamedTuple

import h11
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from base.settings import Settings
from collectors.gateway.errors import error_body

MAX_HEAD_BYTES = 16 * 1024  # request line and headers; more is answered 431


class Limits(NamedTuple):
    """Connection limits of the HTTP server (see the gateway_* settings)."""

    header_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.gateway_header_timeout_s, settings.gateway_keep_alive_s, settings.gateway_max_connections)


def _raw_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 error response in the gateway's JSON shape, for use outside h11's state machine."""
    body = json.dumps(error_body(status, message)).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head timeout and JSON bodies on malformed requests."""

    header_timeout_s = 10.0
    _head_timer: asyncio.TimerHandle | None = None
    _heard = False  # bytes arrived since the head timer was armed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._heard = True
        super().data_received(data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()  # the next request's head must arrive in time too

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._heard = False
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # the head arrived; the app bounds the body read itself
        if self.transport.is_closing():
            return
        if self._heard:  # a partial head: say why; a silent connection is just closed
            message = f"the request head did not arrive within {self.header_timeout_s:g} s"
            self.transport.write(_raw_response(408, "Request Timeout", message))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this from inside its `except h11.RemoteProtocolError`, so the error is at hand.
        error = sys.exc_info()[1]
        status = 400
        detail = "the request is not valid HTTP/1.1"
        if isinstance(error, h11.RemoteProtocolError):
            status = error.error_status_hint if error.error_status_hint in {400, 431} else 400
            detail = f"malformed HTTP request ({error})"
            if status == 431:
                detail = f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes"
        reason = "Bad Request" if status == 400 else "Request Header Fields Too Large"
        self.transport.write(_raw_response(status, reason, f"{detail}: send an HTTP/1.1 request to POST /v1/events"))
        self.transport.close()


def guarded_protocol(header_timeout_s: float) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn instantiates per connection, with this header timeout."""
    return type("GatewayH11Protocol", (GuardedH11Protocol,), {"header_timeout_s": header_timeout_s})


def uvicorn_config(app: Starlette, host: str, port: int, limits: Limits | None = None) -> uvicorn.Config:
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
        timeout_keep_alive=max(1, round(limits.keep_alive_s)),
        limit_concurrency=limits.max_connections,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
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
