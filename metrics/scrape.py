"""Read a figure back from a running /metrics endpoint: benchmarks, scripts and tests wait on the pipeline with it."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def total(url: str, sample: str, timeout_s: float = 2.0) -> float | None:
    """The sum over all labels of the samples named `sample` (e.g. alignmon_events_ingested_total) served at `url`.

    None while nothing answers there (the process is starting or gone); 0 when it answers without the sample.
    """
    try:
        text = httpx.get(url, timeout=timeout_s).text
    except httpx.HTTPError:
        return None
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples if s.name == sample)
