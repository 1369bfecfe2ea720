"""Property tests of the gateway's body parser: any body gets a list of events or a 4xx, never a crash.

CI runs a fixed, bounded set of examples (tests/conftest.py).
"""

from __future__ import annotations

import gzip
import json

from hypothesis import given
from hypothesis import strategies as st

from collectors.gateway.body import decode_body
from collectors.gateway.errors import GatewayError

LIMIT = 64 * 1024
MAX_EVENTS = 50

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=40,
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(json_values, max_size=80).map(lambda v: json.dumps(v).encode()),
    st.lists(json_values, max_size=80).map(lambda v: b"\n".join(json.dumps(x).encode() for x in v)),
    st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.binary(max_size=256),
)


@given(
    body=bodies,
    media=st.sampled_from(["application/json", "application/x-ndjson"]),
    compress=st.booleans(),
)
def test_any_body_is_a_bounded_list_of_events_or_a_4xx(body: bytes, media: str, compress: bool) -> None:
    sent = gzip.compress(body) if compress else body
    try:
        items = decode_body(sent, media, "gzip" if compress else None, LIMIT, max_depth=8, max_events=MAX_EVENTS)
    except GatewayError as refused:
        assert 400 <= refused.status < 500 and str(refused)
        return
    assert isinstance(items, list) and len(items) <= MAX_EVENTS
