"""Fleet enrolment against the real gateway and a real Kafka broker: tokens from `tokens issue --from` work, an
expired one is refused with a 401 that says so, a rotated one works through its grace period only, `tokens list`
shows it, and `alignmon gateway` serves a token database from version 1.

The gateway's token store gets a clock the test moves (days pass without sleeping); the CLI issues at the real time.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alignmon.cli import main
from alignmon.stack.process import free_port
from base.settings import Settings
from collectors.gateway.tokens import TokenStore
from collectors.record import events_of

pytestmark = pytest.mark.integration

Gateway = Any
Kit = Any
DAY = timedelta(days=1)
DEVICES = ("laptop-1", "desk-2", "kiosk-3")


def now() -> datetime:
    return datetime.now(UTC)


class Clock:
    """The token store's clock, moved by the test; starts at the real time."""

    def __init__(self) -> None:
        self.now = now()

    def __call__(self) -> datetime:
        return self.now


def devices_csv(tmp_path: Path) -> Path:
    path = tmp_path / "devices.csv"
    path.write_text("device,serial\n" + "".join(f"{d},SN-{n}\n" for n, d in enumerate(DEVICES)))
    return path


def tokens_of(path: Path) -> dict[str, str]:
    with path.open(newline="") as f:
        return {row["device"]: row["token"] for row in csv.DictReader(f)}


def alignmon_tokens(settings: Settings, *argv: str) -> None:
    assert main(["tokens", "--db", str(settings.token_db), *argv]) == 0


def wire(settings: Settings, kafka_bootstrap: str, topic: str) -> Settings:
    return settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap, "topic": topic})


def post(gw: Gateway, kit: Kit, device: str, token: str, n: int = 0) -> httpx.Response:
    return gw.post_events([kit.event(n, device=device, now=now())], token=token)


def delivered(kit: Kit, kafka_bootstrap: str, topic: str) -> list[str]:
    """The event ids on the topic, sorted."""
    return sorted(e["event_id"] for r in kit.consume(kafka_bootstrap, topic) for e in events_of(r.value))


def test_tokens_from_issue_from_are_accepted_by_the_gateway(
    settings: Settings, kafka_bootstrap: str, topic: str, make_gateway: Callable[..., Gateway], kit: Kit, tmp_path: Path
) -> None:
    from collectors.sink import KafkaSink

    wired = wire(settings, kafka_bootstrap, topic)
    out = tmp_path / "tokens.csv"
    alignmon_tokens(wired, "issue", "--from", str(devices_csv(tmp_path)), "--out", str(out))
    gw = make_gateway(wired, sink=KafkaSink(kafka_bootstrap, topic), clock=now, device="fixture-0")
    for n, (device, token) in enumerate(tokens_of(out).items()):
        response = post(gw, kit, device, token, n)
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 1
    got = kit.consume(kafka_bootstrap, topic)
    assert sorted(r.key for r in got) == sorted(kit.device(d) for d in DEVICES)
    # A token is bound to its device: laptop-1's token cannot send desk-2's events.
    wrong = post(gw, kit, "desk-2", tokens_of(out)["laptop-1"], 9)
    assert wrong.json()["accepted"] == 0


def test_an_expired_token_gets_401_saying_it_expired_and_what_to_do(
    settings: Settings, kafka_bootstrap: str, topic: str, make_gateway: Callable[..., Gateway], kit: Kit, tmp_path: Path
) -> None:
    from collectors.sink import KafkaSink

    wired = wire(settings, kafka_bootstrap, topic)
    clock = Clock()
    store = TokenStore(wired.token_db, clock=clock)
    gw = make_gateway(wired, sink=KafkaSink(kafka_bootstrap, topic), clock=now, device="fixture-0", tokens=store)
    out = tmp_path / "tokens.csv"
    alignmon_tokens(wired, "issue", "--from", str(devices_csv(tmp_path)), "--out", str(out), "--expires-in", "30")
    token = tokens_of(out)["laptop-1"]
    assert post(gw, kit, "laptop-1", token, 1).status_code == 202

    clock.now += 30 * DAY + timedelta(minutes=1)
    # More refusals than the bad-token burst: an expired token is no guess, so it never turns into a 429.
    for n in range(wired.auth_failure_burst + 2):
        response = post(gw, kit, "laptop-1", token, 10 + n)
        kit.assert_error(response, 401, "unauthorized", "device token expired at ")
        assert response.headers["www-authenticate"] == 'Bearer realm="alignmon"'
    message = response.json()["error"]["message"]
    assert "alignmon tokens rotate --device laptop-1" in message
    assert "--token-file" in message and "restart the agent" in message
    assert delivered(kit, kafka_bootstrap, topic) == ["laptop-1-1"]


