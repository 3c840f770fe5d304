"""Fixtures: fake wallet and ledger servers, a refused port, API clients with real user tokens."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from rest_framework.test import APIClient

from walletkit.testing import clients
from walletkit.testing.fake_service import FakeService, serve_as


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown so a fake blocked on it (a "slow" service) always lets go."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def fake_wallet(settings) -> Iterator[FakeService]:
    yield from serve_as("wallet", settings)


@pytest.fixture
def fake_ledger(settings) -> Iterator[FakeService]:
    yield from serve_as("ledger", settings)


@pytest.fixture
def closed_port_url() -> str:
    return clients.closed_port_url()


@pytest.fixture(autouse=True)
def _short_clocks(settings):
    settings.SERVICE_HTTP_TIMEOUT = 0.5
    settings.SAGA_DEADLINE = 10.0
    settings.HOLD_EXPIRY = 60.0
    settings.SWEEPER_INTERVAL = 0.1


@pytest.fixture
def api_client_for() -> Callable[[int], APIClient]:
    return clients.user_client
