"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from history.models import EntryType, Status
from history.services import EntryNews, Movement, history_entries_record, payment_request_push, wallet_owner_record
from walletkit.events import Envelope, EventType, InvalidEvent
from walletkit.inbox.registry import EventHandlers, batched


def wallet_opened_handle(envelope: Envelope) -> None:
    payload = envelope.payload
    wallet_owner_record(
        wallet_id=UUID(payload["wallet_id"]), owner_id=int(payload["owner_id"]),
        currency=payload["currency"], name=payload.get("name") or "",
    )  # fmt: skip


# Every hold event means the wallet service accepted the movement, and names both sides' owners.
# SUCCESS means spendable (decision 0005): the wallet's capture, not the ledger's posting.
def _hold_made(envelope: Envelope) -> EntryNews:
    return _held_news(envelope, status=Status.RESERVED)


def _hold_captured(envelope: Envelope) -> EntryNews:
    return _held_news(envelope, status=Status.SUCCESS)


def _hold_settled_without_money(envelope: Envelope) -> EntryNews:
    """HoldReleased, or LedgerRejected (final at once; LedgerPosted waits for the capture: not handled)."""
    return _held_news(envelope, status=Status.FAILED)


def _held_news(envelope: Envelope, *, status: str) -> EntryNews:
    """A movement the wallet service holds (wallet events, and the ledger's, which follow from them)."""
    payload = envelope.payload
    movement = _movement(envelope.transaction_id, payload)
    return EntryNews(
        movement=movement, status=status, seen_at=_time(envelope.occurred_at), accepted=True,
        failure_reason=str(payload.get("reason") or "") if status == Status.FAILED else "",
        owners=_payload_owners(movement, payload),
        actor_id=int(payload["owner_id"]) if payload.get("owner_id") is not None else None,
    )  # fmt: skip


def _status_changed(envelope: Envelope) -> EntryNews:
    view = envelope.payload["transaction"]
    # transaction_service lists the acting user (the transaction's owner) first, then the receiver
    # the wallet service named when it accepted the transfer.
    user_ids = [int(user_id) for user_id in envelope.payload["user_ids"]]
    if not user_ids:
        raise InvalidEvent("a transaction status change names no user")
    status = view.get("status")
    if status not in Status.values:
        raise InvalidEvent(f"unknown transaction status {status!r}")
    movement = _movement(view.get("id") or envelope.transaction_id, view)
    # Reserved once means a hold was made, whatever came after; FAILED without it was refused.
    accepted = status in (Status.RESERVED, Status.SUCCESS) or bool(view.get("reserved_at"))
    return EntryNews(
        movement=movement, status=status, seen_at=_time(envelope.occurred_at), accepted=accepted,
        created_at=_time(view["created_at"]) if view.get("created_at") else None,
        failure_reason=str(view.get("failure_reason") or ""), owners=_accepted_owners(movement, user_ids),
        actor_id=user_ids[0], user_ids=user_ids, transaction_view=view,
    )  # fmt: skip


NEWS = {
    EventType.FUNDS_RESERVED: _hold_made,
    EventType.DEPOSIT_AUTHORIZED: _hold_made,
    EventType.HOLD_CAPTURED: _hold_captured,
    EventType.HOLD_RELEASED: _hold_settled_without_money,
    EventType.LEDGER_REJECTED: _hold_settled_without_money,
    EventType.TRANSACTION_STATUS_CHANGED: _status_changed,
}


@batched
def entries_record_handle(envelopes: list[Envelope]) -> None:
    """Every movement event, set-based: one pass over a run (all these types share this handler)."""
    history_entries_record(news=[NEWS[envelope.event_type](envelope) for envelope in envelopes])


wallet_event_handle = EventHandlers(
    {
        EventType.WALLET_OPENED: wallet_opened_handle,
        EventType.FUNDS_RESERVED: entries_record_handle,
        EventType.DEPOSIT_AUTHORIZED: entries_record_handle,
        EventType.HOLD_CAPTURED: entries_record_handle,
        EventType.HOLD_RELEASED: entries_record_handle,
    }
)
ledger_event_handle = EventHandlers({EventType.LEDGER_REJECTED: entries_record_handle})


def payment_request_changed_handle(envelope: Envelope) -> None:
    view, user_ids = envelope.payload["payment_request"], envelope.payload["user_ids"]
    if not isinstance(view, dict) or not view.get("id") or not user_ids:
        raise InvalidEvent("a payment request change without its request or its people")
    payment_request_push(user_ids=[int(user_id) for user_id in user_ids], payment_request=view)


transaction_event_handle = EventHandlers(
    {
        EventType.TRANSACTION_STATUS_CHANGED: entries_record_handle,
        EventType.PAYMENT_REQUEST_CHANGED: payment_request_changed_handle,
    }
)


def _accepted_owners(movement: Movement, user_ids: list[int]) -> dict[UUID, int]:
    """The owners an accepted transaction implies: the wallet service let the actor use the acting
    wallet, so it is theirs; a transfer's receiver only once named (a lone user id may just mean the
    receiver is not known yet — never assume it is the actor)."""
    owners = {movement.acting_wallet_id: user_ids[0]}
    if movement.type in (EntryType.TRANSFER, EntryType.REFUND) and len(user_ids) > 1:
        owners[movement.to_wallet_id] = user_ids[1]
    return owners


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


def _payload_owners(movement: Movement, payload: dict[str, Any]) -> dict[UUID, int]:
    """Hold events name each side's owner (from_owner_id, to_owner_id; the ledger passes them on).
    ``owner_id``, the acting user, owns the acting wallet of an accepted movement: the fallback."""
    owners: dict[UUID, int] = {}
    if payload.get("owner_id") is not None:
        owners[movement.acting_wallet_id] = int(payload["owner_id"])
    for wallet_id, field in ((movement.from_wallet_id, "from_owner_id"), (movement.to_wallet_id, "to_owner_id")):
        if wallet_id is not None and payload.get(field) is not None:
            owners[wallet_id] = int(payload[field])
    return owners


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value else None


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
