"""The gateway's own Prometheus metrics, in their own registry (never the global one).

With several worker processes (collectors.gateway.workers) every worker writes its values to files in one
folder (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR), and whichever worker is scraped
serves the sum over all of them: counters add up, gauges take the live workers' sum, minimum or maximum.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

PRODUCE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    """Requests, events, spool and produce latency; labels are status codes and reason kinds only."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "alignmon_gateway_http_requests", "HTTP requests answered, by status code.", ["code"], registry=r
        )
        self.accepted = Counter(
            "alignmon_gateway_events_accepted", "Events accepted (durable in Kafka or the spool).", registry=r
        )
        self.rejected = Counter(
            "alignmon_gateway_events_rejected",
            "Events rejected, by reason kind (validation error type or device_mismatch).",
            ["reason"],
            registry=r,
        )
        self.spooled = Counter(
            "alignmon_gateway_events_spooled", "Events written to the disk spool because Kafka was away.", registry=r
        )
        self.replayed = Counter(
            "alignmon_gateway_events_replayed", "Spooled events delivered to Kafka afterwards.", registry=r
        )
        self.spool_depth = Gauge(
            "alignmon_gateway_spool_events",
            "Events in the disk spool waiting for Kafka.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.kafka_up = Gauge(
            "alignmon_gateway_kafka_up",
            "1 when the last produce to Kafka was fully acknowledged, else 0; while nothing is sent or spooled, "
            "whether a bootstrap server answers (probed every 30 s).",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.produce_seconds = Histogram(
            "alignmon_gateway_produce_duration_seconds",
            "Time from handing a batch to the Kafka producer until it is acknowledged (or given up).",
            buckets=PRODUCE_BUCKETS,
            registry=r,
        )

        self.refused = Counter(
            "alignmon_gateway_events_refused",
            "Events Kafka refused for good (answered 503, or held in the spool), by producer error.",
            ["reason"],
            registry=r,
        )
        self.producer_refusing = Gauge(
            "alignmon_gateway_producer_refusing",
            "1 while Kafka refuses the gateway's events for good (the last produce failed permanently), else 0.",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.spool_commit_failing = Gauge(
            "alignmon_gateway_spool_commit_failing",
            "1 while the spool cannot record that delivered events left it (disk full?), else 0.",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.spool_commit_failures = Counter(
            "alignmon_gateway_spool_commit_failures", "Failed attempts to record the spool's read position.", registry=r
        )

    def track_spool(self, depth: Callable[[], float]) -> None:
        """Read the spool depth at scrape time instead of keeping a second copy of it (one process only: workers
        set it whenever it changes, for the other workers to read)."""
        if not multiprocess_dir():
            self.spool_depth.set_function(depth)

    def exposition(self) -> bytes:
        folder = multiprocess_dir()
        if not folder:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def multiprocess_dir() -> str | None:
    """The folder the workers share their metric values in, when the gateway runs several (else None)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
