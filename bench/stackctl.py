"""The stack the benchmark measures: its own (``walletkit.devstack``, like ``make up``), or a running
one when ``BENCH_GATEWAY_URL`` is set."""

from __future__ import annotations

import os
from pathlib import Path

from walletkit.devstack import infra
from walletkit.devstack.stack import SERVICES, Stack, StackConfig

DEFAULT_PORTS = (*range(8000, 8000 + len(SERVICES)), 54320, 19092, 16379)
# Throttles are for people, not for a load generator; the access token must outlive the run.
BENCH_ENV = {
    "THROTTLE_AUTH": "1000000/min",
    "THROTTLE_MONEY": "10000000/min",
    "JWT_ACCESS_SECONDS": "3600",
}


def stack_config(data_dir: Path, *, ports: str) -> StackConfig:
    """``ports="default"``: 8000-8004 etc. when all are free, else free ports; ``"free"``: always free ones."""
    env = {**BENCH_ENV, **{k[len("BENCH_ENV_") :]: v for k, v in os.environ.items() if k.startswith("BENCH_ENV_")}}
    if ports == "default" and all(infra.port_free(p) for p in DEFAULT_PORTS):
        return StackConfig(data_dir=data_dir, extra_env=env)
    return StackConfig(
        data_dir=data_dir,
        gateway_port=infra.consecutive_free_ports(len(SERVICES)),
        postgres_port=infra.free_port(),
        broker_port=infra.free_port(),
        redis_port=infra.free_port(),
        extra_env=env,
    )


def process_roots(stack: Stack) -> dict[str, int]:
    """Named root pids of the stack's processes (for CPU accounting of each and its children)."""
    return {name: entry.popen.pid for name, entry in stack.supervisor.running.items()}
