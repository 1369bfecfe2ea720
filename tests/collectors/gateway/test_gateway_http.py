"""The HTTP contract of POST /v1/events and the error shape, in-process with a memory sink."""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from base.settings import Settings
from collectors.policy import DIRECTORY_CHECK_S

Gateway = Any  # the conftest's Gateway; test modules cannot import the conftest
Kit = Any


def test_a_valid_batch_is_accepted_and_produced_keyed_by_device(gateway: Gateway, kit: Kit) -> None:
    events = [kit.event(i) for i in range(3)]
    response = gateway.post_events(events)
    assert response.status_code == 202
    assert response.json() == {"accepted": 3, "rejected": 0, "errors": []}
    assert [r.key for r in gateway.memory.records] == [kit.device("laptop-1")]  # one request, one device: one record
    sent = gateway.sent()
    assert [e["event_id"] for e in sent] == ["laptop-1-0", "laptop-1-1", "laptop-1-2"]
    assert {e["user"] for e in sent} == {kit.pseudonym("Alice Example")}


def test_partial_acceptance_lists_index_field_and_message(gateway: Gateway, kit: Kit) -> None:
    future = kit.event(1, start=(kit.NOW + timedelta(minutes=10)).isoformat())
    no_app = kit.event(2)
    del no_app["app"]
    other_device = kit.event(3, device="stolen-laptop")
    events = [kit.event(0), future, no_app, other_device, "not an event", kit.event(5)]
    response = gateway.post_events(events)  # type: ignore[arg-type]
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 2,
        "rejected": 4,
        "errors": [
            {"index": 1, "field": "start", "message": "Value error, start is more than 5 minutes in the future"},
            {"index": 2, "field": "app", "message": "Field required"},
            {
                "index": 3,
                "field": "device_id",
                "message": "device_id does not match the device this token was issued to",
            },
            {
                "index": 4,
                "field": None,
                "message": "Input should be a valid dictionary or instance of UsageEvent",
            },
        ],
    }
    assert [e["event_id"] for e in gateway.sent()] == ["laptop-1-0", "laptop-1-5"]


def test_ndjson_and_gzip_bodies_are_accepted(gateway: Gateway, kit: Kit) -> None:
    events = [kit.event(i) for i in range(4)]
    nd = gateway.post(kit.ndjson(events[:2]) + b"\n  \n", headers={"Content-Type": "application/x-ndjson"})
    assert nd.status_code == 202 and nd.json()["accepted"] == 2
    zipped = gateway.post(kit.gz(json.dumps(events[2:3]).encode()), headers={"Content-Encoding": "gzip"})
    assert zipped.status_code == 202 and zipped.json()["accepted"] == 1
    both = gateway.post(
        kit.gz(kit.ndjson(events[3:])),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson; charset=utf-8"},
    )
    assert both.status_code == 202 and both.json()["accepted"] == 1
    assert [e["event_id"] for e in gateway.sent()] == [f"laptop-1-{i}" for i in range(4)]


def test_an_empty_array_is_accepted_with_nothing_to_do(gateway: Gateway, kit: Kit) -> None:
    response = gateway.post(b"[]")
    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "rejected": 0, "errors": []}


def test_400_bad_json(gateway: Gateway, kit: Kit) -> None:
    kit.assert_error(gateway.post(b'[{"event_id": '), 400, "bad_request", "body is not valid JSON")
    kit.assert_error(gateway.post(b"[NaN]"), 400, "bad_request", "NaN is not valid JSON")
    assert gateway.memory.records == []


def test_400_not_an_array(gateway: Gateway, kit: Kit) -> None:
    kit.assert_error(gateway.post(json.dumps(kit.event(0)).encode()), 400, "bad_request", "must be a JSON array")


def test_400_bad_ndjson_line_names_the_line(gateway: Gateway, kit: Kit) -> None:
    body = kit.ndjson([kit.event(0)]) + b"{oops\n"
    response = gateway.post(body, headers={"Content-Type": "application/x-ndjson"})
    kit.assert_error(response, 400, "bad_request", "NDJSON line 2 is not valid JSON")
    assert gateway.memory.records == []


