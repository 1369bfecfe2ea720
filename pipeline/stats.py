"""What the pipeline process knows about itself: the consumer counts it, the exporter reads it.

A plain type of its own, so the exporter reads the process's figures without importing the consumer (and Kafka).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ConsumerStats:
    """What the pipeline process knows about itself (the exporter reads it alongside DuckDB)."""

    batches: int = 0
    events: int = 0
    duplicates: int = 0
    rejected: int = 0
    out_of_range: int = 0
    last_batch_s: float = 0.0
    batch_seconds_total: float = 0.0
    last_refresh_s: float = 0.0
    refreshes: int = 0  # refreshes that wrote figures: the exporter renders them again when it moves
    snapshot_at: float = 0.0  # unix time of the last published snapshot
    lake_checked_at: float = 0.0  # unix time of the last lake cycle (0: no lake)
    lake_unwritten_days: int = 0  # closed days not in the lake after that cycle
    # For /healthz and /readyz (metrics.health), on the monotonic clock; None: not yet.
    loop_at: float | None = None  # the process's loop last came round
    partitions: int = 0  # partitions of the topic assigned
    lag_records: int | None = None  # records in Kafka past the last commit, at the last lag check Kafka answered
    lag_checked_at: float | None = None  # that check
    caught_up_at: float | None = None  # the last check that found nothing left to read
    committed_at: float | None = None  # the last batch committed
