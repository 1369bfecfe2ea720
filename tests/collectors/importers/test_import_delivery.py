"""`alignmon import ... --to-gateway | --to-kafka` deliver to real Kafka, once, pseudonymised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from alignmon.stack.process import free_port
from base.pseudonym import pseudonymise, pseudonymise_device
from collectors.record import events_of
from tests.support.osquery import osquery_log

pytestmark = pytest.mark.integration

SECRET = "import-delivery-secret"


def values(read_topic: Any, bootstrap: str, topic: str, expect: int) -> list[dict[str, Any]]:
    found = [e for r in read_topic(bootstrap, topic) for e in events_of(r.value)]
    assert len(found) == expect
    return found


def test_import_to_kafka_applies_the_gateway_policy(
    kafka_bootstrap: str, topic: str, alignmon: Any, read_topic: Any, tmp_path: Path
) -> None:
    log = osquery_log(tmp_path / "osquery.log", "mac-7", 12)
    env = {"ALIGNMON_KAFKA_BOOTSTRAP": kafka_bootstrap, "ALIGNMON_TOPIC": topic, "ALIGNMON_PSEUDONYM_SECRET": SECRET}
    args = ["import", "osquery", str(log), "--user", "ann.smith", "--to-kafka"]
    first = alignmon.run(args, env)
    assert first.returncode == 0, first.stderr
    assert "published 12 events to Kafka" in first.stderr
    events = values(read_topic, kafka_bootstrap, topic, 12)
    assert {e["user"] for e in events} == {pseudonymise("ann.smith", SECRET.encode())}
    assert all(e["kind"] == "launch" and e["duration_s"] == 0 and e["source"] == "osquery" for e in events)
    assert "ann.smith" not in json.dumps(events)


def test_import_to_gateway_goes_through_the_real_gateway(
    kafka_bootstrap: str, topic: str, alignmon: Any, wait_for: Any, read_topic: Any, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "ALIGNMON_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_PSEUDONYM_SECRET": SECRET,
        "ALIGNMON_GATEWAY_PORT": str(port),
        "ALIGNMON_TOKEN_DB": str(tmp_path / "tokens.sqlite"),
        "ALIGNMON_SPOOL_DIR": str(tmp_path / "spool"),
    }
    issued = alignmon.run(["tokens", "issue", "mac-9"], env)
    assert issued.returncode == 0, issued.stderr
    (tmp_path / "token").write_text(issued.stdout.strip())
    alignmon.start(["gateway"], env, "gateway")
    wait_for(lambda: _ok(f"http://127.0.0.1:{port}/healthz"), what="the gateway")
    log = osquery_log(tmp_path / "osquery.log", "mac-9", 7)
    args = [
        "import",
        "osquery",
        str(log),
        "--user",
        "bo",
        "--to-gateway",
        f"http://127.0.0.1:{port}",
        "--token-file",
        str(tmp_path / "token"),
    ]
    result = alignmon.run(args, env)
    assert result.returncode == 0, result.stderr
    assert "sent 7 events to the gateway" in result.stderr
    events = values(read_topic, kafka_bootstrap, topic, 7)
    assert {e["device_id"] for e in events} == {pseudonymise_device("mac-9", SECRET.encode())}
    assert {e["user"] for e in events} == {pseudonymise("bo", SECRET.encode())}

    # A re-import sends the same ids again: the pipeline drops them, the topic just holds the resend.
    again = alignmon.run(args, env)
    assert again.returncode == 0, again.stderr
    ids = [e["event_id"] for e in values(read_topic, kafka_bootstrap, topic, 14)]
    assert len(set(ids)) == 7


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
