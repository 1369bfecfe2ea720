"""Upload spooled events to the gateway in gzip batches; commit the spool only on the gateway's 202.

Shared by the agent and the importers' `--gateway` delivery, with the device token they read the same way.

Answers and what happens:
- 202: the batch is committed; events the gateway rejected (field errors) are logged and dropped, since
  sending them again can never succeed;
- 429: wait for Retry-After (at least), then resend;
- 5xx and network errors: exponential backoff with jitter, then resend (a batch whose 202 was lost is
  sent twice; event ids make the second copy a no-op downstream);
- 413: halve the batch and resend; a single event too large for the gateway is logged and dropped;
- 401: with a token file, read it again: a new token there (a rotation handed out while the agent ran) is used at
  once; otherwise stop with `UploadAuthError` (token wrong, expired or revoked); the spool is kept;
- 202 rejecting events for their device_id: stop with `UploadConfigError` (the token belongs to another
  device id, which no resend fixes and which would otherwise drop everything); the spool is kept;
- any other 4xx (and a 3xx: redirects are not followed): stop with `UploadConfigError` (wrong URL, or a gateway
  that does not speak this API);
- TLS that cannot work as configured (an https:// URL to a plain-http gateway or the reverse, an untrusted
  certificate, one for another host, a client certificate missing or refused): stop with `UploadTLSError`, whose
  one line names the URL and what to do (collectors.tls.diagnose); the spool is kept. An expired certificate is
  retried: the gateway's operator renews it.

HTTP goes through the standard library (`UrllibTransport`), not httpx: on the endpoint agent httpx and its client
cost 6.6 MiB of its ~40 MiB budget (docs/benchmarks.md, "Agent").
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import logging
import os
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from base.arguments import environment
from base.errors import AlignmonError
from collectors.spool import Batch, Spool
from collectors.tls import ClientTLS, diagnose

log = logging.getLogger(__name__)

MAX_BATCH = 500
EVENTS_PATH = "/v1/events"
TOKEN_ENV = "ALIGNMON_AGENT_TOKEN"


def read_token(args: argparse.Namespace) -> str:
    """The device token from --token, --token-file or ALIGNMON_AGENT_TOKEN, in that order."""
    if args.token is not None:
        if not args.token.strip():
            raise AlignmonError("--token is empty")
        return str(args.token).strip()
    if args.token_file is not None:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AlignmonError(f"{args.token_file}: cannot read the device token: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise AlignmonError(f"{args.token_file}: the token file is not UTF-8 text") from None
        if not token:
            raise AlignmonError(f"{args.token_file}: the token file is empty")
        return token
    token = (environment_token() or "").strip()
    if not token:
        raise AlignmonError(f"no device token: set ${TOKEN_ENV} or pass --token-file (see alignmon tokens issue)")
    return token


def environment_token(environ: Mapping[str, str] = os.environ) -> str | None:
    """$ALIGNMON_AGENT_TOKEN as Settings.agent_token reads it (the name in any case), without loading
    pydantic-settings, which with the asyncio it imports costs the agent 3.5 MiB and 0.2 s at start."""
    return environment(TOKEN_ENV, environ)


class UploadAuthError(AlignmonError):
    """The gateway refused the device token (401): it is wrong or has been revoked."""


class UploadConfigError(AlignmonError):
    """The gateway answered in a way no retry will fix (wrong URL, unexpected 4xx)."""


class UploadTLSError(UploadConfigError):
    """TLS with the gateway cannot work as configured (scheme, CA, host name, client certificate)."""

    def __init__(self, problem: str, pending: int) -> None:
        super().__init__(f"{problem} (the events stay in the spool: {pending})")
        self.problem = problem


class UploadRetryError(Exception):
    """A batch was not delivered this time; `delay_s` says when to try again."""

    def __init__(self, delay_s: float, reason: str) -> None:
        super().__init__(reason)
        self.delay_s = delay_s
        self.reason = reason


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits base * 2**n, capped, times a factor in [1 - jitter, 1]."""

    base_s: float = 1.0
    cap_s: float = 300.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(attempt, 32))
        return ceiling * (1.0 - self.jitter * rng())


class Sent(NamedTuple):
    """The outcome of one delivered batch."""

    sent: int
    accepted: int
    rejected: int


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def batch_body(records: list[bytes]) -> bytes:
    """A JSON array of the spooled event records (each already the event's JSON), gzip-compressed."""
    return gzip.compress(b"[" + b",".join(records) + b"]", compresslevel=6)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds; None when absent or not a number."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


class Response(NamedTuple):
    """A gateway's answer, as the uploader reads it."""

    status_code: int
    reason_phrase: str
    headers: Mapping[str, str]  # case-insensitive lookup (http.client's message)
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class GatewayUnreachableError(Exception):
    """No answer from the gateway (connection, TLS, timeout, a broken response): worth a retry."""


