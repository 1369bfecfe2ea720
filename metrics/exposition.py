"""/metrics as the pipeline serves it: the figures rendered once per refresh, the health at every scrape.

The adoption and strategy families (thousands of series: investments × departments) change only when a refresh
writes; rendering them costs about a second at 2,000 investments × 20 departments. A thread renders them again
whenever the pipeline's refresh count moves, and a scrape sends those bytes with the health families read then
(a few milliseconds), so Prometheus never waits for the figures and sees health as it is.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import Metric

if TYPE_CHECKING:
    from metrics.health import Probe

log = logging.getLogger(__name__)

RENDER_CHECK_S = 0.5  # how often the thread looks for a new refresh


class Parts(Protocol):
    def figures(self) -> list[Metric]: ...
    def health(self) -> Iterable[Metric]: ...


class Families:
    """What generate_latest reads: an object whose collect() yields families."""

    def __init__(self, families: Callable[[], Iterable[Metric]]) -> None:
        self.collect = families


class Exposition:
    """The bytes of /metrics: `body(gzipped)` for the HTTP handler; `close()` stops the rendering thread."""

    def __init__(self, parts: Parts, version: Callable[[], object]) -> None:
        self._parts, self._version = parts, version
        self._figures: bytes | None = None
        # The figures compressed once, the stream left open: a copy of it takes each scrape's health and is
        # closed, so a gzipped body is one gzip member (some clients read no further than the first).
        self._zipped: tuple[bytes, Any] = (b"", None)
        self._rendered_for: object = object()  # no version equals it: the first check renders
        self._lock = threading.Lock()
        self._rendering = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="metrics-render", daemon=True)
        self._thread.start()

    def _render(self) -> None:
        with self._rendering:  # one render at a time; scrapes meanwhile get the last one (the swap below is short)
            version = self._version()
            if version == self._rendered_for and self._figures is not None:
                return
            try:
                figures = generate_latest(Families(self._parts.figures))
            except duckdb.Error:  # the health part says alignmon_up 0; the last figures stay until it reads again
                log.exception("rendering the figures failed")
                return
            stream = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16)
            head = stream.compress(figures)
            with self._lock:
                self._figures, self._zipped, self._rendered_for = figures, (head, stream), version

    def _keep(self) -> None:
        while not self._closing.wait(RENDER_CHECK_S):
            self._render()

    def body(self, gzipped: bool = False) -> bytes:
        """The figures as last rendered (rendered now the first time) and the health as it is now."""
        if self._figures is None:
            self._render()
        health = generate_latest(Families(self._parts.health))
        with self._lock:  # a render swaps both at once
            figures, (head, stream) = self._figures, self._zipped
        if not gzipped:
            return (figures or b"") + health
        # A copy of the kept stream (never written to again once swapped in) takes the health and is closed.
        tail = stream.copy() if stream is not None else zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        return head + tail.compress(health) + tail.flush()

    def close(self) -> None:
        self._closing.set()
        self._thread.join()


def serve(
    body: Callable[[bool], bytes], host: str, port: int, probes: Mapping[str, Callable[[], Probe]] | None = None
) -> ThreadingHTTPServer:
    """Serve `body(gzipped)` at /metrics from a thread (gzipped when the client accepts it, as Prometheus does), and
    each probe's JSON answer at its path (/healthz, /readyz: metrics.health); returns the server (shutdown,
    server_close). Each request has a thread of its own, and a probe reads no database: it never waits for a scrape."""
    answers: Mapping[str, Callable[[], Probe]] = probes or {}
    paths = ", ".join(["/metrics", *answers])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            probe = answers.get(path)
            if probe is not None:
                self._probe(*probe())
                return
            if path not in ("/metrics", "/"):
                self.send_error(404, f"not served here; this port serves {paths}")
                return
            zipped = "gzip" in self.headers.get("Accept-Encoding", "")
            data = body(zipped)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(data)))
            if zipped:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.write(data)

        def _probe(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a scrape every few seconds is not news

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    log.info("exporter on http://%s:%d/metrics", host, server.server_port)
    return server
