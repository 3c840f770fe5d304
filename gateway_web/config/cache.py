"""Django's Redis cache with one client, and so one connection pool, per process.

Django keeps a cache object per *context* (asgiref ``Local``, not thread-critical), and the gateway
serves each request in a fresh copy of the context (a2wsgi, config/asgi.py). With the stock backend
every request built a new client, a new pool and a new TCP connection to Redis — for the throttle
of every money request, the owner names, the token cookies. redis-py's pool is thread-safe, so one
per process (per location and options) is all it takes.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, RedisCacheClient] = {}


class ProcessRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        # Two first requests at once may both build one; setdefault keeps a single winner.
        return _clients.get(key) or _clients.setdefault(key, self._class(self._servers, **self._options))
