"""End to end: the agent samples real windows on Xvfb, uploads to a real gateway, which produces to real Kafka."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alignmon.cli import build_parser
from collectors.record import events_of

pytestmark = pytest.mark.integration

SECRET = "agent-e2e-secret-0123456789"
DEVICE = "xvfb-e2e"
XSession = Any


def pseudonym(user: str) -> str:
    """The gateway's HMAC-SHA256 pseudonym, computed here independently of the code under test."""
    return "u_" + hmac.new(SECRET.encode(), user.strip().casefold().encode(), hashlib.sha256).hexdigest()[:32]


def device_pseudonym(device: str) -> str:
    """The gateway's device pseudonym, computed here independently: its own domain, `d_` prefix."""
    return "d_" + hmac.new(SECRET.encode(), b"device\x1f" + device.encode(), hashlib.sha256).hexdigest()[:32]


def test_agent_on_xvfb_through_the_gateway_into_kafka(
    xsession: XSession,
    x_apps: dict[str, int],
    kafka_bootstrap: str,
    topic: str,
    read_topic: Callable[..., list[Any]],
    tmp_path: Path,
    kafka_gateway: Callable[[str], Any],
) -> None:
    from collectors.agent.agent import EXIT_OK
    from collectors.agent.commands import build_agent
    from collectors.gateway.app import create_app
    from collectors.gateway.server import BackgroundServer

    service = kafka_gateway(SECRET)
    token = service.tokens.issue(DEVICE)
    server = BackgroundServer(create_app(service)).start()
    try:
        interval = 0.5
        args = build_parser().parse_args(
            ["agent", "--gateway", server.url, "--display", xsession.display, "--interval", str(interval),
             "--upload-interval", "0.5", "--spool", str(tmp_path / "agent-spool"), "--device", DEVICE,
             "--user", "Tess Tester", "--titles"]
        )  # fmt: skip
        xsession.activate(x_apps["xterm"])
        agent = build_agent(args, token)
        result: list[int] = []
        runner = threading.Thread(target=lambda: result.append(agent.run()), daemon=True)
        runner.start()
        shown: list[tuple[str, float, float]] = []
        for app, seconds in [("xterm", 3.0), ("xcalc", 3.0), ("xlogo", 2.0)]:
            began = time.time()
            xsession.activate(x_apps[app])
            xsession.hold(seconds)
            shown.append((app, began, time.time()))
        agent.stop()
        runner.join(timeout=60)
        assert result == [EXIT_OK]
        assert agent.spool.depth == 0  # everything was delivered before the agent exited
    finally:
        server.stop()

    records = read_topic(kafka_bootstrap, topic)
    values = [e for r in records for e in events_of(r.value)]  # a record packs one request's events
    assert {r.key for r in records} == {device_pseudonym(DEVICE).encode()}  # the host name never reaches Kafka
    assert [v["app"] for v in values] == ["xterm", "xcalc", "xlogo"]
    for value, (app, began, ended) in zip(values, shown, strict=True):
        assert abs(value["duration_s"] - (ended - began)) <= interval + 0.4, (app, value, ended - began)
        assert abs(datetime.fromisoformat(value["start"]).timestamp() - began) <= interval + 0.4
        assert value["user"] == pseudonym("Tess Tester")  # pseudonymised by the gateway
        assert value["device_id"] == device_pseudonym(DEVICE)
        assert value["source"] == "agent"
        assert value["kind"] == "focus"
        assert "title" not in value  # the agent sent titles (--titles); the gateway drops them by default
    assert len({v["event_id"] for v in values}) == 3
    assert datetime.fromisoformat(values[0]["start"]).tzinfo is not None
    assert datetime.now(UTC).timestamp() - datetime.fromisoformat(values[-1]["start"]).timestamp() < 120
