"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction.

History is a projection of one source (decision 0018): its entries come from TransactionStatusChanged
alone — transaction_service's status already follows decision 0005 (SUCCESS on the wallet's capture) and
the event carries the public transaction and its users. wallet.events is read for WalletOpened only (whose
wallet is whose); the loop skips every other type there by its header.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from history.models import EntryType, Status
from history.services import EntryNews, Movement, history_entries_record, payment_request_push, wallet_owner_record
from walletkit.events import Envelope, EventType, InvalidEvent, PaymentRequestChanged, TransactionStatusChanged
from walletkit.inbox.registry import EventHandlers, batched


def wallet_opened_handle(envelope: Envelope) -> None:
    opened = envelope.data
    wallet_owner_record(
        wallet_id=opened.wallet_id, owner_id=opened.owner_id, currency=opened.currency, name=opened.name or ""
    )


wallet_event_handle = EventHandlers({EventType.WALLET_OPENED: wallet_opened_handle})


def _status_news(envelope: Envelope) -> EntryNews:
    change: TransactionStatusChanged = envelope.data
    view = change.transaction
    # transaction_service lists the acting user (the transaction's owner) first, then the receiver
    # the wallet service named when it accepted the transfer (absent until then, or if it is the actor).
    user_ids = [int(user_id) for user_id in change.user_ids]
    if not user_ids:
        raise InvalidEvent("a transaction status change names no user")
    status = view.get("status")
    if status not in Status.values:
        raise InvalidEvent(f"unknown transaction status {status!r}")
    if not view.get("created_at"):
        raise InvalidEvent("a transaction status change without the transaction's created_at")
    # Reserved once means a hold was made, whatever came after; FAILED without it was refused.
    accepted = status in (Status.RESERVED, Status.SUCCESS) or bool(view.get("reserved_at"))
    return EntryNews(
        movement=_movement(view.get("id") or envelope.transaction_id, view), status=status, accepted=accepted,
        created_at=_time(view["created_at"]), failure_reason=str(view.get("failure_reason") or ""),
        user_ids=user_ids, transaction_view=view,
    )  # fmt: skip


@batched
def entries_record_handle(envelopes: list[Envelope]) -> None:
    """A run of TransactionStatusChanged, set-based: one pass over the run."""
    history_entries_record(news=[_status_news(envelope) for envelope in envelopes])


def payment_request_changed_handle(envelope: Envelope) -> None:
    change: PaymentRequestChanged = envelope.data
    view, user_ids = change.payment_request, change.user_ids
    if not isinstance(view, dict) or not view.get("id") or not user_ids:
        raise InvalidEvent("a payment request change without its request or its people")
    payment_request_push(user_ids=[int(user_id) for user_id in user_ids], payment_request=view)


transaction_event_handle = EventHandlers(
    {
        EventType.TRANSACTION_STATUS_CHANGED: entries_record_handle,
        EventType.PAYMENT_REQUEST_CHANGED: payment_request_changed_handle,
    }
)


def _movement(transaction_id: Any, fields: dict[str, Any]) -> Movement:
    if fields.get("type") not in EntryType.values:
        raise InvalidEvent(f"unknown transaction type {fields.get('type')!r}")
    try:
        amount = Decimal(str(fields["amount"]))
    except InvalidOperation:
        raise InvalidEvent(f"amount is not a decimal: {fields['amount']!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidEvent(f"amount must be positive: {fields['amount']!r}")
    movement = Movement(
        transaction_id=UUID(str(transaction_id)), type=fields["type"], amount=amount, currency=fields["currency"],
        from_wallet_id=_uuid(fields.get("from_wallet_id")), to_wallet_id=_uuid(fields.get("to_wallet_id")),
    )  # fmt: skip
    if None in movement.wallet_ids:
        raise InvalidEvent(f"{movement.type} lacks a wallet id")
    return movement


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value else None


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
