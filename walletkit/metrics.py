"""Prometheus metrics shared by every process of a service.

The runner gives each service a PROMETHEUS_MULTIPROC_DIR, so counters written by the relay
and consumer processes show up in the service's own ``/metrics`` page. In compose every process
is its own container with nothing shared, so each worker serves its own ``/metrics`` on
``METRICS_PORT`` (``worker_metrics_serve``); deploy/prometheus.yml scrapes them all.

Gauges counted from the database at scrape time (right whichever process answers): outbox backlog,
dead letters, and — in ledger_service, via ``METRICS_DATABASE_COLLECTORS`` — the latest
reconciliation's findings.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from django.conf import settings
from django.db import close_old_connections
from django.http import HttpResponse
from django.utils.module_loading import import_string
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


logger = logging.getLogger(__name__)


class OutboxBacklogCollector:
    """Counted at scrape time from the database, so it is right whichever process asks."""

    def collect(self):
        from walletkit.outbox.services import outbox_backlog

        family = GaugeMetricFamily("outbox_backlog", "Outbox events not yet acknowledged by the broker")
        family.add_metric([], outbox_backlog())
        return [family]


class DeadLetterCollector:
    """Dead letters kept in this service's database (they stay until staff handle them)."""

    def collect(self):
        from django.db.models import Count

        from walletkit.inbox.models import DeadLetter

        family = GaugeMetricFamily("dead_letters", "Dead-lettered events kept for staff", labels=["consumer"])
        for row in DeadLetter.objects.values("consumer").annotate(count=Count("id")):
            family.add_metric([row["consumer"]], row["count"])
        return [family]


def database_collectors() -> list:
    from django.apps import apps

    collectors = []
    if apps.is_installed("walletkit.outbox"):
        collectors.append(OutboxBacklogCollector())
    if apps.is_installed("walletkit.inbox"):
        collectors.append(DeadLetterCollector())
    return collectors + [import_string(path)() for path in getattr(settings, "METRICS_DATABASE_COLLECTORS", [])]


def metrics_text() -> bytes:
    """The exposition text: this service's process metrics, then the database gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    output = generate_latest(registry)
    for collector in database_collectors():
        from_database = CollectorRegistry()
        from_database.register(collector)
        try:
            output += generate_latest(from_database)
        except Exception:  # the database is down: /readyz reports that, /metrics stays up
            logger.warning("a database metric could not be read", extra={"collector": type(collector).__name__})
    return output


def metrics_view(request):
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


class _WorkerMetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 — the stdlib's name
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        close_old_connections()  # this thread's own database connection, renewed if it went stale
        body = metrics_text()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # scrapes are not news
        pass


def worker_metrics_serve(port: int | None = None) -> HTTPServer | None:
    """Serve ``/metrics`` from this worker process on ``METRICS_PORT`` (unset: no server, as under
    make up, where the web process's page already shows every worker). One thread, so one database
    connection, however often Prometheus scrapes."""
    port = port if port is not None else getattr(settings, "METRICS_PORT", None)
    if not port:
        return None
    try:
        server = HTTPServer(("0.0.0.0", int(port)), _WorkerMetricsHandler)  # noqa: S104 — a container's own port
    except OSError as exc:  # taken (two workers sharing a host): run unobserved rather than not at all
        logger.error("worker metrics port unavailable", extra={"port": port, "error": str(exc)})
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("worker metrics served", extra={"port": server.server_port})
    return server


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        HTTP_LATENCY.labels(request.method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, response.status_code).inc()
        return response
