"""End-to-end fixtures: the whole system (every service, worker and server) on free ports.

One stack per pytest session, started exactly like ``make up`` but throw-away (``durable=False``)
and on ports that cannot collide with a developer's ``make up`` (8000-8004, 54320, 19092, 16379).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.people import Person
from walletkit.devstack import infra
from walletkit.devstack.stack import SERVICES, Stack, StackConfig

LOG_TAIL_LINES = 40
MAKE_UP_PORTS = frozenset({*range(8000, 8005), 54320, 19092, 16379})
# Faults are part of the suite: short deadlines so the sweeper finishes stuck sagas within a test.
E2E_ENV = {
    "SWEEPER_INTERVAL": "0.5",
    "SAGA_DEADLINE": "3",
    "HOLD_EXPIRY": "30",
    "KAFKA_DELIVERY_TIMEOUT_MS": "3000",
    "SERVICE_HTTP_TIMEOUT": "5",
    "THROTTLE_AUTH": "10000/min",
    "THROTTLE_MONEY": "100000/min",
    "THROTTLE_PASSWORD_RESET": "10000/min",
    # The fault tests pile sagas up on purpose (300 payments while the broker is away): backpressure
    # (429 overloaded, tested in transaction_service) would refuse them, which is not what they test.
    "SAGAS_IN_FLIGHT_MAX": "100000",
}


def free_port() -> int:
    """A free port that is none of ``make up``'s, so a developer's stack can start while tests run."""
    while (port := infra.free_port()) in MAKE_UP_PORTS:
        pass
    return port


def stack_config(data_dir: Path, **overrides) -> StackConfig:
    return StackConfig(
        data_dir=data_dir,
        gateway_port=infra.consecutive_free_ports(len(SERVICES)),
        postgres_port=free_port(),
        broker_port=free_port(),
        redis_port=free_port(),
        durable=False,
        kafka_partitions=4,
        extra_env=dict(E2E_ENV),
        **overrides,
    )


def logs_tail(data_dir: Path, lines: int = LOG_TAIL_LINES) -> str:
    parts = []
    for log in sorted((data_dir / "logs").glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"----- {log.name} (last {len(tail)} lines) -----\n" + "\n".join(tail))
    return "\n".join(parts)


def stack_start(data_dir: Path) -> Stack:
    """Start a stack; on failure print each log's tail, stop what did start, and re-raise."""
    stack = Stack(stack_config(data_dir), echo=lambda *_: None)
    try:
        stack.start()
    except BaseException:
        print(f"\n[e2e] stack failed to start; logs in {data_dir / 'logs'}\n{logs_tail(data_dir)}", flush=True)
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def stack(request) -> Iterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="wallet-e2e-"))
    stack = stack_start(data_dir)
    try:
        yield stack
    finally:
        stack.stop()
        if request.session.testsfailed:
            print(f"\n[e2e] stack logs kept in {data_dir / 'logs'}", flush=True)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_launcher():
    """``stack_start(data_dir)``, for a test that needs a stack of its own (to stop it, say)."""
    return stack_start


@pytest.fixture(scope="session")
def gateway_url(stack: Stack) -> str:
    return stack.config.url("gateway_web")


@pytest.fixture(scope="session")
def service_urls(stack: Stack) -> dict[str, str]:
    """Service folder → base URL, e.g. ``service_urls["wallet_service"]``."""
    return {folder: stack.config.url(folder) for folder in SERVICES}


@pytest.fixture
def api(gateway_url: str) -> Iterator[httpx.Client]:
    """An HTTP client on the gateway (fresh per test, so cookies and tokens never leak between tests)."""
    with httpx.Client(base_url=gateway_url, timeout=10) as client:
        yield client


# Two fresh people per test (test_security.py keeps its own, module-scoped, with more set up).
@pytest.fixture
def alice(gateway_url) -> Person:
    return Person.sign_up(gateway_url, prefix="alice")


@pytest.fixture
def bob(gateway_url) -> Person:
    return Person.sign_up(gateway_url, prefix="bob")
