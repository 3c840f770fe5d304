"""``make backup`` / ``make restore`` for the embedded PostgreSQL (decision 0015, docs/production.md).

A backup is one ``pg_dump -Fc`` per service database (never one across services: each service owns
its own) in a directory ``backups/<UTC time>/``. A restore creates a fresh data directory: initdb,
the five databases, ``pg_restore`` of each dump, then stops; ``make up`` then runs on it (and
generates new JWT keys if the directory has none: everyone signs in again).

The dumps are five snapshots taken one after another, not one snapshot of the whole system: take
a backup while the stack is quiet (no saga in flight), and reconcile after a restore.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from walletkit.devstack import infra
from walletkit.devstack.stack import SERVICES, StackConfig


def database_names() -> list[str]:
    return [name for name, _offset in SERVICES.values()]


def backup_create(*, config: StackConfig, backups_dir: Path) -> Path:
    """Dump every service database of a running stack into a new directory under ``backups_dir``."""
    target = backups_dir / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target.mkdir(parents=True)
    for name in database_names():
        subprocess.run(
            [infra._pg_bin("pg_dump"), "--format=custom", "--file", str(target / f"{name}.dump"),
             "--dbname", config.database_url(name)],
            check=True,
        )  # fmt: skip
    return target


def backup_restore(*, dumps: Path, data_dir: Path) -> None:
    """Restore the dumps in ``dumps`` into a fresh embedded PostgreSQL under ``data_dir``."""
    missing = [name for name in database_names() if not (dumps / f"{name}.dump").is_file()]
    if missing:
        raise FileNotFoundError(f"{dumps} has no dump of {missing}")
    if (data_dir / "postgres" / "PG_VERSION").exists():
        raise FileExistsError(f"{data_dir / 'postgres'} already holds a cluster: restore into a fresh data directory")
    port = infra.free_port()
    spec = infra.postgres_spec(data_dir / "postgres", port)
    server = subprocess.Popen(spec.argv, user=spec.user, stdout=subprocess.DEVNULL)
    try:
        infra.wait_for_postgres(port)
        urls = {name: f"postgres://postgres@127.0.0.1:{port}/{name}" for name in database_names()}
        infra.databases_ensure(list(urls.values()))
        for name, url in urls.items():
            subprocess.run(
                [infra._pg_bin("pg_restore"), "--exit-on-error", "--no-owner", "--dbname", url,
                 str(dumps / f"{name}.dump")],
                check=True,
            )  # fmt: skip
    finally:
        server.send_signal(signal.SIGINT)  # postgres "fast" shutdown: a clean checkpoint
        deadline = time.monotonic() + 60
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if server.poll() is None:
            server.kill()