class GatewayTLSError(Exception):
    """No answer from the gateway because TLS cannot work as configured: no retry will help."""


class Transport(Protocol):
    """What the uploader needs of HTTP: one POST, answered or raising GatewayUnreachableError or GatewayTLSError."""

    def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> Response: ...

    def close(self) -> None: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer (a wrong URL), not a place to resend the batch to."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class UrllibTransport:
    """POSTs with urllib: proxies from the environment (*_PROXY, NO_PROXY), TLS verified, no redirects."""

    def __init__(self, timeout_s: float = 30.0, tls: ClientTLS | None = None) -> None:
        self.timeout_s = timeout_s
        self.tls = tls or ClientTLS()
        self._opener: urllib.request.OpenerDirector | None = None
        self._context: ssl.SSLContext | None = None
        self._proxies: dict[str, str] = {}

    def _open(self, request: urllib.request.Request) -> Any:
        if self._opener is None:
            proxies = urllib.request.getproxies()
            if "all" in proxies:  # ALL_PROXY, which httpx honoured and urllib alone does not
                proxies = {"http": proxies["all"], "https": proxies["all"], **proxies}
            self._proxies = proxies
            # Loading the roots costs 1.7 MiB: only when the gateway (or its proxy) speaks TLS.
            tls = any(u.startswith("https:") for u in (request.full_url, *proxies.values()))
            handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler(proxies), _NoRedirect()]
            if tls:
                self._context = self.tls.context()
                handlers.append(urllib.request.HTTPSHandler(context=self._context))
            self._opener = urllib.request.build_opener(*handlers)
        return self._opener.open(request, timeout=self.timeout_s)

    def _direct(self, url: str) -> bool:
        """Whether urllib connects to the URL's host itself (no proxy between), so a probe reaches the same server."""
        parts = urllib.parse.urlsplit(url)
        return not self._proxies.get(parts.scheme) or bool(urllib.request.proxy_bypass(parts.hostname or ""))

    def _failed(self, url: str, error: BaseException, detail: str) -> Exception:
        """The exception for a POST that got no answer: GatewayTLSError when TLS explains it for good."""
        found = diagnose(url, error, self.tls, self._context, probe=self._direct(url), timeout_s=self.timeout_s)
        if found is None:
            return GatewayUnreachableError(detail)
        return GatewayTLSError(found.message) if found.terminal else GatewayUnreachableError(found.message)

    def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> Response:
        try:
            request = urllib.request.Request(url, data=content, headers=dict(headers), method="POST")
            try:
                answer = self._open(request)
            except urllib.error.HTTPError as error:
                answer = error  # a 3xx, 4xx or 5xx is an answer, not a failure
            with answer:
                return Response(answer.getcode(), answer.reason, answer.headers, answer.read())
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, BaseException):
                raise self._failed(url, reason, f"{type(reason).__name__}: {reason}") from exc
            raise GatewayUnreachableError(str(reason)) from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:  # ValueError: not an http(s) URL
            raise self._failed(url, exc, f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self._opener = None


def _error_message(response: Response) -> str:
    try:
        body: Any = response.json()
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or response.reason_phrase


class Uploader:
    """Moves events from the spool to the gateway, oldest first, one batch at a time."""

    def __init__(
        self,
        spool: Spool,
        gateway_url: str,
        token: str,
        *,
        http: Transport | None = None,
        batch_size: int = MAX_BATCH,
        backoff: Backoff = Backoff(),
        rng: Callable[[], float] = random.random,
        timeout_s: float = 30.0,
        tls: ClientTLS | None = None,
        reread_token: Callable[[], str] | None = None,
    ) -> None:
        self.spool = spool
        self._token = token
        self._reread_token = reread_token  # the token file read again, after a 401
        self.url = gateway_url.rstrip("/") + EVENTS_PATH
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.backoff = backoff
        self.rng = rng
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        self._http = http or UrllibTransport(timeout_s, tls)
        self._owns_http = http is None
        self._limit = self.batch_size  # lowered after a 413, raised again after successes
        self.failures = 0
        self.accepted_total = 0
        self.dropped_total = 0

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def upload_once(self) -> Sent | None:
        """Send the oldest batch; None when the spool is empty. Raises UploadRetryError or a terminal error."""
        batch = self.spool.peek(self._limit)
        if batch is None:
            return None
        try:
            response = self._http.post(self.url, batch_body(batch.records), self._headers)
        except GatewayUnreachableError as exc:
            raise self._retry(f"gateway unreachable: {exc}") from None
        except GatewayTLSError as exc:
            raise UploadTLSError(str(exc), self.spool.depth) from None
        status = response.status_code
        if status == 202:
            return self._delivered(batch, response)
        if status == 401:
            if self._new_token():
                raise UploadRetryError(0.0, "the gateway refused the device token; the token file holds a new one")
            said = _error_message(response)
            if said.casefold() in ("", "unauthorized", response.reason_phrase.casefold()):  # a proxy's, say
                said = (
                    "the token is wrong, expired or was revoked: get a new one (alignmon tokens rotate --device "
                    "DEVICE) and restart"
                )  # else the gateway's own words say why, and what to do
            waiting = "1 event stays" if self.spool.depth == 1 else f"{self.spool.depth} events stay"
            raise UploadAuthError(
                f"the gateway at {self.url} refused the device token (401): {said}. {waiting} in the spool until then."
            )
        if status == 413:
            return self._too_large(batch, response)
        if status == 429:
            wait = parse_retry_after(response.headers.get("retry-after"))
            fallback = self.backoff.delay(self.failures, self.rng)
            self.failures += 1
            reason = f"rate limited (429): {_error_message(response)}"
            raise UploadRetryError(fallback if wait is None else wait, reason)
        if status >= 500:
            raise self._retry(f"gateway error {status}: {_error_message(response)}")
        raise UploadConfigError(
            f"the gateway at {self.url} answered {status}: {_error_message(response)}; check --gateway "
            f"(the events stay in the spool: {self.spool.depth})"
        )

    def _new_token(self) -> bool:
        """Whether the token file now holds another token than the one refused; if so, it is used from now on."""
        if self._reread_token is None:
            return False
        try:
            token = self._reread_token()
        except AlignmonError:  # unreadable or empty half-way through its replacement: the 401 stands
            return False
        if token == self._token:
            return False
        self._token = token
        self._headers["Authorization"] = f"Bearer {token}"
        return True

    def _retry(self, reason: str) -> UploadRetryError:
        delay = self.backoff.delay(self.failures, self.rng)
        self.failures += 1
        return UploadRetryError(delay, reason)

    def _delivered(self, batch: Batch, response: Response) -> Sent:
        try:
            body: Any = response.json()
            accepted, rejected = int(body["accepted"]), int(body["rejected"])
            errors = body.get("errors") or []
        except (ValueError, KeyError, TypeError):
            accepted, rejected, errors = len(batch), 0, []
            log.warning("gateway answered 202 with an unreadable body; counting the batch as delivered")
        mismatch = next((e for e in errors if isinstance(e, dict) and e.get("field") == "device_id"), None)
        if mismatch is not None:
            # Every event of this agent carries the same device id, so this is configuration, not data.
            raise UploadConfigError(
                f"the gateway refused the events' device id ({mismatch.get('message')}): pass the --device the "
                f"token was issued to; the events stay in the spool ({self.spool.depth})"
            )
        for error in errors[:20]:
            log.warning(
                "gateway rejected event %s of the batch (%s: %s); it is dropped, a resend cannot fix it",
                error.get("index"),
                error.get("field") or "event",
                error.get("message"),
            )
        if rejected:
            log.warning("gateway rejected %d of %d events in a batch (dropped)", rejected, len(batch))
        self.spool.commit(batch)
        self.failures = 0
        self.accepted_total += accepted
        self.dropped_total += rejected
        self._limit = min(self.batch_size, self._limit * 2)
        return Sent(len(batch), accepted, rejected)

    def _too_large(self, batch: Batch, response: Response) -> Sent:
        if len(batch) > 1:
            self._limit = max(1, len(batch) // 2)
            log.info("gateway: batch of %d events too large (413); trying %d", len(batch), self._limit)
            return Sent(0, 0, 0)
        log.error(
            "gateway refuses an event as too large even alone (413: %s); dropping it: %r",
            _error_message(response),
            batch.records[0][:200],
        )
        self.spool.commit(batch)
        self.dropped_total += 1
        return Sent(1, 0, 1)

    def drain(
        self,
        *,
        sleep: Callable[[float], bool] = _sleep,
        max_attempts: int | None = None,
    ) -> int:
        """Upload until the spool is empty; returns events sent. `sleep` returns True to stop waiting.

        Gives up (returns) after `max_attempts` consecutive failed attempts, or when `sleep` says stop;
        terminal errors (401, other 4xx) propagate.
        """
        sent = 0
        failed = 0
        while True:
            try:
                result = self.upload_once()
            except UploadRetryError as retry:
                failed += 1
                log.warning("upload failed (%s); retrying in %.1f s", retry.reason, retry.delay_s)
                if max_attempts is not None and failed >= max_attempts:
                    return sent
                if sleep(retry.delay_s):
                    return sent
                continue
            if result is None:
                return sent
            failed = 0
            sent += result.sent
