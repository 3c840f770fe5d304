"""Kafka event handlers: each gets a run of envelopes, parses them and calls one set-based service
for the whole run (a run of one is the same path). Run inside the inbox transaction."""

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from transactions.models import TransactionStatus, TransactionType
from transactions.services import StatusNews, transactions_status_advance
from walletkit.events import Envelope, EventType
from walletkit.inbox.registry import EventHandlers, batched

logger = logging.getLogger(__name__)


def _ledger_posted(envelope: Envelope) -> dict[str, Any]:
    """Only confirms the reservation (and reveals a contradiction if the transaction already FAILED):
    SUCCESS waits for the wallet's capture (decision 0005)."""
    return {"status": TransactionStatus.RESERVED, "posted_at": datetime.fromisoformat(envelope.occurred_at)}


def _ledger_rejected(envelope: Envelope) -> dict[str, Any]:
    return {"status": TransactionStatus.FAILED, "reason": envelope.data.reason or "ledger_rejected"}


def _hold_captured(envelope: Envelope) -> dict[str, Any]:
    """SUCCESS: the money is where it should be and spendable."""
    return {"status": TransactionStatus.SUCCESS}


def _hold_released(envelope: Envelope) -> dict[str, Any]:
    return {"status": TransactionStatus.FAILED, "reason": envelope.data.reason or "released"}


NEWS = {
    EventType.LEDGER_POSTED: _ledger_posted,
    EventType.LEDGER_REJECTED: _ledger_rejected,
    EventType.HOLD_CAPTURED: _hold_captured,
    EventType.HOLD_RELEASED: _hold_released,
}


@batched
def saga_news_handle(envelopes: list[Envelope]) -> None:
    """Every wallet and ledger event advances its transaction: one set-based pass for a whole run
    (all four types share this handler, so a mixed batch is one run). Idempotent: the advance is
    monotonic, so duplicates and late news change nothing."""
    transactions_status_advance(news=[_news(envelope) for envelope in envelopes if _has_transaction(envelope)])


ledger_event_handle = EventHandlers(
    {EventType.LEDGER_POSTED: saga_news_handle, EventType.LEDGER_REJECTED: saga_news_handle}
)
wallet_event_handle = EventHandlers(
    {EventType.HOLD_CAPTURED: saga_news_handle, EventType.HOLD_RELEASED: saga_news_handle}
)


def _news(envelope: Envelope) -> StatusNews:
    data = envelope.data
    # Wallet and ledger events carry the owner ids: the receiver is known even if the reserve reply was lost.
    two_sided = data.type in (TransactionType.TRANSFER, TransactionType.REFUND)
    fields = NEWS[envelope.event_type](envelope) | {
        "currency": data.currency,
        "counterparty_owner_id": data.to_owner_id if two_sided else None,
    }
    return StatusNews(
        transaction_id=UUID(envelope.transaction_id), fields=fields, correlation_id=envelope.correlation_id
    )


def _has_transaction(envelope: Envelope) -> bool:
    if envelope.transaction_id is None:
        logger.warning("event without transaction id", extra={"event_id": envelope.event_id})
    return envelope.transaction_id is not None
