"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from history.models import EntryType, Status
from history.services import Movement, history_entry_record, wallet_owner_record
from walletkit.events import Envelope, EventType, InvalidEvent


def wallet_event_handle(envelope: Envelope) -> None:
    payload = envelope.payload
    if envelope.event_type == EventType.WALLET_OPENED:
        wallet_owner_record(
            wallet_id=UUID(payload["wallet_id"]), owner_id=int(payload["owner_id"]),
            currency=payload["currency"], name=payload.get("name") or "",
        )  # fmt: skip
    elif envelope.event_type in (EventType.FUNDS_RESERVED, EventType.DEPOSIT_AUTHORIZED):
        movement = _movement(envelope.transaction_id, payload)
        history_entry_record(
            movement=movement, status=Status.RESERVED, seen_at=_time(envelope.occurred_at),
            owners=_payload_owners(movement, payload),
        )  # fmt: skip
    elif envelope.event_type in (EventType.HOLD_CAPTURED, EventType.HOLD_RELEASED):
        # SUCCESS means spendable (decision 0005): the wallet's capture, not the ledger's posting.
        captured = envelope.event_type == EventType.HOLD_CAPTURED
        history_entry_record(
            movement=_movement(envelope.transaction_id, payload),
            status=Status.SUCCESS if captured else Status.FAILED, seen_at=_time(envelope.occurred_at),
            failure_reason="" if captured else str(payload.get("reason") or ""),
        )  # fmt: skip


def ledger_event_handle(envelope: Envelope) -> None:
    """Only a rejection is final here; LedgerPosted becomes SUCCESS when the wallet captures it."""
    if envelope.event_type != EventType.LEDGER_REJECTED:
        return
    history_entry_record(
        movement=_movement(envelope.transaction_id, envelope.payload), status=Status.FAILED,
        seen_at=_time(envelope.occurred_at), failure_reason=str(envelope.payload.get("reason") or ""),
    )  # fmt: skip


def transaction_event_handle(envelope: Envelope) -> None:
    if envelope.event_type != EventType.TRANSACTION_STATUS_CHANGED:
        return
    view = envelope.payload["transaction"]
    user_ids = [int(user_id) for user_id in envelope.payload["user_ids"]]
    status = view.get("status")
    if status not in Status.values:
        raise InvalidEvent(f"unknown transaction status {status!r}")
    movement = _movement(view.get("id") or envelope.transaction_id, view)
    # With a single user every side is theirs (a deposit, a withdrawal, a transfer between own wallets).
    owners = {wallet_id: user_ids[0] for wallet_id in movement.wallet_ids} if len(set(user_ids)) == 1 else {}
    history_entry_record(
        movement=movement, status=status, seen_at=_time(envelope.occurred_at),
        created_at=_time(view["created_at"]) if view.get("created_at") else None,
        failure_reason=str(view.get("failure_reason") or ""), owners=owners, user_ids=user_ids,
        transaction_view=view,
    )  # fmt: skip


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
    """FundsReserved names the sender (owner_id); DepositAuthorized the depositor, who owns the target."""
    owners: dict[UUID, int] = {}
    acting = payload.get("owner_id")
    if acting is not None:
        owners[movement.to_wallet_id if movement.type == EntryType.DEPOSIT else movement.from_wallet_id] = int(acting)
    if payload.get("to_owner_id") is not None and movement.to_wallet_id is not None:
        owners[movement.to_wallet_id] = int(payload["to_owner_id"])
    return owners


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value else None


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
