"""The whole system on one machine: embedded servers, keys, databases, topics, migrations,
then every web process and worker from each service's Procfile, under one supervisor.

``make up`` runs it in the foreground; the end-to-end tests run the same thing on free ports.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from walletkit.devstack import infra, keys
from walletkit.devstack.supervisor import ProcessSpec, Supervisor
from walletkit.events import ALL_TOPICS

REPO_ROOT = Path(__file__).resolve().parents[2]
# The embedded broker serves one consumer process per group, so more partitions than that buy no
# parallelism — and Tansu's CPU grows with the partitions each fetch covers: idle, the stack's
# consumers cost it 0.13 cores with 8 partitions per topic and 0.06 with 2 (docs/benchmark.md).
# A real Kafka (KAFKA_BOOTSTRAP_SERVERS) gets 8 unless KAFKA_PARTITIONS says otherwise.
EMBEDDED_BROKER_PARTITIONS = 2

# folder → (service name = database name, offset from the gateway port)
SERVICES: dict[str, tuple[str, int]] = {
    "gateway_web": ("gateway", 0),
    "transaction_service": ("transaction", 1),
    "wallet_service": ("wallet", 2),
    "ledger_service": ("ledger", 3),
    "history_service": ("history", 4),
}


@dataclass
class StackConfig:
    data_dir: Path
    gateway_port: int = 8000
    postgres_port: int = 54320
    broker_port: int = 19092
    redis_port: int = 16379
    durable: bool = True
    kafka_partitions: int = EMBEDDED_BROKER_PARTITIONS
    # External servers; when set, the embedded one is not started.
    postgres_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    redis_url: str | None = None
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, data_dir: Path) -> StackConfig:
        env = os.environ
        return cls(
            data_dir=data_dir,
            gateway_port=int(env.get("GATEWAY_PORT", 8000)),
            postgres_port=int(env.get("EMBEDDED_POSTGRES_PORT", 54320)),
            broker_port=int(env.get("EMBEDDED_BROKER_PORT", 19092)),
            redis_port=int(env.get("EMBEDDED_REDIS_PORT", 16379)),
            kafka_partitions=int(
                env.get("KAFKA_PARTITIONS") or (8 if env.get("KAFKA_BOOTSTRAP_SERVERS") else EMBEDDED_BROKER_PARTITIONS)
            ),
            postgres_url=env.get("POSTGRES_URL"),
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS"),
            redis_url=env.get("REDIS_URL"),
            database_urls={
                name: env[f"{name.upper()}_DATABASE_URL"]
                for name, _ in SERVICES.values()
                if env.get(f"{name.upper()}_DATABASE_URL")
            },
        )

    def port(self, folder: str) -> int:
        return self.gateway_port + SERVICES[folder][1]

    def url(self, folder: str) -> str:
        return f"http://127.0.0.1:{self.port(folder)}"

    @property
    def embedded_postgres(self) -> bool:
        return not self.postgres_url and len(self.database_urls) < len(SERVICES)

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.broker_port}"

    @property
    def redis(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"

    def database_url(self, name: str) -> str:
        if name in self.database_urls:
            return self.database_urls[name]
        server = self.postgres_url or f"postgres://postgres@127.0.0.1:{self.postgres_port}"
        return f"{server.rstrip('/')}/{name}"

    def service_env(self, folder: str) -> dict[str, str]:
        name = SERVICES[folder][0]
        return {
            "SERVICE_NAME": name,
            "DATABASE_URL": self.database_url(name),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_PARTITIONS": str(self.kafka_partitions),
            "REDIS_URL": self.redis,
            "WALLET_DATA_DIR": str(self.data_dir),
            "PORT": str(self.port(folder)),
            "TRANSACTION_SERVICE_URL": self.url("transaction_service"),
            "WALLET_SERVICE_URL": self.url("wallet_service"),
            "LEDGER_SERVICE_URL": self.url("ledger_service"),
            "HISTORY_SERVICE_URL": self.url("history_service"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.data_dir / "metrics" / name),
            "PYTHONUNBUFFERED": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **self.extra_env,
        }


def procfile_read(folder: str) -> list[tuple[str, str]]:
    """(process name, command) pairs from ``<folder>/Procfile``."""
    entries = []
    for line in (REPO_ROOT / folder / "Procfile").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries.append((name.strip(), command.strip()))
    return entries


def app_processes(config: StackConfig) -> list[ProcessSpec]:
    specs = []
    for folder, (name, _offset) in SERVICES.items():
        env = config.service_env(folder)
        for process, command in procfile_read(folder):
            argv = [_expand(part, env) for part in shlex.split(command)]
            specs.append(ProcessSpec(name=f"{name}-{process}", argv=argv, cwd=REPO_ROOT / folder, env=env))
    return specs


def _expand(part: str, env: dict[str, str]) -> str:
    """Substitute $VAR / ${VAR} from the service's environment; ``python`` is this venv's."""
    if part == "python":
        return sys.executable
    for key, value in env.items():
        part = part.replace("${" + key + "}", value).replace("$" + key, value)
    return part


class Stack:
    def __init__(self, config: StackConfig, *, echo=print) -> None:
        self.config = config
        self.echo = echo
        self.supervisor = Supervisor(
            log_dir=config.data_dir / "logs", state_file=config.data_dir / "run" / "processes.json", echo=echo
        )

    def start(self, *, wait_ready: float = 120.0) -> None:
        started = time.monotonic()
        self.start_infra()
        keys.keys_ensure(self.config.data_dir / "keys")
        self.prepare()
        self.start_apps()
        self.wait_ready(timeout=wait_ready)
        self.echo(f"[stack] ready in {time.monotonic() - started:.1f}s — gateway on {self.config.url('gateway_web')}")

    def start_infra(self) -> None:
        config = self.config
        if config.embedded_postgres:
            spec = infra.postgres_spec(config.data_dir / "postgres", config.postgres_port, durable=config.durable)
            self._start_server(spec, stop_signal=signal.SIGINT)  # SIGINT = postgres "fast" shutdown
            infra.wait_for_postgres(config.postgres_port)
        if not config.kafka_bootstrap_servers:
            self._start_server(infra.broker_spec(config.broker_port), on_restart=self.broker_restarted)
        if not config.redis_url:
            self._start_server(infra.redis_spec(config.data_dir / "redis", config.redis_port))

    def _start_server(self, spec: infra.ServerSpec, stop_signal: int = signal.SIGTERM, on_restart=None) -> None:
        self.supervisor.start(
            ProcessSpec(
                name=f"infra-{spec.name}", argv=spec.argv, user=spec.user, stop_signal=stop_signal,
                on_restart=on_restart,
            )
        )  # fmt: skip
        infra.wait_for_port(spec.port)

    def broker_restarted(self) -> None:
        """The embedded broker came back empty: create the topics with the configured partitions
        at once (clients' metadata requests would auto-create them with the broker's default).
        The relays notice the lost events themselves and republish them (decision 0006)."""
        infra.wait_for_port(self.config.broker_port, timeout=30)
        infra.topics_ensure(self.config.bootstrap, ALL_TOPICS, partitions=self.config.kafka_partitions)

    def prepare(self) -> None:
        """Databases, topics (before any client can auto-create them), migrations — all idempotent."""
        config = self.config
        infra.databases_ensure([config.database_url(name) for name, _ in SERVICES.values()])
        infra.topics_ensure(config.bootstrap, ALL_TOPICS, partitions=config.kafka_partitions)
        for metrics_dir in (config.data_dir / "metrics").glob("*"):
            for stale in metrics_dir.glob("*.db"):
                stale.unlink()
        for name, _ in SERVICES.values():
            (config.data_dir / "metrics" / name).mkdir(parents=True, exist_ok=True)
        migrations = [
            subprocess.Popen(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=REPO_ROOT / folder,
                env={**os.environ, **config.service_env(folder)},
            )  # fmt: skip
            for folder in SERVICES
        ]
        failed = [folder for folder, proc in zip(SERVICES, migrations, strict=True) if proc.wait() != 0]
        if failed:
            raise RuntimeError(f"migrations failed for {failed}")

    def start_apps(self) -> None:
        for spec in app_processes(self.config):
            self.supervisor.start(spec)
        self.supervisor.watch_in_background()

    def wait_ready(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = {folder: self.config.url(folder) + "/readyz" for folder in SERVICES}
        with httpx.Client(timeout=2) as client:
            while pending and time.monotonic() < deadline:
                for folder, url in list(pending.items()):
                    try:
                        if client.get(url).status_code == 200:
                            del pending[folder]
                    except httpx.HTTPError:
                        pass
                time.sleep(0.2)
        if pending:
            raise TimeoutError(f"not ready after {timeout}s: {sorted(pending)}; see {self.config.data_dir / 'logs'}")

    def stop(self) -> None:
        self.supervisor.stop()
