"""The hostile-input corpus: every input that once stopped or hurt alignmon, and the fuzzers' classes.

Each case is what a producer could put in front of us: a Kafka record value for the pipeline's decoder,
a request body for the gateway. Tests run every case against the parts that read it, and the whole
pipeline on a real broker, and check that each is refused with a reason while good input goes on.
Large cases are built here rather than committed as files (the same bytes every time).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

START = "2026-09-01T06:00:00+00:00"  # fixed and in the past for every receiver's clock


def event(n: int = 0, **changes: Any) -> dict[str, Any]:
    """A valid event; `changes` make it hostile."""
    e: dict[str, Any] = {
        "event_id": f"corpus-{n}",
        "kind": "focus",
        "device_id": "dev-corpus",
        "user": "u_corpus",
        "app": "excel.exe",
        "start": START,
        "duration_s": 30.0,
        "source": "agent",
    }
    return e | changes


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _with_raw(field: str, raw: str) -> bytes:
    """An event whose `field` is the raw JSON text `raw` (for what json.dumps will not write)."""
    return _json(event(**{field: "@@"})).replace(b'"@@"', raw.encode())


def _nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


@dataclass(frozen=True)
class RecordCase:
    """A Kafka record value and a fragment its rejection reason must hold."""

    name: str
    finding: str  # where it comes from: issue 11's finding number, or a fuzzer class
    value: bytes
    reason: str


RECORDS: list[RecordCase] = [
    RecordCase("bc-start", "11.1", _json(event(start="0001-01-01T00:00:00+23:59")), "start is before 2000-01-01"),
    RecordCase("deep-array", "11.2", b"[" * 1000 + b"]" * 1000, "nested too deeply"),
    RecordCase("deep-in-packed", "11.2", b"[" + _json(event(1)) + b"," + b"[" * 3000 + b"]" * 3000 + b"]", "nested"),
    RecordCase("deep-object-in-field", "11.4", _with_raw("app", _nested(5000)), "JSON"),
    RecordCase("huge-invalid", "11.3", _json(event(event_id="x" * 1_040_000)), "event_id"),
    RecordCase("unix-start", "11.11", _json(event(start=1767225600)), "RFC 3339"),
    RecordCase("unix-start-text", "11.11", _json(event(start="1767225600")), "RFC 3339"),
    RecordCase("year-1", "11.11", _json(event(start="0001-01-01T00:00:00Z")), "start is before"),
    RecordCase("year-1970", "11.11", _json(event(start="1970-01-01T00:00:00Z")), "start is before"),
    RecordCase("date-only-start", "11.11", _json(event(start="2026-09-01")), "RFC 3339"),
    RecordCase("no-offset-start", "fuzz: format", _json(event(start="2026-09-01T06:00:00")), "timezone"),
    RecordCase("year-9999", "fuzz: range", _json(event(start="9999-12-31T23:59:59-23:59")), "in the future"),
    RecordCase("duration-text", "11.11", _json(event(duration_s="30")), "duration_s"),
    RecordCase("duration-true", "11.11", _json(event(duration_s=True)), "duration_s"),
    RecordCase("duration-nan", "fuzz: number", _with_raw("duration_s", "NaN"), "duration_s"),
    RecordCase("duration-overflow", "fuzz: number", _with_raw("duration_s", "1e400"), "duration_s"),
    RecordCase("duration-negative", "fuzz: range", _json(event(duration_s=-5)), "duration_s"),
    RecordCase("lone-surrogate-in-packed", "fuzz: unicode", b"[" + _with_raw("app", '"\\ud800"') + b"]", "record"),
    RecordCase("not-json", "fuzz: syntax", b"{not json", "JSON"),
    RecordCase("binary", "fuzz: bytes", b"\xff\xfe\x00binary", "JSON"),
    RecordCase("empty", "fuzz: bytes", b"", "JSON"),
    RecordCase("empty-packed", "fuzz: shape", b"[]", "empty array"),
    RecordCase("null", "fuzz: shape", b"null", "event"),
    RecordCase("number", "fuzz: shape", b"123", "event"),
    RecordCase("empty-object", "fuzz: shape", b"{}", "Field required"),
    RecordCase("extra-field", "fuzz: shape", _json(event(extra=1)), "extra"),
    RecordCase("unknown-kind", "fuzz: enum", _json(event(kind="bogus")), "kind"),
    RecordCase("launch-with-duration", "fuzz: rule", _json(event(kind="launch", duration_s=5.0)), "launch"),
    RecordCase("long-id", "fuzz: length", _json(event(event_id="i" * 129)), "event_id"),
]


@dataclass(frozen=True)
class BodyCase:
    """A gateway request body with its headers and the status it must get (never a 5xx)."""

    name: str
    finding: str
    body: bytes
    status: int
    content_type: str = "application/json"
    content_encoding: str | None = None


def _gzip_members(payload: bytes, members: int) -> bytes:
    one = gzip.compress(payload, compresslevel=1, mtime=0)
    return one * members


BODIES: list[BodyCase] = [
    BodyCase("deep-array", "11.4", b"[" * 100_000 + b"]" * 100_000, 400),
    BodyCase("deep-in-event", "11.4", b"[" + _with_raw("app", _nested(5000)) + b"]", 400),
    BodyCase(
        "deep-ndjson-line", "11.4", _json(event()) + b"\n" + b"[" * 5000 + b"]" * 5000, 400, "application/x-ndjson"
    ),
    # ~6 MiB of tiny gzip members: once quadratic (28 s of CPU), now refused after the events limit.
    BodyCase("many-gzip-members", "11.5", _gzip_members(b" ", 300_000), 413, content_encoding="gzip"),
    # A few KiB inflating to 4 MiB of two million tiny items: the events-per-request limit refuses it.
    BodyCase(
        "tiny-items-bomb", "11.5", gzip.compress(b"[" + b"0," * (2 * 1024 * 1024) + b"0]"), 413, content_encoding="gzip"
    ),
    # Brackets inside strings that would close real ones, to hide the depth from a scan that counts them.
    BodyCase("depth-hidden-by-text", "review", b"[" + b'"]",[' * 5000 + b"]" * 5000 + b"]", 400),
    BodyCase("depth-hidden-by-text-2", "review", b"[" + b'"][",[' * 5000 + b"]" * 5000 + b"]", 400),
    BodyCase("not-json", "fuzz: syntax", b"{not json", 400),
    BodyCase("not-an-array", "fuzz: shape", _json(event()), 400),
    BodyCase("bad-gzip", "fuzz: bytes", b"\x1f\x8b\x08\x00garbage", 400, content_encoding="gzip"),
    BodyCase("nan", "fuzz: number", b"[" + _with_raw("duration_s", "NaN") + b"]", 400),
]
