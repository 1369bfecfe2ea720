"""A poll's records parsed and checked as columns: the decoder's fast path (pure: no I/O).

pyarrow's JSON reader parses every record of a poll in one call (C++, on both cores) and vectorised
expressions check the contract. This path only *certifies*: it keeps the events it can prove valid, with
the values the contract's own validation (pydantic, pipeline/batch.py) would give them, and hands every
other record, whole, to that validation, which alone decides and words reasons. So rows, rejects, reasons
and dead letters are exactly the contract's (tests/pipeline/test_bulk.py compares both paths on generated
and hostile records); the checks here are stricter than the contract where exactness would cost (a name
that begins or ends with an unusual character, a `start` in a rarer RFC 3339 form: the slow path takes it).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from collectors.event import MAX_DURATION_S, MAX_TEXT

_TEXT = pa.string()
_FIELDS = pa.struct(
    [
        ("event_id", _TEXT),
        ("kind", _TEXT),
        ("device_id", _TEXT),
        ("user", _TEXT),
        ("app", _TEXT),
        ("start", _TEXT),
        ("duration_s", pa.float64()),
        ("source", _TEXT),
        ("title", _TEXT),
        ("department", _TEXT),
        ("schema_version", pa.int64()),
    ]
)
# Each record becomes one line `{"e":[...]}`: a packed record's array as it is, one event's object in brackets.
# A field the contract does not know, a key given twice or a value of another JSON type fails the line.
_PARSE = pj.ParseOptions(explicit_schema=pa.schema([("e", pa.list_(_FIELDS))]), unexpected_field_behavior="error")
_READ = pj.ReadOptions(block_size=4 << 20)  # a few blocks a poll: both cores parse
_NEGATIVE_ZERO_BITS = -(2**63)  # -0.0 read as an int64
_SMALLEST_PART = 16  # lines: a failing part this small goes to the contract whole, not halved further
_KINDS = pa.array(["focus", "open", "launch"])
# First and last characters that are never whitespace (the contract strips whitespace; these need not be stripped).
_END = r"[!-~\p{L}\p{N}]"
_NO_STRIP = rf"^{_END}(?s:.*{_END})?$"
_SOURCE = r"^[a-z][a-z0-9_-]{0,31}$"  # collectors/event.py's pattern
# The RFC 3339 form producers write: a day of the calendar (leap years of 2000-2999 spelled out), seconds, up to
# microseconds, Z or an offset; other forms take the slow path.
_DAY = (
    r"2\d{3}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|2\d{3}-(0[13-9]|1[0-2])-(29|30)|2\d{3}-(0[13578]|1[02])-31"
    r"|(2\d(0[48]|[2468][048]|[13579][26])|2[048]00)-02-29"
)
_START = rf"^({_DAY})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{{1,6}})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
UTC_US = pa.timestamp("us", tz="UTC")
# What certify returns: the contract's fields as pipeline/batch.py's COLUMNS types them, then where each came from.
EVENTS = pa.schema(
    [
        *(pa.field(f.name, UTC_US if f.name == "start" else f.type) for f in _FIELDS if f.name != "schema_version"),
        pa.field("schema_version", pa.int32()),
        pa.field("_record", pa.int64()),
        pa.field("_position", pa.int64()),
    ]
)


def use_jemalloc() -> None:
    """Arrow's allocations through jemalloc, unless the operator chose a pool (ARROW_DEFAULT_MEMORY_POOL).

    Parsing a poll allocates and frees a few times its size; Arrow's default pool (mimalloc) kept those pages: a
    5M-event backlog peaked at 632 MiB, 509 with jemalloc, at the same throughput (docs/benchmarks.md).
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # a pyarrow built without it keeps its default
        return


class Certified(NamedTuple):
    """The events proven valid (with the index of their record in the poll and their place in it), and the rest."""

    events: pa.Table  # the contract's fields, `start` as a UTC timestamp, then `_record` and `_position`
    uncertain: list[int]  # indices of the records the contract's own validation must decide


def certify(values: pa.Array, latest: pa.Array, earliest: datetime) -> Certified:
    """Parse a poll's record `values` (binary) as columns; `latest[i]` is the latest `start` record i may carry."""
    text = _utf8(values)
    head = pc.binary_slice(values, 0, 1)  # a record that starts with whitespace is the contract's to read
    packed, single = pc.equal(head, b"["), pc.equal(head, b"{")
    candidate = pc.fill_null(pc.and_(pc.or_(packed, single), pc.is_valid(text)), False)
    line_record = pc.indices_nonzero(candidate)
    single = single.filter(candidate)
    # Each record becomes one line, joined in one buffer whose offsets say where each line ends.
    lines = pc.binary_join_element_wise(
        pc.if_else(single, '{"e":[', '{"e":'), text.filter(candidate), pc.if_else(single, "]}\n", "}\n"), ""
    )
    ends = memoryview(lines.buffers()[1]).cast("i")[lines.offset :]  # int32 offsets, read in place
    parsed, failed = _parse(lines.buffers()[2], ends, 0, len(lines))
    uncertain = pc.indices_nonzero(pc.invert(candidate)).to_pylist()
    uncertain += pc.take(line_record, pa.array(failed, pa.int64())).to_pylist()
    if not parsed:
        return Certified(EVENTS.empty_table(), sorted(uncertain))
    kept = pc.invert(pc.is_in(pa.array(range(len(lines)), pa.int64()), pa.array(failed, pa.int64())))
    lists = pa.concat_arrays(parsed)  # one list of events per kept line
    rec_of_line = pc.cast(line_record.filter(kept), pa.int64())
    single_line = single.filter(kept)
    parents = pc.list_parent_indices(lists)
    flat = lists.flatten()
    record = pc.take(rec_of_line, parents)
    late = pc.take(latest, record)
    ok, start = _valid(flat, late, earliest)
    # A record is certified when all its events are, and it holds what its shape promises: an object is one
    # event, an array at least one.
    counts = pc.list_value_length(lists)
    bad_line = pc.or_kleene(pc.equal(counts, 0), pc.and_kleene(single_line, pc.not_equal(counts, 1)))
    bad_records = set(pc.filter(rec_of_line, bad_line).to_pylist())
    bad_records.update(pc.filter(record, pc.invert(ok)).to_pylist())
    uncertain += bad_records
    keep = pc.invert(pc.is_in(record, pa.array(sorted(bad_records), pa.int64()))) if bad_records else None
    offsets = pc.take(lists.offsets, parents)
    position = pc.subtract(pa.array(range(len(flat)), pa.int64()), offsets)
    columns = {name: flat.field(name) for name in _FIELDS.names}
    # Unchecked: certified events hold 1; any other value belongs to an event filtered out below.
    columns |= {"start": start, "schema_version": pc.cast(columns["schema_version"], pa.int32(), safe=False)}
    table = pa.Table.from_arrays([*columns.values(), record, position], schema=EVENTS)
    if keep is not None:
        table = table.filter(keep)
    return Certified(table, sorted(uncertain))


