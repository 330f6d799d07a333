"""Prometheus metrics of the CDS service (one process-wide registry; ``/metrics`` exposes it)."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY: Final = CollectorRegistry(auto_describe=True)

REQUEST_SECONDS: Final = Histogram(
    "twinrx_cds_request_seconds",
    "Latency of CDS Hooks requests by service and status.",
    ["service", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
CARDS: Final = Counter(
    "twinrx_cds_cards_total", "Cards returned, by service and indicator.", ["service", "indicator"], registry=REGISTRY
)
FEEDBACK: Final = Counter(
    "twinrx_cds_feedback_total",
    "Card feedback received, by service and outcome.",
    ["service", "outcome"],
    registry=REGISTRY,
)
TWIN_SOURCE: Final = Counter(
    "twinrx_cds_twin_source_total",
    "Where the twin of a hook call came from (stored, stale, prefetch).",
    ["origin"],
    registry=REGISTRY,
)
AUTH_FAILURES: Final = Counter("twinrx_cds_auth_failures_total", "Rejected client JWTs.", registry=REGISTRY)
