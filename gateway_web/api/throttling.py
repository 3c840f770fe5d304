"""Rate limits per scope, backed by the shared Redis cache so every gateway process counts together.

The API views and the page forms use the same throttle and so the same counters: a user's money
movements count once per user whichever door they come through, sign-up and login once per
client address (``api.addresses.client_address``).
"""

from __future__ import annotations

from types import SimpleNamespace

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import ScopedRateThrottle

from api.addresses import client_address


class ScopedThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, but the rate is read from settings.THROTTLE_RATES on each request
    (DRF freezes its rates at import time, which would ignore a benchmark's or a test's setting),
    and an anonymous caller is known by the address a trusted proxy vouches for — DRF's own
    ``get_ident`` takes the raw ``X-Forwarded-For`` from anyone."""

    def get_rate(self):
        return settings.THROTTLE_RATES.get(self.scope)

    def get_ident(self, request) -> str:
        return client_address(request)


def throttle_wait(request: HttpRequest, *, scope: str) -> float | None:
    """Counts this request in ``scope``; the seconds to wait if it is over the rate, else None.
    For callers that are not DRF views (the page forms)."""
    throttle = ScopedThrottle()
    if throttle.allow_request(request, SimpleNamespace(throttle_scope=scope)):
        return None
    return throttle.wait() or 1.0
