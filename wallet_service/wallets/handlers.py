"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction."""

from __future__ import annotations

from uuid import UUID

from walletkit.events import Envelope, EventType
from walletkit.inbox.registry import EventHandlers
from wallets import services


def ledger_posted_handle(envelope: Envelope) -> None:
    services.hold_capture(transaction_id=UUID(envelope.transaction_id))


def ledger_rejected_handle(envelope: Envelope) -> None:
    services.hold_release(transaction_id=UUID(envelope.transaction_id), reason=envelope.payload["reason"])


# The ledger's decision settles the hold: posted → capture, rejected → release.
ledger_event_handle = EventHandlers(
    {EventType.LEDGER_POSTED: ledger_posted_handle, EventType.LEDGER_REJECTED: ledger_rejected_handle}
)
