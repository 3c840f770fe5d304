"""Calls between services: one pooled keep-alive client per process, timeouts always."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from django.conf import settings

from walletkit.auth import service_token_get
from walletkit.correlation import HEADER, correlation_id_get

_lock = threading.Lock()
_shared: httpx.Client | None = None


class ServiceUnavailable(Exception):
    """The other service did not answer in time or at all; the caller decides whether to retry."""


def _client() -> httpx.Client:
    """One client per process, shared by its threads (httpx's pool is thread-safe). Not one per thread:
    request threads come and go (under Django's ASGI handler, one per request), and a per-thread client
    is built — SSL context and all, once the gateway's largest cost (docs/benchmark.md) — and its
    keep-alive connections thrown away with its thread."""
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = httpx.Client(
                    timeout=httpx.Timeout(settings.SERVICE_HTTP_TIMEOUT, connect=1.0),
                    limits=httpx.Limits(max_keepalive_connections=50, max_connections=100),
                )
    return _shared


def service_request(
    method: str, service: str, path: str, *, user_token: str | None = None, on_behalf_of: int | None = None, **kwargs
) -> httpx.Response:
    """Call ``service`` (a key of settings.SERVICE_URLS) with the caller's token or a service token
    addressed to ``service`` alone (its ``aud``)."""
    token = user_token or service_token_get(audience=service, on_behalf_of=on_behalf_of)
    headers = {"Authorization": f"Bearer {token}", HEADER: correlation_id_get(), **kwargs.pop("headers", {})}
    url = settings.SERVICE_URLS[service].rstrip("/") + path
    try:
        return _client().request(method, url, headers=headers, **kwargs)
    except httpx.TransportError as exc:
        raise ServiceUnavailable(f"{service} unreachable: {type(exc).__name__}") from exc


@contextmanager
def service_stream(
    method: str, service: str, path: str, *, user_token: str | None = None, on_behalf_of: int | None = None, **kwargs
) -> Iterator[httpx.Response]:
    """``service_request`` whose body is read as it arrives (``iter_lines``) and released on exit:
    for answers too large to hold in memory, such as a year's statement."""
    token = user_token or service_token_get(audience=service, on_behalf_of=on_behalf_of)
    headers = {"Authorization": f"Bearer {token}", HEADER: correlation_id_get(), **kwargs.pop("headers", {})}
    url = settings.SERVICE_URLS[service].rstrip("/") + path
    try:
        with _client().stream(method, url, headers=headers, **kwargs) as response:
            yield response
    except httpx.TransportError as exc:
        raise ServiceUnavailable(f"{service} unreachable: {type(exc).__name__}") from exc
