"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction."""

from __future__ import annotations

from uuid import UUID

from walletkit.events import Envelope, EventType
from wallets import services


def ledger_event_handle(envelope: Envelope) -> None:
    """The ledger's decision settles the hold: posted → capture, rejected → release."""
    if envelope.event_type == EventType.LEDGER_POSTED:
        services.hold_capture(transaction_id=UUID(envelope.transaction_id))
    elif envelope.event_type == EventType.LEDGER_REJECTED:
        services.hold_release(transaction_id=UUID(envelope.transaction_id), reason=envelope.payload["reason"])
