"""A worker process serves /metrics on METRICS_PORT (compose: every worker is its own container),
with its own counters and the database gauges Prometheus alerts on (deploy/prometheus/alerts.yml)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from walletkit import metrics
from walletkit.devstack.infra import free_port
from walletkit.inbox.models import DeadLetter
from walletkit.outbox.models import OutboxEvent


@pytest.mark.django_db(transaction=True)
def test_a_worker_serves_its_metrics_with_backlog_and_dead_letters_over_http():
    OutboxEvent.objects.create(event_id=uuid.uuid4(), topic="kit.events", key="k", envelope={})
    DeadLetter.objects.create(
        consumer="kit-effects", topic="kit.events", partition=0, offset=7, value="{}", error="boom", attempts=3
    )
    metrics.EVENTS_CONSUMED.labels("kit-effects", "applied").inc()
    server = metrics.worker_metrics_serve(port=free_port())
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        page = httpx.get(f"{url}/metrics", timeout=5)
        elsewhere = httpx.get(f"{url}/admin", timeout=5)
    finally:
        server.shutdown()
        server.server_close()

    assert page.status_code == 200 and elsewhere.status_code == 404
    assert "outbox_backlog 1.0" in page.text
    assert 'dead_letters{consumer="kit-effects"} 1.0' in page.text
    assert 'consumer_events_total{consumer="kit-effects",outcome="applied"}' in page.text


def test_no_port_no_server(settings):
    settings.METRICS_PORT = None
    assert metrics.worker_metrics_serve() is None


def test_a_taken_port_leaves_the_worker_running_unobserved():
    first = metrics.worker_metrics_serve(port=free_port())
    try:
        assert metrics.worker_metrics_serve(port=first.server_port) is None
    finally:
        first.shutdown()
        first.server_close()
