"""Request bodies: gunzip under a size limit (gzip bombs) and parse a JSON array or NDJSON.

Before any JSON is parsed, a linear scan of the body's structure bounds its nesting depth (a
recursive parser would overflow on `[[[[...`) and its number of events (millions of tiny items
cost far more memory and CPU than their bytes suggest).
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any, NamedTuple

from collectors.gateway.errors import GatewayError

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})

# Gzip input is fed in pieces that start small for each member: zlib copies everything after a
# member's end into `unused_data`, so small pieces keep many tiny members linear in total.
_FIRST_PIECE = 64
_MAX_PIECE = 64 * 1024

# A JSON string, matched without backtracking (possessive), so brackets inside strings are ignored.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?')
_STRUCTURE = b"[]{},"
_TO_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)
# An innermost container: brackets with nothing but item separators between them.
_INNERMOST = re.compile(rb"\[,*+\]")
_BLANK_LINES = re.compile(rb"[ \t\r]*+\n[ \t\r\n]*+")
_LINE = re.compile(rb"[ \t\r]*+[^\n \t\r][^\n]*+")
# Events are flat objects of a dozen fields; this many JSON values per allowed event is ample.
VALUES_PER_EVENT = 32


def too_large(limit: int) -> GatewayError:
    return GatewayError(413, f"request body is larger than {limit} bytes (after decompression): send smaller batches")


def too_many(limit: int) -> GatewayError:
    return GatewayError(413, f"request holds more than {limit} events: send at most {limit} events per request")


def too_deep(limit: int) -> GatewayError:
    return GatewayError(
        400, f"body is nested deeper than {limit} levels of arrays and objects: events are flat JSON objects"
    )


def gunzip(data: bytes, limit: int, max_members: int | None = None) -> bytes:
    """Decompress gzip (one or more members), refusing output over `limit` bytes without inflating it all."""
    view = memoryview(data)
    out: list[bytes] = []
    size = pos = members = 0
    while True:
        members += 1
        if max_members is not None and members > max_members:
            raise GatewayError(413, f"gzip body has more than {max_members} members: compress it as one stream")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        piece = _FIRST_PIECE
        while True:
            if pos >= len(view):
                raise GatewayError(400, "body is not valid gzip: the stream is truncated")
            given = view[pos : pos + piece]
            try:
                chunk = inflater.decompress(given, limit - size + 1)
            except zlib.error as exc:
                raise GatewayError(400, f"body is not valid gzip: {exc}") from None
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            out.append(chunk)
            if inflater.eof:
                pos += len(given) - len(inflater.unused_data)
                break
            # Below the output cap zlib consumed all it was given.
            pos += len(given) - len(inflater.unconsumed_tail)
            piece = min(piece * 2, _MAX_PIECE)
        if pos >= len(view):
            return b"".join(out)


def structure(body: bytes) -> bytes:
    """The body's brackets and commas outside strings, with objects written as arrays: `[[,][,]]`."""
    return _STRING.sub(b"", body).translate(_TO_BRACKETS, _NOT_STRUCTURE)


def check_shape(body: bytes, media: str, max_depth: int, max_events: int) -> None:
    """Refuse bodies nested deeper than `max_depth` or holding more than `max_events` items, in linear time."""
    # Fast path: the brackets and commas of the whole body, text included. Brackets in text could hide
    # depth only by closing real ones, which leaves closers over (then the exact look below); and the
    # parser's own RecursionError is a 400 besides. Only a body that fails here is looked at again
    # without its strings, which costs twice the JSON parse (measured on 500-event bodies).
    try:
        outer = _shape_within(body.translate(_TO_BRACKETS, _NOT_STRUCTURE), max_depth, max_events, exact=False)
    except GatewayError:
        outer = _shape_within(structure(body), max_depth, max_events)
    if media in NDJSON_TYPES:
        if body.count(b"\n") + 1 > max_events:  # blank lines do not count: look closer
            lines = _BLANK_LINES.sub(b"\n", body).strip(b" \t\r\n")
            if lines.count(b"\n") + 1 > max_events:
                raise too_many(max_events)
    elif outer.count(b",") + 1 > max_events:
        raise too_many(max_events)


