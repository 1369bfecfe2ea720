"""The gateway behind a reverse proxy: whose address the bad-token limit counts (docs/deploy.md, the reverse proxy).

The gateway takes a request's client address from X-Forwarded-For only when the connection comes from the loopback
address 127.0.0.1 (or ::1): a proxy on the gateway's own machine. From any other peer the header is ignored, so a
device cannot pick the address its guesses are counted against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from base.settings import Settings

BAD = "not-a-token-of-any-device"


def _bad_token(gw: Any, forwarded_for: str, client: httpx.Client | None = None) -> int:
    headers = {"Authorization": f"Bearer {BAD}", "Content-Type": "application/json", "X-Forwarded-For": forwarded_for}
    return (client or gw.client).post("/v1/events", content=b"[]", headers=headers).status_code


def test_a_proxy_on_the_gateways_machine_gives_each_device_its_own_bad_token_limit(
    settings: Settings, make_gateway: Callable[..., Any]
) -> None:
    gw = make_gateway(settings.model_copy(update={"auth_failures_per_s": 0.5, "auth_failure_burst": 3}))
    assert [_bad_token(gw, "10.0.0.1") for _ in range(4)] == [401, 401, 401, 429]
    assert _bad_token(gw, "10.0.0.2") == 401  # another device behind the same proxy: its own limit
    assert _bad_token(gw, "10.0.0.1") == 429


def test_x_forwarded_for_from_any_other_peer_is_ignored(settings: Settings, make_gateway: Callable[..., Any]) -> None:
    gw = make_gateway(settings.model_copy(update={"auth_failures_per_s": 0.5, "auth_failure_burst": 3}))
    # 127.0.0.2 is this machine too, but not the address the gateway trusts a proxy at.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=gw.server.url, transport=transport, timeout=30) as elsewhere:
        answers = [_bad_token(gw, f"10.0.0.{n}", elsewhere) for n in range(1, 5)]
    assert answers == [401, 401, 401, 429]  # one limit for the peer, whatever the header says
