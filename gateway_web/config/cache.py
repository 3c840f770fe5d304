"""Django's Redis cache with one client, and so one connection pool, per process.

Django keeps a cache object per *context* (asgiref ``Local``, not thread-critical), and the gateway
serves each request in a fresh copy of the context (a2wsgi, config/asgi.py). With the stock backend
every request built a new client, a new pool and a new TCP connection to Redis — for the throttle
of every money request, the owner names, the token cookies. And the stock client builds a new
``redis.Redis`` for every single operation (~0.2 ms of CPU each: two per throttled request).
redis-py's pool and its client are thread-safe, so one of each per process (per location and
options, per server) is all it takes.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, RedisCacheClient] = {}


class ProcessRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._redis_by_server: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        if (client := self._redis_by_server.get(index)) is None:
            # Two first uses at once may both build one; setdefault keeps a single winner.
            pool = self._get_connection_pool(write)
            client = self._redis_by_server.setdefault(index, self._client(connection_pool=pool))
        return client


class ProcessRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ProcessRedisCacheClient

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        return _clients.get(key) or _clients.setdefault(key, self._class(self._servers, **self._options))