def test_400_bad_gzip(gateway: Gateway, kit: Kit) -> None:
    response = gateway.post(b"this is not gzip", headers={"Content-Encoding": "gzip"})
    kit.assert_error(response, 400, "bad_request", "body is not valid gzip")
    truncated = kit.gz(json.dumps([kit.event(0)]).encode())[:-10]
    response = gateway.post(truncated, headers={"Content-Encoding": "gzip"})
    kit.assert_error(response, 400, "bad_request", "body is not valid gzip")


def test_401_missing_token(gateway: Gateway, kit: Kit) -> None:
    response = gateway.client.post("/v1/events", content=b"[]", headers={"Content-Type": "application/json"})
    kit.assert_error(response, 401, "unauthorized", "missing device token")
    assert response.headers["www-authenticate"].startswith("Bearer")
    kit.assert_error(gateway.post(b"[]", headers={"Authorization": "Basic abc"}), 401, "unauthorized", "missing")


def test_401_wrong_token(gateway: Gateway, kit: Kit) -> None:
    kit.assert_error(gateway.post(b"[]", token="not-a-real-token"), 401, "unauthorized", "invalid or revoked")


def test_401_revoked_token(gateway: Gateway, kit: Kit) -> None:
    assert gateway.post(b"[]").status_code == 202
    assert gateway.service.tokens.revoke("laptop-1")
    kit.assert_error(gateway.post(b"[]"), 401, "unauthorized", "invalid or revoked")


def test_reissuing_a_token_retires_the_old_one(gateway: Gateway, kit: Kit) -> None:
    new = gateway.service.tokens.issue("laptop-1")
    kit.assert_error(gateway.post(b"[]"), 401, "unauthorized", "replaced by a newer one at 2026-03-02 12:00 UTC")
    assert gateway.post(b"[]", token=new).status_code == 202


def test_413_plain_body_over_the_limit(gateway: Gateway, kit: Kit) -> None:
    body = b"[" + b" " * (64 * 1024) + b"]"  # valid JSON, 2 bytes over the limit
    kit.assert_error(gateway.post(body), 413, "payload_too_large", "larger than 65536 bytes")


def test_413_gzip_bomb_is_refused_after_decompression(gateway: Gateway, kit: Kit) -> None:
    bomb = gzip.compress(b"[" + b" " * (10 * 1024 * 1024) + b"]")
    assert len(bomb) < 64 * 1024  # small on the wire: only the decompressed size is over the limit
    response = gateway.post(bomb, headers={"Content-Encoding": "gzip"})
    kit.assert_error(response, 413, "payload_too_large", "after decompression")


