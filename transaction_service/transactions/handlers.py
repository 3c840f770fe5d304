"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction."""

import logging
from uuid import UUID

from transactions.models import Transaction, TransactionStatus, TransactionType
from transactions.services import transaction_status_advance
from walletkit.events import Envelope, EventType

logger = logging.getLogger(__name__)


def ledger_event_handle(envelope: Envelope) -> None:
    """LedgerPosted → SUCCESS, LedgerRejected → FAILED(reason). Idempotent: the advance is monotonic."""
    if envelope.event_type == EventType.LEDGER_POSTED:
        status, reason = TransactionStatus.SUCCESS, None
    elif envelope.event_type == EventType.LEDGER_REJECTED:
        status, reason = TransactionStatus.FAILED, envelope.payload.get("reason") or "ledger_rejected"
    else:
        return
    if envelope.transaction_id is None:
        logger.warning("ledger event without transaction id", extra={"event_id": envelope.event_id})
        return
    payload = envelope.payload
    # The ledger passes on the wallet's owner ids: the receiver is known even if the reserve reply was lost.
    receiver = payload.get("to_owner_id") if payload.get("type") == TransactionType.TRANSFER else None
    try:
        transaction_status_advance(
            transaction_id=UUID(envelope.transaction_id),
            status=status,
            reason=reason,
            currency=payload.get("currency"),
            counterparty_owner_id=int(receiver) if receiver is not None else None,
        )
    except Transaction.DoesNotExist:
        # Another coordinator's transaction, or one this database lost: nothing here to advance.
        logger.warning(
            "ledger event for an unknown transaction",
            extra={"transaction_id": envelope.transaction_id, "event_type": envelope.event_type},
        )
