"""Helpers shared by the pipeline's integration tests (test modules cannot import each other)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metrics.scrape import total
from pipeline.consumer import Consumer


def _ingested(metrics_url: str) -> int | None:
    """Events stored (alignmon_events_ingested_total summed), or None while the exporter is not up."""
    found = total(metrics_url, "alignmon_events_ingested_total")
    return None if found is None else int(found)


def _drain(consumer: Consumer, expected: int, max_steps: int = 200) -> int:
    """Step until `expected` events were handed over (or max_steps); returns how many were."""
    handled = 0
    for _ in range(max_steps):
        handled += consumer.step()
        if handled >= expected:
            break
    return handled


@pytest.fixture
def ingested() -> Callable[[str], int | None]:
    """`ingested(metrics_url)`: the events a running pipeline's exporter reports as stored."""
    return _ingested


@pytest.fixture
def drain() -> Callable[..., int]:
    """`drain(consumer, expected, max_steps=200)`: step a Consumer until it handed over `expected` events."""
    return _drain