def _shape_within(shape: bytes, max_depth: int, max_events: int, *, exact: bool = True) -> bytes:
    """Check a body's structure (`[`, `]` and `,` only) against the limits; returns its outermost level.

    Not `exact` (text included), a shape that does not balance out is refused: it must be looked at exactly.
    """
    if b"[" * (max_depth + 1) in shape:
        raise too_deep(max_depth)
    if shape.count(b",") + shape.count(b"[") > max_events * VALUES_PER_EVENT:
        raise GatewayError(
            413,
            f"request holds more than {max_events * VALUES_PER_EVENT} JSON values: "
            f"send at most {max_events} flat events per request",
        )
    outer = shape
    depth = 0
    while True:
        # Each round removes the innermost containers, so the rounds needed are the nesting depth.
        reduced = _INNERMOST.sub(b"", shape)
        if reduced == shape:
            break
        depth += 1
        if depth > max_depth:
            raise too_deep(max_depth)
        outer, shape = shape, reduced
    if shape.count(b"[") > max_depth:  # brackets never closed: a parser would still descend into them
        raise too_deep(max_depth)
    if not exact and shape.strip(b","):
        raise too_deep(max_depth)  # closers (or openers) left over: text held brackets, look without it
    return outer


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: bytes) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def parse_events(body: bytes, media_type: str, max_depth: int = 8) -> list[Any]:
    """The items of a JSON array body, or the lines of an NDJSON body (blank lines skipped)."""
    if media_type in NDJSON_TYPES:
        items = []
        number, counted = 1, 0
        for match in _LINE.finditer(body):  # not split(): a body of blank lines would become millions of objects
            number += body.count(b"\n", counted, match.start())
            counted = match.start()
            try:
                items.append(_loads(match[0]))
            except ValueError as exc:
                raise GatewayError(400, f"NDJSON line {number} is not valid JSON: {exc}") from None
            except RecursionError:  # the shape check should have caught it; never a 500
                raise too_deep(max_depth) from None
        return items
    try:
        value = _loads(body)
    except ValueError as exc:
        raise GatewayError(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise too_deep(max_depth) from None
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


class Body(NamedTuple):
    """A request body ready to parse: decompressed, within the size, depth and count limits."""

    data: bytes
    media: str


def unpack_body(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    limit: int,
    *,
    max_depth: int = 8,
    max_events: int = 5000,
) -> Body:
    """The checked media type, optional gzip, size, depth and count limits of a body, before any JSON is parsed."""
    media = media_type(content_type)
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        body = gunzip(body, limit, max_events)
    elif encoding != "identity":
        raise GatewayError(415, f"Content-Encoding {encoding!r} is not supported: use gzip or none")
    if len(body) > limit:
        raise too_large(limit)
    check_shape(body, media, max_depth, max_events)
    return Body(body, media)


def items_of(body: Body, *, max_depth: int = 8, max_events: int = 5000) -> list[Any]:
    """The items of an unpacked body, JSON array or NDJSON."""
    items = parse_events(body.data, body.media, max_depth)
    if len(items) > max_events:  # the shape check counts separators; this is the exact count
        raise too_many(max_events)
    return items


def decode_body(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    limit: int,
    *,
    max_depth: int = 8,
    max_events: int = 5000,
) -> list[Any]:
    """The events of a request body: checked media type, optional gzip, size, depth and count limits, JSON or NDJSON."""
    unpacked = unpack_body(body, content_type, content_encoding, limit, max_depth=max_depth, max_events=max_events)
    return items_of(unpacked, max_depth=max_depth, max_events=max_events)
