"""Probes and metrics every service serves from walletkit.urls."""

from __future__ import annotations

import pytest

from walletkit import health
from walletkit.devstack.infra import free_port
from walletkit.tests.conftest import kit_envelope, outbox_write


@pytest.fixture(autouse=True)
def fresh_broker_check():
    """The broker verdict is cached for 2 s; each test must ask the broker it configures."""
    health._broker_checked_at = 0.0
    yield
    health._broker_checked_at = 0.0


def test_healthz_answers_without_a_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "kit"}


@pytest.mark.django_db
def test_readyz_is_ready_with_database_and_broker_up(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": True, "broker": True}}


@pytest.mark.django_db
def test_readyz_is_unavailable_while_the_broker_is_unreachable(client, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"  # nothing listens there

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": True, "broker": False}}


@pytest.mark.django_db(transaction=True)
def test_metrics_expose_the_outbox_backlog(client):
    outbox_write(kit_envelope(), kit_envelope(), kit_envelope())

    response = client.get("/metrics")

    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert "outbox_backlog 3.0" in lines
    assert any(line.startswith("http_requests_total") for line in lines)
