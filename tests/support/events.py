"""Usage events as a device sends them, for tests that hand-count figures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from base.pseudonym import pseudonymise

KEY = b"test-key"  # the pseudonym key of the tests' directories


def focus(n: int, who: str, app: str, day: date, minutes: float, hour: int = 10) -> bytes:
    """Focus event `e<n>` of `who` (pseudonymised with KEY) on `app` at `hour`:00 UTC of `day`, as record JSON."""
    start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    event = {
        "event_id": f"e{n}",
        "kind": "focus",
        "device_id": f"d-{who}",
        "user": pseudonymise(who, KEY),
        "app": app,
        "start": start.isoformat(),
        "duration_s": minutes * 60,
        "source": "test",
    }
    return json.dumps(event).encode()
