"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction."""

import logging
from datetime import datetime
from uuid import UUID

from transactions.models import Transaction, TransactionStatus, TransactionType
from transactions.services import transaction_status_advance
from walletkit.events import Envelope, EventType
from walletkit.inbox.registry import EventHandlers

logger = logging.getLogger(__name__)


def ledger_posted_handle(envelope: Envelope) -> None:
    """Only confirms the reservation (and reveals a contradiction if the transaction already FAILED):
    SUCCESS waits for the wallet's capture (decision 0005)."""
    _advance(envelope, TransactionStatus.RESERVED, posted_at=datetime.fromisoformat(envelope.occurred_at))


def ledger_rejected_handle(envelope: Envelope) -> None:
    _advance(envelope, TransactionStatus.FAILED, envelope.payload.get("reason") or "ledger_rejected")


def hold_captured_handle(envelope: Envelope) -> None:
    """SUCCESS: the money is where it should be and spendable."""
    _advance(envelope, TransactionStatus.SUCCESS)


def hold_released_handle(envelope: Envelope) -> None:
    _advance(envelope, TransactionStatus.FAILED, envelope.payload.get("reason") or "released")


ledger_event_handle = EventHandlers(
    {EventType.LEDGER_POSTED: ledger_posted_handle, EventType.LEDGER_REJECTED: ledger_rejected_handle}
)
wallet_event_handle = EventHandlers(
    {EventType.HOLD_CAPTURED: hold_captured_handle, EventType.HOLD_RELEASED: hold_released_handle}
)


def _advance(envelope: Envelope, status: str, reason: str | None = None, posted_at: datetime | None = None) -> None:
    """Idempotent: the advance is monotonic, so duplicates and late news change nothing."""
    if envelope.transaction_id is None:
        logger.warning("event without transaction id", extra={"event_id": envelope.event_id})
        return
    payload = envelope.payload
    # Wallet and ledger events carry the owner ids: the receiver is known even if the reserve reply was lost.
    two_sided = payload.get("type") in (TransactionType.TRANSFER, TransactionType.REFUND)
    receiver = payload.get("to_owner_id") if two_sided else None
    try:
        transaction_status_advance(
            transaction_id=UUID(envelope.transaction_id),
            status=status,
            reason=reason,
            currency=payload.get("currency"),
            counterparty_owner_id=int(receiver) if receiver is not None else None,
            posted_at=posted_at,
        )
    except Transaction.DoesNotExist:
        # Another coordinator's transaction, or one this database lost: nothing here to advance.
        logger.warning(
            "event for an unknown transaction",
            extra={"transaction_id": envelope.transaction_id, "event_type": envelope.event_type},
        )