def test_after_rotate_both_tokens_work_for_the_grace_period_then_only_the_new_one(
    settings: Settings,
    kafka_bootstrap: str,
    topic: str,
    make_gateway: Callable[..., Gateway],
    kit: Kit,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from collectors.sink import KafkaSink

    wired = wire(settings, kafka_bootstrap, topic)
    clock = Clock()
    store = TokenStore(wired.token_db, clock=clock)
    gw = make_gateway(wired, sink=KafkaSink(kafka_bootstrap, topic), clock=now, device="fixture-0", tokens=store)
    devices, first, second = devices_csv(tmp_path), tmp_path / "tokens.csv", tmp_path / "new.csv"
    alignmon_tokens(wired, "issue", "--from", str(devices), "--out", str(first))
    alignmon_tokens(wired, "rotate", "--from", str(devices), "--out", str(second), "--grace", "7")
    clock.now = now()  # the rotation's time (or a little after)
    old, new = tokens_of(first), tokens_of(second)
    capsys.readouterr()

    alignmon_tokens(wired, "list", "--format", "csv")
    listed = capsys.readouterr().out
    rows = [r for r in csv.DictReader(io.StringIO(listed)) if r["device"] != "fixture-0"]  # make_gateway's own
    assert [(r["device"], r["state"]) for r in rows] == [
        (device, state) for device in sorted(DEVICES) for state in ("superseded", "active")
    ]
    superseded = datetime.strptime(rows[0]["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert superseded - clock.now < 7 * DAY  # the old token's expiry is the grace period's end
    assert not any(token in listed for token in [*old.values(), *new.values()])

    clock.now += 7 * DAY - timedelta(minutes=1)
    for n, device in enumerate(DEVICES):
        assert post(gw, kit, device, old[device], n).status_code == 202
        assert post(gw, kit, device, new[device], 10 + n).status_code == 202
    clock.now += timedelta(minutes=2)
    for n, device in enumerate(DEVICES):
        refused = post(gw, kit, device, old[device], 20 + n)
        kit.assert_error(refused, 401, "unauthorized", "the end of the grace period after a newer token replaced it")
        assert "install the newer token" in refused.json()["error"]["message"]
        assert post(gw, kit, device, new[device], 30 + n).status_code == 202
    expected = [f"{d}-{n + k}" for k in (0, 10, 30) for n, d in enumerate(DEVICES)]
    assert delivered(kit, kafka_bootstrap, topic) == sorted(expected)


def test_the_gateway_serves_a_token_database_from_version_1(
    alignmon: Any, kafka_bootstrap: str, topic: str, kit: Kit, tmp_path: Path
) -> None:
    """`alignmon gateway` with two workers opening (and migrating) the old file at once; its tokens keep working."""
    script = (Path(__file__).parent / "fixtures" / "tokens-v1.sql").read_text()
    known = {p[1]: p[2] for p in (line.split() for line in script.splitlines() if line.startswith("--   "))}
    db_path = tmp_path / "tokens.sqlite"
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(script)
    db.close()
    port = free_port()
    env = {
        "ALIGNMON_PSEUDONYM_SECRET": kit.SECRET,
        "ALIGNMON_TOKEN_DB": str(db_path),
        "ALIGNMON_SPOOL_DIR": str(tmp_path / "spool"),
        "ALIGNMON_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ALIGNMON_TOPIC": topic,
        "ALIGNMON_GATEWAY_WORKERS": "2",
        "ALIGNMON_DEV_MODE": "0",
    }
    alignmon.start(["gateway", "--port", str(port)], env, "gateway-v1")
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    kit.wait_for(healthy, 60, "the gateway's /healthz")
    for n, device in enumerate(("laptop-1", "desk-2", "kiosk-3")):
        response = httpx.post(
            f"{url}/v1/events",
            json=[kit.event(n, device=device, now=now())],
            headers={"Authorization": f"Bearer {known[device]}"},
            timeout=30,
        )
        if device == "kiosk-3":  # revoked in version 1, refused still
            kit.assert_error(response, 401, "unauthorized", "invalid or revoked")
        else:
            assert response.status_code == 202, response.text
    assert delivered(kit, kafka_bootstrap, topic) == ["desk-2-1", "laptop-1-0"]
