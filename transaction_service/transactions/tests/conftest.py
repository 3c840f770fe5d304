"""Fixtures: fake wallet and ledger servers, a refused port, API clients with real user tokens."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from rest_framework.test import APIClient

from transactions.tests.factories import user_token
from walletkit.testing.fake_service import FakeService, serve


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown so a fake blocked on it (a "slow" service) always lets go."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def fake_wallet(settings) -> Iterator[FakeService]:
    for service in serve(FakeService()):
        settings.SERVICE_URLS = {**settings.SERVICE_URLS, "wallet": service.url}
        yield service


@pytest.fixture
def fake_ledger(settings) -> Iterator[FakeService]:
    for service in serve(FakeService()):
        settings.SERVICE_URLS = {**settings.SERVICE_URLS, "ledger": service.url}
        yield service


@pytest.fixture
def closed_port_url() -> str:
    """A loopback port nobody listens on: connections are refused, so a request never reaches anyone."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _short_clocks(settings):
    settings.SERVICE_HTTP_TIMEOUT = 0.5
    settings.SAGA_DEADLINE = 10.0
    settings.HOLD_EXPIRY = 60.0
    settings.SWEEPER_INTERVAL = 0.1


@pytest.fixture
def api_client_for() -> Callable[[int], APIClient]:
    def make(user_id: int) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {user_token(user_id)}")
        return client

    return make
