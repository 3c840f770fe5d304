"""The gateway serves every request in a copy of the event loop's context (a2wsgi, config/asgi.py),
which holds no cache object: each request starts as if in a new, empty context."""

from __future__ import annotations

import contextvars

import redis
from django.conf import settings

from api.tests.test_apis import DEPOSIT, TRANSACTION


def test_requests_served_in_fresh_contexts_share_one_redis_connection(authed, downstream):
    """Django keeps its cache object per context: with the stock backend every throttled request
    opened a new Redis connection (20 deposits → 20 connections). One process-wide client, one pool."""
    stats = redis.Redis.from_url(settings.REDIS_URL)
    downstream.answer("POST", "/transactions", 202, TRANSACTION)

    def deposit(n: int):
        return contextvars.Context().run(
            authed.post, DEPOSIT, {"amount": "1"}, format="json", HTTP_IDEMPOTENCY_KEY=f"k{n}"
        )

    deposit(0)  # the process's client and its pool are made once
    before = stats.info("stats")["total_connections_received"]
    assert [deposit(n).status_code for n in range(1, 21)] == [202] * 20  # each one throttled in Redis
    assert stats.info("stats")["total_connections_received"] - before == 0


def test_the_cache_reuses_one_redis_client_per_server_not_one_per_operation():
    """The stock client built a redis.Redis (~0.2 ms of CPU) for every get and set."""
    from django.core.cache import caches

    client = caches["default"]._cache
    assert client.get_client("a") is client.get_client("b", write=True)
