"""Calls between services: one pooled keep-alive client per process, timeouts always."""

from __future__ import annotations

import threading

import httpx
from django.conf import settings

from walletkit.auth import service_token_issue
from walletkit.correlation import HEADER, correlation_id_get

_local = threading.local()


class ServiceUnavailable(Exception):
    """The other service did not answer in time or at all; the caller decides whether to retry."""


def _client() -> httpx.Client:
    client = getattr(_local, "client", None)
    if client is None:
        client = httpx.Client(
            timeout=httpx.Timeout(settings.SERVICE_HTTP_TIMEOUT, connect=1.0),
            limits=httpx.Limits(max_keepalive_connections=20, max_connections=50),
        )
        _local.client = client
    return client


def service_request(
    method: str, service: str, path: str, *, user_token: str | None = None, on_behalf_of: int | None = None, **kwargs
) -> httpx.Response:
    """Call ``service`` (a key of settings.SERVICE_URLS) with the caller's token or a service token."""
    token = user_token or service_token_issue(on_behalf_of=on_behalf_of)
    headers = {"Authorization": f"Bearer {token}", HEADER: correlation_id_get(), **kwargs.pop("headers", {})}
    url = settings.SERVICE_URLS[service].rstrip("/") + path
    try:
        return _client().request(method, url, headers=headers, **kwargs)
    except httpx.TransportError as exc:
        raise ServiceUnavailable(f"{service} unreachable: {type(exc).__name__}") from exc