def _utf8(values: pa.Array) -> pa.Array:
    """`values` as text; null where a value is not UTF-8 (the contract words that)."""
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:  # one bad value fails the cast: find it
        return pa.array([_decoded(v) for v in values.to_pylist()], pa.string())


def _decoded(raw: bytes) -> str | None:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def _parse(text: pa.Buffer, ends: Any, lo: int, hi: int) -> tuple[list[pa.Array], list[int]]:
    """Lines lo..hi-1 of `text` parsed in one call, and the lines that fail.

    A failing part is halved to find its failing lines, down to _SMALLEST_PART lines, which then go whole to the
    contract: each parse costs about a millisecond, and a poll where every record fails (an agent version that sends
    a new field) would otherwise cost two parses a record.
    """
    if lo >= hi:
        return [], []
    try:
        part = text.slice(int(ends[lo]), int(ends[hi] - ends[lo]))
        table = pj.read_json(pa.BufferReader(part), read_options=_READ, parse_options=_PARSE)
        # A line break in a record may end its line early (when a parse block ends there): the part then fails,
        # or holds more rows than lines. Elsewhere the reader takes it as the whitespace it is.
        if table.num_rows != hi - lo:
            raise pa.ArrowInvalid(f"{table.num_rows} rows from {hi - lo} lines")
    except pa.ArrowException:
        if hi - lo <= _SMALLEST_PART:
            return [], list(range(lo, hi))
        mid = (lo + hi) // 2
        (first, first_failed), (second, second_failed) = _parse(text, ends, lo, mid), _parse(text, ends, mid, hi)
        return first + second, first_failed + second_failed
    return [table.column("e").combine_chunks()], []


def _valid(flat: pa.StructArray, latest: pa.Array, earliest: datetime) -> tuple[pa.Array, pa.Array]:
    """Whether each event is certainly valid (never null), and its `start` as a timestamp where it is."""
    f = flat.field
    checks = [
        flat.is_valid(),
        _text(f("event_id"), 1, MAX_TEXT),
        _text(f("device_id"), 1, MAX_TEXT),
        _text(f("user"), 1, 256),
        _text(f("app"), 1, 512),
        pc.is_in(f("kind"), _KINDS),
        pc.match_substring_regex(f("source"), _SOURCE),
        pc.or_kleene(f("title").is_null(), pc.or_kleene(pc.equal(f("title"), ""), _text(f("title"), 1, 1024))),
        pc.or_kleene(f("department").is_null(), _text(f("department"), 1, 128)),
        # Absent and null look alike here, and the contract refuses a null version: only a present 1 is certain.
        pc.equal(f("schema_version"), 1),
        pc.greater_equal(f("duration_s"), 0),
        # JSON's integer -0 is 0 to the contract and -0.0 to the reader: a negative zero is the contract's to read.
        pc.not_equal(f("duration_s").view(pa.int64()), _NEGATIVE_ZERO_BITS),
        pc.less_equal(f("duration_s"), MAX_DURATION_S),
        pc.or_kleene(pc.not_equal(f("kind"), "launch"), pc.equal(f("duration_s"), 0)),
    ]
    text = f("start")
    form = pc.match_substring_regex(text, _START)
    # Only well-formed values are converted (a bad day would fail the whole cast): the rest become null.
    start = pc.cast(pc.if_else(form, text, pa.scalar(None, _TEXT)), UTC_US)
    checks += [pc.greater_equal(start, pa.scalar(earliest, UTC_US)), pc.less_equal(start, latest)]
    ok = checks[0]
    for check in checks[1:]:
        ok = pc.and_kleene(ok, check)
    return pc.fill_null(ok, False), start


def _text(values: pa.Array, shortest: int, longest: int) -> pa.Array:
    """Between `shortest` and `longest` characters with nothing to strip at either end (null if absent)."""
    n = pc.utf8_length(values)
    return pc.and_kleene(
        pc.and_kleene(pc.greater_equal(n, shortest), pc.less_equal(n, longest)),
        pc.match_substring_regex(values, _NO_STRIP),
    )
