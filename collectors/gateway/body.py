"""Request bodies: gunzip under a size limit (gzip bombs) and parse a JSON array or NDJSON."""

from __future__ import annotations

import json
import zlib
from typing import Any

from collectors.gateway.errors import GatewayError

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})


def too_large(limit: int) -> GatewayError:
    return GatewayError(413, f"request body is larger than {limit} bytes (after decompression): send smaller batches")


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip (one or more members), refusing output over `limit` bytes without inflating it all."""
    out: list[bytes] = []
    size = 0
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(data, limit - size + 1)
        except zlib.error as exc:
            raise GatewayError(400, f"body is not valid gzip: {exc}") from None
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        out.append(chunk)
        if not inflater.eof:
            raise GatewayError(400, "body is not valid gzip: the stream is truncated")
        data = inflater.unused_data
        if not data:
            return b"".join(out)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: bytes) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def parse_events(body: bytes, media_type: str) -> list[Any]:
    """The items of a JSON array body, or the lines of an NDJSON body (blank lines skipped)."""
    if media_type in NDJSON_TYPES:
        items = []
        for number, line in enumerate(body.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                items.append(_loads(line))
            except ValueError as exc:
                raise GatewayError(400, f"NDJSON line {number} is not valid JSON: {exc}") from None
        return items
    try:
        value = _loads(body)
    except ValueError as exc:
        raise GatewayError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(value, list):
        raise GatewayError(400, "body must be a JSON array of events (or NDJSON with one event per line)")
    return value


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header (JSON when absent); 415 for types we do not read."""
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES | NDJSON_TYPES:
        raise GatewayError(
            415, f"Content-Type {media!r} is not supported: use application/json or application/x-ndjson"
        )
    return media


def decode_body(body: bytes, content_type: str | None, content_encoding: str | None, limit: int) -> list[Any]:
    """The events of a request body: checked media type, optional gzip, size limit, JSON or NDJSON."""
    media = media_type(content_type)
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        body = gunzip(body, limit)
    elif encoding != "identity":
        raise GatewayError(415, f"Content-Encoding {encoding!r} is not supported: use gzip or none")
    if len(body) > limit:
        raise too_large(limit)
    return parse_events(body, media)
