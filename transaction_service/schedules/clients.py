"""Calls to wallet_service for schedules (docs/internal-api.md). No database access here."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
from django.conf import settings

from transactions.clients import RESERVE_ATTEMPTS  # noqa: F401 (the saga's tries bound a run's lease)
from walletkit.http import ServiceUnavailable, service_request


def own_wallet_get(*, wallet_id: UUID, user_token: str) -> dict[str, Any] | None:
    """The wallet if it is the token's user's, else None. Asked with the user's own token, so the wallet
    service decides ownership as for any of the user's calls. Raises ServiceUnavailable."""
    timeout = httpx.Timeout(settings.SERVICE_HTTP_TIMEOUT, connect=min(1.0, settings.SERVICE_HTTP_TIMEOUT))
    response = service_request("GET", "wallet", f"/wallets/{wallet_id}", user_token=user_token, timeout=timeout)
    if response.status_code == 404:
        return None
    if response.status_code >= 400:
        raise ServiceUnavailable(f"wallet answered {response.status_code}: {response.text[:200]}")
    return response.json()
