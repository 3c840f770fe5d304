"""Calls to wallet_service and ledger_service (docs/internal-api.md). No database access here.

Each call is idempotent on the transaction id on the other side, so every one may be retried.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

import httpx
from django.conf import settings

from walletkit.http import ServiceUnavailable, service_request
from walletkit.money import amount_format

logger = logging.getLogger(__name__)

RESERVE_ATTEMPTS = 3
RESERVE_BACKOFF_SECONDS = (0.1, 0.3)

# Transport failures that prove the request never reached the other side.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ReserveVerdict(StrEnum):
    RESERVED = "reserved"
    REFUSED = "refused"  # the wallet said no (422 or another 4xx)
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"  # no try reached the wallet: certainly no hold
    UNKNOWN = "unknown"  # a try may have reached the wallet (timeout, 5xx): a hold may exist


# What a refusal carries for the client besides {code, detail} (API.md "Additions"), passed on as is.
REFUSAL_FIELDS = ("available", "remaining")


@dataclass(frozen=True)
class ReserveOutcome:
    verdict: ReserveVerdict
    code: str | None = None
    detail: str | None = None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def refusal_extra(self) -> dict[str, Any]:
        return {name: self.body[name] for name in REFUSAL_FIELDS if name in self.body}


def _timeout() -> httpx.Timeout:
    return httpx.Timeout(settings.SERVICE_HTTP_TIMEOUT, connect=min(1.0, settings.SERVICE_HTTP_TIMEOUT))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reached(exc: ServiceUnavailable) -> bool:
    return not isinstance(exc.__cause__, _NOT_SENT)


def hold_reserve(
    *,
    transaction_id: UUID,
    owner_id: int,
    type: str,
    from_wallet_id: UUID | None,
    to_wallet_id: UUID | None,
    amount,
) -> ReserveOutcome:
    """POST /holds, retried on transport failures and 5xx; the wallet returns the existing hold on a retry."""
    payload = {
        "transaction_id": str(transaction_id),
        "type": type,
        "from_wallet_id": str(from_wallet_id) if from_wallet_id else None,
        "to_wallet_id": str(to_wallet_id) if to_wallet_id else None,
        "amount": amount_format(amount),
    }
    maybe_reached = False
    for attempt in range(RESERVE_ATTEMPTS):
        if attempt:
            time.sleep(RESERVE_BACKOFF_SECONDS[min(attempt - 1, len(RESERVE_BACKOFF_SECONDS) - 1)])
        try:
            response = service_request(
                "POST", "wallet", "/holds", on_behalf_of=owner_id, json=payload, timeout=_timeout()
            )
        except ServiceUnavailable as exc:
            maybe_reached = maybe_reached or _reached(exc)
            logger.warning("reserve failed", extra={"transaction_id": str(transaction_id), "error": str(exc)})
            continue
        if response.status_code >= 500:
            maybe_reached = True
            continue
        outcome = _reserve_outcome(response)
        if maybe_reached and outcome.verdict == ReserveVerdict.REFUSED:
            # An earlier try may still be on its way to the wallet (it timed out here, not there):
            # if it lands after this refusal, its hold would be stranded under a FAILED transaction.
            # Leave it open; the sweeper asks again once that try has surely ended.
            return ReserveOutcome(ReserveVerdict.UNKNOWN, code=outcome.code, detail=outcome.detail)
        return outcome
    return ReserveOutcome(ReserveVerdict.UNKNOWN if maybe_reached else ReserveVerdict.UNREACHABLE)


def _reserve_outcome(response: httpx.Response) -> ReserveOutcome:
    body = _json(response)
    code, detail = body.get("code"), body.get("detail")
    if response.status_code in (200, 201):
        return ReserveOutcome(ReserveVerdict.RESERVED, body=body)
    if response.status_code == 404:
        return ReserveOutcome(ReserveVerdict.NOT_FOUND, code="wallet_not_found", detail=detail)
    if response.status_code == 409:
        # transaction_id_conflict: some hold already carries this id, so failing here could strand it.
        # Leave it open; past HOLD_EXPIRY the sweeper finds the hold and the ledger decides.
        logger.error("wallet reports a conflicting hold", extra={"code": code, "detail": detail})
        return ReserveOutcome(ReserveVerdict.UNKNOWN, code=code, detail=detail)
    # 422 (insufficient_funds, currency_mismatch, expired), 400 (invalid_movement), 403: refused, no hold was made.
    return ReserveOutcome(ReserveVerdict.REFUSED, code=code or "wallet_rejected", detail=detail, body=body)


def hold_get(*, transaction_id: UUID) -> dict[str, Any] | None:
    """The wallet's hold for this transaction, or None if the wallet has none. Raises ServiceUnavailable."""
    response = service_request("GET", "wallet", f"/holds/{transaction_id}", timeout=_timeout())
    if response.status_code == 404:
        return None
    _raise_for_status(response, "wallet")
    return _json(response)


def hold_void(*, transaction_id: UUID, owner_id: int, type: str, amount) -> dict[str, Any]:
    """End a transaction that never reserved: the wallet's VOIDED tombstone, or the hold a reserve made
    first (the wallet's unique index on the transaction id decides between them). Raises ServiceUnavailable."""
    response = service_request(
        "POST", "wallet", f"/holds/{transaction_id}/void", on_behalf_of=owner_id,
        json={"type": type, "amount": amount_format(amount)}, timeout=_timeout(),
    )  # fmt: skip
    _raise_for_status(response, "wallet")
    return _json(response)


def entry_get(*, transaction_id: UUID) -> dict[str, Any] | None:
    """The ledger's decision ``{status: POSTED|REJECTED, reason}``, or None if it has none yet."""
    response = service_request("GET", "ledger", f"/entries/{transaction_id}", timeout=_timeout())
    if response.status_code == 404:
        return None
    _raise_for_status(response, "ledger")
    return _json(response)


def entry_expire(*, transaction_id: UUID, payload: dict[str, Any]) -> dict[str, Any]:
    """Ask the ledger to decide once: POSTED stays posted, anything else becomes REJECTED."""
    response = service_request("POST", "ledger", f"/entries/{transaction_id}/expire", json=payload, timeout=_timeout())
    _raise_for_status(response, "ledger")
    return _json(response)


def outbox_republish(*, service: str, key: UUID) -> None:
    """Ask ``service`` to send its events for this transaction again (a hop went missing)."""
    response = service_request(
        "POST", service, "/internal/outbox/republish", json={"key": str(key)}, timeout=_timeout()
    )
    _raise_for_status(response, service)


def _raise_for_status(response: httpx.Response, service: str) -> None:
    if response.status_code >= 400:
        raise ServiceUnavailable(f"{service} answered {response.status_code}: {response.text[:200]}")
