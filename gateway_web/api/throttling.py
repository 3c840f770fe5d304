"""Rate limits per scope, backed by the shared Redis cache so every gateway process counts together."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle


class ScopedThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, but the rate is read from settings.THROTTLE_RATES on each request
    (DRF freezes its rates at import time, which would ignore a benchmark's or a test's setting)."""

    def get_rate(self):
        return settings.THROTTLE_RATES.get(self.scope)
