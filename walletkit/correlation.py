"""The correlation id: one id follows a request through HTTP headers, event envelopes and log lines."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

HEADER = "X-Correlation-ID"
_META_KEY = "HTTP_X_CORRELATION_ID"
_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def correlation_id_get() -> str:
    """The current id, minting one if this unit of work has none yet."""
    value = _current.get()
    if value is None:
        value = str(uuid.uuid4())
        _current.set(value)
    return value


def correlation_id_set(value: str | None) -> None:
    _current.set(value or None)


def _clean(value: str | None) -> str | None:
    # Untrusted header: keep it short and printable so it cannot forge log lines.
    if not value or len(value) > 64 or not value.replace("-", "").isalnum():
        return None
    return value


class CorrelationIdMiddleware:
    """Adopt the caller's id (or mint one) for the request and echo it in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        correlation_id_set(_clean(request.META.get(_META_KEY)))
        request.correlation_id = correlation_id_get()
        response = self.get_response(request)
        response[HEADER] = request.correlation_id
        correlation_id_set(None)
        return response
