"""Scripted wallet_service and ledger_service answers for the coordinator's unit tests."""

from __future__ import annotations

from walletkit.testing.fake_service import Call, Reply


def hold_created(call: Call, *, currency: str = "USD", to_owner_id: int | None = 2) -> Reply:
    """wallet_service's 201 Hold for POST /holds (docs/internal-api.md)."""
    body = call.body
    return 201, {
        "transaction_id": body["transaction_id"],
        "status": "RESERVED",
        "type": body["type"],
        "amount": body["amount"],
        "currency": currency,
        "reason": None,
        "from_wallet_id": body["from_wallet_id"],
        "to_wallet_id": body["to_wallet_id"],
        "from_owner_id": 1 if body["from_wallet_id"] else None,
        "to_owner_id": to_owner_id,
    }


HOLD_NOT_FOUND: Reply = (404, {"code": "hold_not_found", "detail": "No hold for this transaction."})
ENTRY_NOT_FOUND: Reply = (404, {"code": "entry_not_found", "detail": "No entry for this transaction."})
