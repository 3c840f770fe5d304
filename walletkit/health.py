"""/healthz: the process answers. /readyz: its database and the broker answer too."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

_broker_checked_at = 0.0
_broker_ok = False
_lock = threading.Lock()
BROKER_CHECK_TTL = 2.0  # readiness probes come often; asking the broker each time is wasteful


def healthz(request):
    return JsonResponse({"status": "ok", "service": settings.SERVICE_NAME})


def database_ready() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        connection.close()
        return False


def broker_ready() -> bool:
    global _broker_checked_at, _broker_ok
    with _lock:
        if time.monotonic() - _broker_checked_at < BROKER_CHECK_TTL:
            return _broker_ok
        from walletkit.kafka import admin_create

        try:
            metadata = admin_create().list_topics(timeout=2)
            _broker_ok = bool(metadata.brokers)
        except Exception:
            _broker_ok = False
        _broker_checked_at = time.monotonic()
        return _broker_ok


def readyz(request):
    checks = {"database": database_ready(), "broker": broker_ready()}
    ready = all(checks.values())
    return JsonResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
