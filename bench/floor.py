"""``python -m bench.floor``: what each unit a transfer is made of costs on this machine.

A transfer is a count of units — HTTP requests into Django, PostgreSQL statements and commits,
broker messages produced and fetched (docs/benchmark.md counts them per transfer) — so its CPU
can go no lower than those counts times these costs, however well each unit is written. Each unit
is measured here on a fresh own stack (as ``make bench`` starts it), one at a time, the way the
services use it: one keep-alive HTTP connection, one database connection, a producer that waits
for each acknowledgement (a relay at low rate) and a consumer that fetches each message.
Printed per unit: CPU milliseconds in the server process and in the caller.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench import stackctl, stats


def _idle_cores(roots: dict[str, int], seconds: float = 5.0) -> dict[str, float]:
    """What each process group burns doing nothing (the stack's consumers poll the broker, relays
    and sweepers tick): subtracted from what a unit costs its server."""
    before = stats.cpu_by_group(roots)
    time.sleep(seconds)
    after = stats.cpu_by_group(roots)
    return {name: (after[name] - before[name]) / seconds for name in after}


def _cost(roots: dict[str, int], idle: dict[str, float], server: str, count: int, unit: Callable[[], None]) -> dict:
    """CPU ms per unit in ``server`` (a process group of the stack, its idle burn removed) and in this process."""
    before, caller_before, started = stats.cpu_by_group(roots), time.process_time(), time.monotonic()
    for _ in range(count):
        unit()
    elapsed = time.monotonic() - started
    after, caller = stats.cpu_by_group(roots), time.process_time() - caller_before
    server_cpu = after[server] - before[server] - idle[server] * elapsed
    return {
        "server_ms": round(server_cpu / count * 1000, 3),
        "caller_ms": round(caller / count * 1000, 3),
        "wall_ms": round(elapsed / count * 1000, 3),
    }


def measure(stack, *, count: int = 2000) -> dict[str, dict]:
    roots = stackctl.process_roots(stack)
    config = stack.config
    idle = _idle_cores(roots)
    results = {}
    with httpx.Client(base_url=config.url("wallet_service")) as http:
        http.get("/healthz")
        results["Django request, plain view, gunicorn gthread (wallet-web /healthz)"] = _cost(
            roots, idle, "wallet-web", count, lambda: http.get("/healthz").raise_for_status()
        )
    with httpx.Client(base_url=config.url("gateway_web")) as http:
        http.get("/healthz")
        results["Django request, plain view, the gateway's server (uvicorn + a2wsgi)"] = _cost(
            roots, idle, "gateway-web", count, lambda: http.get("/healthz").raise_for_status()
        )
    with psycopg.connect(config.database_url("wallet"), autocommit=True) as db:
        results["PostgreSQL statement (SELECT 1)"] = _cost(
            roots, idle, "infra-postgres", count * 2, lambda: db.execute("SELECT 1")
        )
        db.execute("CREATE TABLE IF NOT EXISTS floor_commit (n int)")
        db.execute("INSERT INTO floor_commit VALUES (0)")

        def commit():
            with db.transaction():
                db.execute("UPDATE floor_commit SET n = n + 1")

        results["PostgreSQL commit (BEGIN; UPDATE one row; COMMIT — durable)"] = _cost(
            roots, idle, "infra-postgres", count, commit
        )
        db.execute("DROP TABLE floor_commit")
    results["broker message (produce + ack, then one fetch)"] = _broker(roots, idle, config.bootstrap, count // 4)
    return results


def _broker(roots: dict[str, int], idle: dict[str, float], servers: str, count: int) -> dict:
    topic = f"floor-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": servers})  # kept: its futures die with it
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
    producer = Producer({"bootstrap.servers": servers, "acks": "all", "linger.ms": 0})
    consumer = Consumer({"bootstrap.servers": servers, "group.id": topic, "auto.offset.reset": "earliest",
                         "fetch.wait.max.ms": 50})  # fmt: skip
    consumer.subscribe([topic])

    def message():
        producer.produce(topic, b"x" * 400)  # an envelope's size
        producer.flush(10)
        while (got := consumer.poll(5)) is None or got.error():
            pass

    message()  # the group joined, the partition assigned
    try:
        return _cost(roots, idle, "infra-broker", count, message)
    finally:
        consumer.close()


def main() -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="wallet-floor-"))
    stack = stackctl.Stack(stackctl.stack_config(data_dir, ports="free"), echo=lambda *a: print(*a, file=sys.stderr))
    stack.start()
    try:
        results = measure(stack)
    finally:
        stack.stop()
    print("| unit | server CPU ms | caller CPU ms | wall ms |\n|---|---|---|---|")
    for unit, cost in results.items():
        print(f"| {unit} | {cost['server_ms']} | {cost['caller_ms']} | {cost['wall_ms']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
