"""Pure parts of the gateway: token store, rate limiter, body decoding."""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from base.errors import AlignmonError
from collectors.gateway.body import decode_body, gunzip
from collectors.gateway.errors import GatewayError
from collectors.gateway.ratelimit import RateLimiter, retry_after
from collectors.gateway.tokens import TokenStore


def test_tokens_are_stored_only_as_hashes(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.sqlite", clock=lambda: datetime(2026, 1, 2, tzinfo=UTC))
    token = store.issue("laptop-1")
    assert len(token) == 43  # 32 random bytes, URL-safe base64 without padding
    assert store.authenticate(token) == "laptop-1"
    store.close()
    raw = (tmp_path / "t.sqlite").read_bytes()
    assert token.encode() not in raw
    with sqlite3.connect(tmp_path / "t.sqlite") as db:
        rows = db.execute("SELECT device_id, token_sha256 FROM tokens").fetchall()
    assert rows == [("laptop-1", hashlib.sha256(token.encode()).hexdigest())]


def test_revoke_and_list(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.sqlite", clock=lambda: datetime(2026, 1, 2, tzinfo=UTC))
    a = store.issue("a")
    b = store.issue("b")
    assert store.revoke("a") is True
    assert store.revoke("a") is False
    assert store.revoke("never-issued") is False
    assert store.authenticate(a) is None
    assert store.authenticate(b) == "b"
    assert [(t.device_id, t.revoked_at) for t in store.list()] == [
        ("a", datetime(2026, 1, 2, tzinfo=UTC)),
        ("b", None),
    ]
    with pytest.raises(AlignmonError, match="device id"):
        store.issue("   ")
    store.close()


def test_a_revoke_from_another_process_applies_at_once(tmp_path: Path) -> None:
    gateway_store = TokenStore(tmp_path / "t.sqlite")
    token = gateway_store.issue("a")
    assert gateway_store.authenticate(token) == "a"
    cli_store = TokenStore(tmp_path / "t.sqlite")  # a second connection, as the CLI would open
    cli_store.revoke("a")
    cli_store.close()
    assert gateway_store.authenticate(token) is None
    gateway_store.close()


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("d") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("d") == pytest.approx(0.5)  # empty: the next token comes in 1/2 s
    assert limiter.acquire("other") == 0.0
    now[0] = 0.5
    assert limiter.acquire("d") == 0.0
    assert limiter.acquire("d") == pytest.approx(0.5)
    now[0] = 100.0  # refills to the burst, never beyond
    assert [limiter.acquire("d") for _ in range(4)][-1] == pytest.approx(0.5)


def test_rate_zero_disables_the_limit() -> None:
    limiter = RateLimiter(rate=0, burst=1, clock=lambda: 0.0)
    assert all(limiter.acquire("d") == 0.0 for _ in range(100))


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(s) for s in (0.01, 1.0, 1.2, 7.9)] == ["1", "1", "2", "8"]


def test_gunzip_handles_several_members_and_stops_bombs() -> None:
    assert gunzip(gzip.compress(b"ab") + gzip.compress(b"cd"), limit=4) == b"abcd"
    with pytest.raises(GatewayError) as err:
        gunzip(gzip.compress(b"x" * 5), limit=4)
    assert err.value.status == 413
    with pytest.raises(GatewayError) as err:
        gunzip(gzip.compress(b"ab") + b"trailing junk", limit=100)
    assert err.value.status == 400


def test_decode_body_json_ndjson_and_media_types() -> None:
    assert decode_body(b'[{"a": 1}, 2]', "application/json; charset=utf-8", None, 100) == [{"a": 1}, 2]
    assert decode_body(b'{"a": 1}\n\n{"b": 2}', "application/x-ndjson", "identity", 100) == [{"a": 1}, {"b": 2}]
    assert decode_body(b"[]", None, None, 100) == []  # no Content-Type: JSON
    with pytest.raises(GatewayError) as err:
        decode_body(b"[]", "application/xml", None, 100)
    assert err.value.status == 415
