"""Kafka event handlers: each gets a run of envelopes, parses them and calls one set-based service
for the whole run (a run of one is the same path). Run inside the inbox transaction."""

from __future__ import annotations

from uuid import UUID

from ledger import services
from walletkit.events import Envelope, EventType
from walletkit.inbox.registry import EventHandlers, batched

# Who the movement concerns, passed on in the ledger's events for the read model.
PASSED_THROUGH = ("owner_id", "from_owner_id", "to_owner_id")


def wallet_opened_handle(envelope: Envelope) -> None:
    data = envelope.data
    services.account_open(wallet_id=data.wallet_id, currency=data.currency)


@batched
def hold_made_handle(envelopes: list[Envelope]) -> None:
    """The wallet set money aside (or authorized a deposit): the ledger decides, posting or rejecting."""
    services.entries_post(movements=[_movement(envelope) for envelope in envelopes])


def _movement(envelope: Envelope) -> services.Movement:
    data = envelope.data
    return services.Movement(
        transaction_id=UUID(envelope.transaction_id), type=data.type, from_wallet_id=data.from_wallet_id,
        to_wallet_id=data.to_wallet_id, amount=data.amount, currency=data.currency,
        extra={name: getattr(data, name) for name in PASSED_THROUGH if getattr(data, name) is not None},
        correlation_id=envelope.correlation_id,
    )  # fmt: skip


# HoldCaptured / HoldReleased follow the ledger's own decision: nothing to do (not in the table).
wallet_event_handle = EventHandlers(
    {
        EventType.WALLET_OPENED: wallet_opened_handle,
        EventType.FUNDS_RESERVED: hold_made_handle,
        EventType.DEPOSIT_AUTHORIZED: hold_made_handle,
    }
)
