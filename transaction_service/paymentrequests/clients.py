"""Calls to wallet_service for payment requests (docs/internal-api.md). No database access here."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
from django.conf import settings

from walletkit.http import ServiceUnavailable, service_request


def wallet_get(*, wallet_id: UUID) -> dict[str, Any] | None:
    """Any wallet (with its owner_id), or None. Raises ServiceUnavailable."""
    timeout = httpx.Timeout(settings.SERVICE_HTTP_TIMEOUT, connect=min(1.0, settings.SERVICE_HTTP_TIMEOUT))
    response = service_request("GET", "wallet", f"/wallets/{wallet_id}", timeout=timeout)
    if response.status_code == 404:
        return None
    if response.status_code >= 400:
        raise ServiceUnavailable(f"wallet answered {response.status_code}: {response.text[:200]}")
    return response.json()