def test_415_unsupported_content_type_and_encoding(gateway: Gateway, kit: Kit) -> None:
    kit.assert_error(gateway.post(b"[]", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type", "text")
    response = gateway.post(b"[]", headers={"Content-Encoding": "br"})
    kit.assert_error(response, 415, "unsupported_media_type", "'br'")


def test_429_per_device_rate_limit_with_retry_after(
    settings: Settings, make_gateway: Callable[..., Gateway], kit: Kit
) -> None:
    gw = make_gateway(settings.model_copy(update={"rate_limit_per_s": 0.5, "rate_limit_burst": 2}))
    assert gw.post(b"[]").status_code == 202
    assert gw.post(b"[]").status_code == 202
    limited = gw.post(b"[]")
    kit.assert_error(limited, 429, "rate_limited", "too many requests")
    assert limited.headers["retry-after"] == "2"  # one token at 0.5/s takes 2 s
    other = gw.service.tokens.issue("desktop-2")
    assert gw.post(b"[]", token=other).status_code == 202  # the limit is per device
    gw.monotonic.now += 2.0
    assert gw.post(b"[]").status_code == 202


def test_404_and_405_use_the_same_error_shape(gateway: Gateway, kit: Kit) -> None:
    kit.assert_error(gateway.client.get("/nope"), 404, "not_found", "POST /v1/events")
    wrong_method = gateway.client.get("/v1/events")
    kit.assert_error(wrong_method, 405, "method_not_allowed", "GET is not allowed")
    assert wrong_method.headers["allow"] == "POST"


def test_titles_are_dropped_by_default(gateway: Gateway, kit: Kit) -> None:
    gateway.post_events([kit.event(0), kit.event(1)])
    assert [("title" in e) for e in gateway.sent()] == [False, False]
    assert all(b"secret-plan" not in r.value for r in gateway.memory.records)


def test_titles_are_kept_when_enabled(settings: Settings, make_gateway: Callable[..., Gateway], kit: Kit) -> None:
    gw = make_gateway(settings.model_copy(update={"titles_enabled": True}))
    gw.post_events([kit.event(7)])
    assert gw.sent()[0]["title"] == "secret-plan-7.docx"


def test_department_comes_from_the_directory(
    settings: Settings, make_gateway: Callable[..., Gateway], tmp_path: Path, kit: Kit
) -> None:
    csv = tmp_path / "directory.csv"
    csv.write_text("user,department\nalice example,Finance\nBob,Sales\n")
    gw = make_gateway(settings.model_copy(update={"directory_csv": csv}))
    events = [
        kit.event(0, user="Alice Example "),  # case and spaces differ from the CSV: the same person
        kit.event(1, user="bob", department="Executive"),  # a device cannot claim a department
        kit.event(2, user="Carol"),  # not in the directory
    ]
    assert gw.post_events(events).json()["accepted"] == 3
    assert [e.get("department") for e in gw.sent()] == ["Finance", "Sales", None]


def test_the_gateway_rereads_the_directory_when_hrs_feed_replaces_it(
    settings: Settings,
    make_gateway: Callable[..., Gateway],
    tmp_path: Path,
    kit: Kit,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A new hire's events get their department without a restart, once the new file has stayed the same over a
    check; a broken, missing or empty file keeps the last good directory and is logged once."""
    csv = tmp_path / "directory.csv"
    csv.write_text("user,department\nalice example,Finance\n")
    gw = make_gateway(settings.model_copy(update={"directory_csv": csv}))
    sent: list[list[str | None]] = []

    def later(checks: int = 1) -> None:
        """`checks` check intervals later, Alice's and Carol's departments as an event of each gets them."""
        for _ in range(checks):
            gw.monotonic.now += DIRECTORY_CHECK_S
            before = len(gw.sent())
            gw.post_events([kit.event(len(sent), user="Alice Example"), kit.event(len(sent), user="Carol")])
            sent.append([e.get("department") for e in gw.sent()[before:]])

    later()
    csv.write_text("user,department\nalice example,Sales\ncarol,Legal\n")  # the nightly feed: a move, a new hire
    later(2)  # first seen, then read once it has not changed over a check
    swapped = tmp_path / "swapped.csv"  # the same size and mtime (`cp -p`), another file: read too
    swapped.write_text("user,department\nalice example,Legal\ncarol,Sales\n")
    os.utime(swapped, ns=(csv.stat().st_atime_ns, csv.stat().st_mtime_ns))
    os.replace(swapped, csv)
    later(2)
    with caplog.at_level(logging.ERROR, logger="collectors.policy"):
        csv.write_text("name;team\nalice example;Support\n")  # a broken export: no 'user' column
        later(3)
        csv.unlink()  # a copy that is not there yet
        later(2)
        csv.write_text("user,department\n")  # an export cut short after its header
        later(2)
    assert sent == [
        ["Finance", None],
        ["Finance", None], ["Sales", "Legal"],
        ["Sales", "Legal"], ["Legal", "Sales"],
        *[["Legal", "Sales"]] * 7,
    ]  # fmt: skip
    problems = [r.getMessage() for r in caplog.records if "the last good one stays in use" in r.getMessage()]
    assert len(problems) == 3  # each once
    assert "missing column 'user'" in problems[0] and "cannot read" in problems[1] and "lists nobody" in problems[2]


def test_raw_user_names_never_leave_the_gateway(gateway: Gateway, kit: Kit) -> None:
    gateway.post_events([kit.event(0, user="Alice Example"), kit.event(1, user="bob.smith@corp.example")])
    for record in gateway.memory.records:
        assert b"Alice" not in record.value and b"alice" not in record.value
        assert b"bob.smith" not in record.value
    assert [e["user"] for e in gateway.sent()] == [
        kit.pseudonym("Alice Example"),
        kit.pseudonym("bob.smith@corp.example"),
    ]


def test_413_chunked_body_without_length_is_cut_off_while_streaming(gateway: Gateway, kit: Kit) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"["
        for _ in range(80):
            yield b" " * 1024  # 80 KiB in all, no Content-Length: the limit applies while reading
        yield b"]"

    response = gateway.client.post(
        "/v1/events",
        content=chunks(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {gateway.token}"},
    )
    kit.assert_error(response, 413, "payload_too_large", "larger than 65536 bytes")
