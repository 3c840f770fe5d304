"""pytest plugin: real PostgreSQL, broker and Redis for one test session, on free ports.

Loaded with ``-p walletkit.testing.infra`` (see each pytest.ini). It starts the servers in
``pytest_load_initial_conftests`` — before pytest-django reads the settings — and points the
settings at them through the same environment variables production uses.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

from walletkit.devstack import infra, keys
from walletkit.devstack.supervisor import ProcessSpec, Supervisor
from walletkit.events import ALL_TOPICS

_session: dict = {}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if "TEST_INFRA_DIR" in _session:
        return
    root = Path(tempfile.mkdtemp(prefix="wallet-test-"))
    supervisor = Supervisor(log_dir=root / "logs", echo=lambda *_: None)
    ports = {"postgres": infra.free_port(), "broker": infra.free_port(), "redis": infra.free_port()}
    pg = infra.postgres_spec(root / "postgres", ports["postgres"], durable=False)
    for spec, stop_signal in (
        (pg, signal.SIGINT),
        (infra.broker_spec(ports["broker"]), signal.SIGTERM),
        (infra.redis_spec(root / "redis", ports["redis"]), signal.SIGTERM),
    ):
        supervisor.start(
            ProcessSpec(name=f"infra-{spec.name}", argv=spec.argv, user=spec.user, stop_signal=stop_signal)
        )
        infra.wait_for_port(spec.port)
    infra.wait_for_postgres(ports["postgres"])
    bootstrap = f"127.0.0.1:{ports['broker']}"
    infra.topics_ensure(bootstrap, ALL_TOPICS, partitions=4)
    keys.keys_ensure(root / "keys")
    service = os.environ.get("SERVICE_NAME", "test")
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{ports['postgres']}/{service}",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_PARTITIONS": "4",
            "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
            "WALLET_DATA_DIR": str(root),
            "JWT_PRIVATE_KEY": str(root / "keys" / "jwt_private.pem"),
        }
    )
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    _session.update(TEST_INFRA_DIR=root, supervisor=supervisor, ports=ports)


def pytest_unconfigure(config):
    supervisor = _session.pop("supervisor", None)
    if supervisor:
        supervisor.stop(timeout=10)


@pytest.fixture(scope="session")
def infra_ports() -> dict[str, int]:
    """Ports of this session's postgres, broker and redis."""
    return dict(_session["ports"])


@pytest.fixture(scope="session")
def infra_supervisor() -> Supervisor:
    """The supervisor of this session's servers (to stop or restart the broker in fault tests)."""
    return _session["supervisor"]
