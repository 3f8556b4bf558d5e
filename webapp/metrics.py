"""The web app's Prometheus metrics: requests, latencies, events, Kafka errors, 429s and
recommendation answers, and the hooks that time every request.

Services and routes count into these; ``GET /metrics`` (webapp/metrics_endpoint.py) serves
them. Under gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set) every worker writes its samples to
files there, so any worker's scrape sums them all.
"""

from __future__ import annotations

import time

from flask import Flask, g, request
from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "recsys_http_requests", "HTTP requests answered.", ["method", "endpoint", "status"]
)
LATENCY = Histogram(
    "recsys_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS = Counter(
    "recsys_events", "Listening events by outcome (accepted, rejected, failed).", ["outcome"]
)
KAFKA_ERRORS = Counter(
    "recsys_kafka_errors",
    "Kafka failures: send_failed (an event not acknowledged in time), unreachable (no"
    " producer could be made), producer_rebuilt (a stuck producer replaced).",
    ["kind"],
)
RATE_LIMITED = Counter("recsys_rate_limited", "Requests answered 429, by limit.", ["group"])
IMPRESSIONS = Counter(
    "recsys_impressions",
    "Recommendation answers recorded as impressions: sent (acknowledged by Kafka) or lost"
    " (Kafka away: the answer was served all the same).",
    ["outcome"],
)
RECOMMENDATIONS = Counter(
    "recsys_recommendations",
    "Recommendation answers by kind (home, next), mode and whether degraded.",
    ["kind", "mode", "degraded"],
)


def init_app(app: Flask) -> None:
    """Time every request and count its answer, labelled by route (not by raw path, so ids
    do not make a metric per listener)."""

    @app.before_request
    def _start_timer():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.pop("metrics_started", None)
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
            REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        return response
