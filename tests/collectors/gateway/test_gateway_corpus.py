"""The hostile-input corpus against the gateway: every body gets its 4xx with a reason, never a 5xx.

The body parser alone, then each body through the real HTTP stack followed by a good request that must
still be accepted; and each hostile event of the pipeline's corpus posted as an event: refused with its
reason, nothing delivered.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from collectors.gateway.body import decode_body
from collectors.gateway.errors import GatewayError
from tests.corpus.hostile import BODIES, RECORDS, BodyCase, RecordCase

LIMIT = 10 * 1024 * 1024


@pytest.mark.parametrize("case", BODIES, ids=lambda c: c.name)
def test_the_body_parser_refuses_each_case_with_its_status(case: BodyCase) -> None:
    with pytest.raises(GatewayError) as refused:
        decode_body(case.body, case.content_type, case.content_encoding, LIMIT)
    assert refused.value.status == case.status, str(refused.value)
    assert str(refused.value)


def test_each_body_is_refused_over_http_and_the_next_good_request_goes_through(
    settings: Any, make_gateway: Any, kit: Any
) -> None:
    gw = make_gateway(settings.model_copy(update={"max_body_bytes": LIMIT}))
    for n, case in enumerate(BODIES):
        headers = {"Content-Type": case.content_type}
        if case.content_encoding:
            headers["Content-Encoding"] = case.content_encoding
        answer = gw.post(case.body, headers=headers)
        assert answer.status_code == case.status, (case.name, answer.text)
        assert answer.json()["error"]["message"], case.name
        good = gw.post_events([kit.event(n)])
        assert good.status_code == 202, (case.name, good.text)
    assert len(gw.sent()) == len(BODIES)


def _one_object(case: RecordCase) -> Any:
    """The case as a JSON object (what a device could post as an event), or None."""
    try:
        value = json.loads(case.value)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


@pytest.mark.parametrize("case", [c for c in RECORDS if _one_object(c) is not None], ids=lambda c: c.name)
def test_each_hostile_event_is_refused_and_nothing_is_delivered(
    case: RecordCase, settings: Any, make_gateway: Any
) -> None:
    gw = make_gateway(settings.model_copy(update={"max_body_bytes": 2 * 1024 * 1024}), device="dev-corpus")
    answer = gw.post(b"[" + case.value + b"]")
    # The request is well-formed: 202 with the event refused and why (the API's per-event errors), or
    # a 4xx for the body (e.g. NaN is not JSON); never a 5xx that a device would retry forever.
    assert answer.status_code in {202, 400}, answer.text
    if answer.status_code == 202:
        assert answer.json()["accepted"] == 0 and answer.json()["rejected"] == 1
        assert answer.json()["errors"][0]["message"]
    assert gw.sent() == []
