"""Prometheus metrics shared by every process of a service.

The runner gives each service a PROMETHEUS_MULTIPROC_DIR, so counters written by the relay
and consumer processes show up in the service's own ``/metrics`` page.
"""

from __future__ import annotations

import os
import time

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests served", ["method", "status"])
HTTP_LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["method"])
EVENTS_PUBLISHED = Counter("outbox_events_published_total", "Outbox events acknowledged by the broker", ["topic"])
PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Outbox deliveries the broker did not acknowledge")
BROKER_AMNESIA = Counter("outbox_broker_amnesia_total", "Times the relay found the broker had lost acked events")
EVENTS_CONSUMED = Counter("consumer_events_total", "Events handled by a consumer", ["consumer", "outcome"])
CONSUMER_LAG = Gauge(
    "consumer_lag", "Messages behind the high watermark", ["consumer", "partition"], multiprocess_mode="livemax"
)


class OutboxBacklogCollector:
    """Counted at scrape time from the database, so it is right whichever process asks."""

    def collect(self):
        from walletkit.outbox.services import outbox_backlog

        family = GaugeMetricFamily("outbox_backlog", "Outbox events not yet acknowledged by the broker")
        try:
            family.add_metric([], outbox_backlog())
        except Exception:  # the database is down: /readyz reports that, /metrics stays up
            return []
        return [family]


def metrics_view(request):
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    output = generate_latest(registry)
    from django.apps import apps

    if apps.is_installed("walletkit.outbox"):
        backlog = CollectorRegistry()
        backlog.register(OutboxBacklogCollector())
        output += generate_latest(backlog)
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        HTTP_LATENCY.labels(request.method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, response.status_code).inc()
        return response
