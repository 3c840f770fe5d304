"""Rate limits per scope, backed by the shared Redis cache so every gateway process counts together.

The API views and the page forms use the same throttle and so the same counters: a user's money
movements count once per user whichever door they come through, sign-up and login once per
client address (``api.addresses.client_address``).
"""

from __future__ import annotations

import hashlib
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


class _KeyedThrottle(ScopedThrottle):
    """Counts under a key the caller names (an account), not the caller's address or user."""

    def __init__(self, ident: str):
        super().__init__()
        self.ident = ident

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def throttle_wait(request: HttpRequest, *, scope: str, ident: str | None = None) -> float | None:
    """Counts this request in ``scope`` — per user or client address, or per ``ident`` when given;
    the seconds to wait if it is over the rate, else None. For callers that are not DRF views (the
    page forms), and for a second count inside a view."""
    throttle = ScopedThrottle() if ident is None else _KeyedThrottle(ident)
    if throttle.allow_request(request, SimpleNamespace(throttle_scope=scope)):
        return None
    return throttle.wait() or 1.0


def password_reset_throttle_wait(request: HttpRequest, *, email: str) -> float | None:
    """Reset mails asked for, counted per client address and per email address (so rotating
    addresses cannot flood one inbox). The email counts whether or not it has an account, so a 429
    tells nothing about accounts; it is hashed so that the cache holds no addresses."""
    if (wait := throttle_wait(request, scope="password_reset")) is not None:
        return wait
    account = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    return throttle_wait(request, scope="password_reset", ident=f"email:{account}")
