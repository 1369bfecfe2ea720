"""The HTTP transport: parse and authenticate requests, call the service, render one JSON error shape."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collectors.gateway.body import too_large, unpack_body
from collectors.gateway.committer import GroupCommitter
from collectors.gateway.errors import GatewayError, error_body
from collectors.gateway.metrics import GatewayMetrics
from collectors.gateway.service import GatewayService, IngestResult, Validated

log = logging.getLogger(__name__)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


class CountResponses:
    """ASGI middleware counting answers by status code (including 404/405 from routing)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.requests.labels(code=str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)


async def read_body(request: Request, limit: int, timeout_s: float | None = None) -> bytes:
    """The raw body, refusing more than `limit` bytes before reading them all, and 408 after `timeout_s`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise GatewayError(
            408, f"the request body did not arrive within {timeout_s:g} s: send it at once, or smaller batches"
        ) from None
    return b"".join(chunks)


# Bodies up to this size (agents' uploads) are checked and validated on the event loop: that takes less than a
# thread hop would. Larger or compressed ones (up to the body limit after gunzip) go to a thread, so the loop keeps
# serving the other connections meanwhile.
INLINE_BYTES = 64 * 1024


def create_app(service: GatewayService) -> Starlette:
    """The gateway's ASGI app; its lifespan starts and stops the service (spool replay, producer)."""
    committer: GroupCommitter[Validated, IngestResult] = GroupCommitter(service.accept_all)

    async def post_events(request: Request) -> Response:
        address = request.client.host if request.client else None
        # Inline: one indexed SQLite read (about 10 µs) costs less than a thread hop.
        device = service.authenticate(request.headers.get("authorization"), address)
        service.check_rate(device)
        body = await read_body(request, service.max_body_bytes, service.body_timeout_s)
        encoding = request.headers.get("content-encoding")

        def validate() -> Validated:
            unpacked = unpack_body(
                body,
                request.headers.get("content-type"),
                encoding,
                service.max_body_bytes,
                max_depth=service.max_json_depth,
                max_events=service.max_events,
            )
            return service.validate(device, unpacked)

        inline = len(body) <= INLINE_BYTES and (encoding or "identity").strip().lower() == "identity"
        validated = validate() if inline else await run_in_threadpool(validate)
        result = await committer.submit(validated)
        return JSONResponse(result.to_json(), status_code=202)

    async def healthz(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(service.health))

    async def metrics(request: Request) -> Response:
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        return error_response(exc.status, exc.message, exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {
            404: f"no such endpoint {request.url.path!r}: events go to POST /v1/events",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, message, dict(exc.headers or {}))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error: the events were not accepted, retry later")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.start()
        committer.start()
        try:
            yield
        finally:
            await run_in_threadpool(committer.stop)
            await run_in_threadpool(service.stop)

    return Starlette(
        routes=[
            Route("/v1/events", post_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=[Middleware(CountResponses, metrics=service.metrics)],
        exception_handlers={GatewayError: gateway_error, HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
