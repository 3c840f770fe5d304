"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from ledger import services
from walletkit.events import Envelope, EventType
from walletkit.inbox.registry import EventHandlers, batched

# Who the movement concerns, passed on in the ledger's events for the read model.
PASSED_THROUGH = ("owner_id", "from_owner_id", "to_owner_id")


def wallet_opened_handle(envelope: Envelope) -> None:
    services.account_open(wallet_id=UUID(envelope.payload["wallet_id"]), currency=envelope.payload["currency"])


@batched
def hold_made_handle(envelopes: list[Envelope]) -> None:
    """The wallet set money aside (or authorized a deposit): the ledger decides, posting or rejecting."""
    services.entries_post(movements=[_movement(envelope) for envelope in envelopes])


def _movement(envelope: Envelope) -> services.Movement:
    payload = envelope.payload
    return services.Movement(
        transaction_id=UUID(envelope.transaction_id),
        type=payload["type"],
        from_wallet_id=_uuid_or_none(payload["from_wallet_id"]),
        to_wallet_id=_uuid_or_none(payload["to_wallet_id"]),
        amount=Decimal(payload["amount"]),
        currency=payload["currency"],
        extra={name: payload[name] for name in PASSED_THROUGH if name in payload},
        correlation_id=envelope.correlation_id,
    )


# HoldCaptured / HoldReleased follow the ledger's own decision: nothing to do (not in the table).
wallet_event_handle = EventHandlers(
    {
        EventType.WALLET_OPENED: wallet_opened_handle,
        EventType.FUNDS_RESERVED: hold_made_handle,
        EventType.DEPOSIT_AUTHORIZED: hold_made_handle,
    }
)


def _uuid_or_none(value: str | None) -> UUID | None:
    return UUID(value) if value else None
