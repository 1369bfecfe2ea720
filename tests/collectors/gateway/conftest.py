"""Shared pieces of the gateway tests: settings in a temp dir, event factories, a gateway to talk to.

Test modules run in importlib mode and cannot import each other, so helpers come as the `kit` fixture.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from base.settings import Settings
from collectors.gateway.app import create_app
from collectors.gateway.server import BackgroundServer, Limits
from collectors.gateway.service import GatewayService
from collectors.record import events_of
from collectors.sink import MemorySink, Sink
from tests.support.wait import wait_until

SECRET = "gateway-test-secret-0123456789"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Kit:
    """Helpers shared by the gateway tests."""

    SECRET = SECRET
    NOW = NOW

    @staticmethod
    def clock() -> datetime:
        return NOW

    @staticmethod
    def event(n: int, device: str = "laptop-1", user: str = "Alice Example", **extra: Any) -> dict[str, Any]:
        """A valid event (as a device sends it) that starts 60 - n minutes before `now`."""
        event: dict[str, Any] = {
            "event_id": f"{device}-{n}",
            "kind": "focus",
            "device_id": device,
            "user": user,
            "app": "code.exe",
            "start": (extra.pop("now", NOW) - timedelta(minutes=60 - n)).isoformat(),
            "duration_s": 30.0,
            "source": "agent",
            "title": f"secret-plan-{n}.docx",
        }
        event.update(extra)
        return event

    @staticmethod
    def ndjson(events: list[Any]) -> bytes:
        return b"".join(json.dumps(e).encode() + b"\n" for e in events)

    @staticmethod
    def gz(data: bytes) -> bytes:
        return gzip.compress(data)

    @staticmethod
    def pseudonym(user: str, secret: str = SECRET) -> str:
        """The HMAC-SHA256 pseudonym, computed here independently of the code under test."""
        return "u_" + hmac.new(secret.encode(), user.strip().casefold().encode(), hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def device(device_id: str = "laptop-1", secret: str = SECRET) -> bytes:
        """The device's pseudonym as the record key the gateway produces, computed here independently."""
        mac = hmac.new(secret.encode(), b"device\x1f" + device_id.encode(), hashlib.sha256)
        return ("d_" + mac.hexdigest()[:32]).encode()

    @staticmethod
    def assert_error(response: httpx.Response, status: int, code: str, message_part: str) -> None:
        """The one error shape: exactly {"error": {"status", "code", "message"}}."""
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"status", "code", "message"}
        assert body["error"]["status"] == status
        assert body["error"]["code"] == code
        assert isinstance(body["error"]["message"], str)
        assert message_part in body["error"]["message"], body["error"]["message"]

    consume: Callable[..., list[Any]]  # set by the kit fixture: the shared read_topic

    @staticmethod
    def wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0, what: str = "condition") -> None:
        wait_until(predicate, timeout_s, what, interval=0.05)

    @staticmethod
    def process_env(tmp: Path, bootstrap: str, topic: str, workers: int) -> dict[str, str]:
        """The settings of an `alignmon gateway` process with `workers` workers, its files under `tmp`."""
        return {
            "ALIGNMON_PSEUDONYM_SECRET": SECRET,
            "ALIGNMON_TOKEN_DB": str(tmp / "tokens.sqlite"),
            "ALIGNMON_SPOOL_DIR": str(tmp / "spool"),
            "ALIGNMON_KAFKA_BOOTSTRAP": bootstrap,
            "ALIGNMON_TOPIC": topic,
            "ALIGNMON_GATEWAY_WORKERS": str(workers),
            "ALIGNMON_DEV_MODE": "0",
        }


@pytest.fixture
def kit(read_topic: Callable[..., list[Any]]) -> type[Kit]:
    Kit.consume = staticmethod(read_topic)  # type: ignore[assignment]
    return Kit


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        pseudonym_secret=SECRET,
        token_db=tmp_path / "tokens.sqlite",
        spool_dir=tmp_path / "spool",
        max_body_bytes=64 * 1024,
        rate_limit_per_s=1000.0,
        rate_limit_burst=1000,
        kafka_bootstrap="127.0.0.1:9",
        topic="unused",
        directory_csv=None,
        titles_enabled=False,
        dev_mode=False,
    )


@dataclass
class Gateway:
    """A gateway under test, served by uvicorn in a thread, and what a test needs to drive it."""

    server: BackgroundServer
    client: httpx.Client
    service: GatewayService
    sink: Sink
    token: str
    monotonic: FakeMonotonic
    device: str = "laptop-1"
    extra: dict[str, Any] = field(default_factory=dict)

    def post(self, body: bytes, *, token: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Content-Type": "application/json", "Authorization": f"Bearer {token or self.token}"}
        sent.update(headers or {})
        return self.client.post("/v1/events", content=body, headers=sent)

    def post_events(self, events: list[Any], token: str | None = None) -> httpx.Response:
        return self.post(json.dumps(events).encode(), token=token)

    @property
    def memory(self) -> MemorySink:
        assert isinstance(self.sink, MemorySink)
        return self.sink

    def sent(self) -> list[dict[str, Any]]:
        """The events the memory sink got, in order, unpacked from their records."""
        return [e for r in self.memory.records for e in events_of(r.value)]

    def stop(self) -> None:
        self.client.close()
        self.server.stop()


@pytest.fixture
def make_gateway() -> Iterator[Callable[..., Gateway]]:
    """Build and serve a gateway from settings (memory sink and fixed clocks unless given)."""
    started: list[Gateway] = []

    def build(
        settings: Settings,
        sink: Sink | None = None,
        clock: Callable[[], datetime] = Kit.clock,
        device: str = "laptop-1",
        **service_args: Any,
    ) -> Gateway:
        target = sink if sink is not None else MemorySink()
        monotonic = FakeMonotonic()
        service = GatewayService.from_settings(settings, sink=target, clock=clock, monotonic=monotonic, **service_args)
        token = service.tokens.issue(device)
        server = BackgroundServer(create_app(service), limits=Limits.from_settings(settings)).start()
        client = httpx.Client(base_url=server.url, timeout=60)
        gw = Gateway(server, client, service, target, token, monotonic, device)
        started.append(gw)
        return gw

    yield build
    for gw in started:
        gw.stop()


@pytest.fixture
def gateway(settings: Settings, make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway(settings)
