"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from ledger import services
from walletkit.events import Envelope, EventType

# Who the movement concerns, passed on in the ledger's events for the read model.
PASSED_THROUGH = ("owner_id", "from_owner_id", "to_owner_id")


def wallet_event_handle(envelope: Envelope) -> None:
    payload = envelope.payload
    if envelope.event_type == EventType.WALLET_OPENED:
        services.account_open(wallet_id=UUID(payload["wallet_id"]), currency=payload["currency"])
    elif envelope.event_type in (EventType.FUNDS_RESERVED, EventType.DEPOSIT_AUTHORIZED):
        services.entry_post(
            transaction_id=UUID(envelope.transaction_id),
            type=payload["type"],
            from_wallet_id=_uuid_or_none(payload["from_wallet_id"]),
            to_wallet_id=_uuid_or_none(payload["to_wallet_id"]),
            amount=Decimal(payload["amount"]),
            currency=payload["currency"],
            extra={name: payload[name] for name in PASSED_THROUGH if name in payload},
        )
    # HoldCaptured / HoldReleased follow the ledger's own decision: nothing to do.


def _uuid_or_none(value: str | None) -> UUID | None:
    return UUID(value) if value else None
