"""The event envelope and every event type the services exchange.

An envelope is validated when it is built (before it reaches the outbox) and when it is
parsed (before a handler sees it), so a malformed event is refused at the edge.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from walletkit.correlation import correlation_id_get


class Topic(StrEnum):
    WALLET_EVENTS = "wallet.events"
    LEDGER_EVENTS = "ledger.events"
    TRANSACTION_EVENTS = "transaction.events"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


TOPICS: tuple[str, ...] = tuple(Topic)
ALL_TOPICS: tuple[str, ...] = TOPICS + tuple(dead_letter_topic(t) for t in TOPICS)


class EventType(StrEnum):
    WALLET_OPENED = "WalletOpened"
    FUNDS_RESERVED = "FundsReserved"  # withdrawal or transfer: the sender's funds are on hold
    DEPOSIT_AUTHORIZED = "DepositAuthorized"
    HOLD_CAPTURED = "HoldCaptured"
    HOLD_RELEASED = "HoldReleased"
    LEDGER_POSTED = "LedgerPosted"
    LEDGER_REJECTED = "LedgerRejected"
    TRANSACTION_STATUS_CHANGED = "TransactionStatusChanged"
    PAYMENT_REQUEST_CHANGED = "PaymentRequestChanged"  # on transaction.events, keyed by the request id


# What each payload must carry. Amount fields must be decimal strings; id fields UUID strings.
_MOVEMENT = {"type", "amount", "currency", "from_wallet_id", "to_wallet_id"}
PAYLOAD_FIELDS: dict[EventType, set[str]] = {
    EventType.WALLET_OPENED: {"wallet_id", "owner_id", "currency", "name"},
    EventType.FUNDS_RESERVED: _MOVEMENT | {"owner_id"},
    EventType.DEPOSIT_AUTHORIZED: _MOVEMENT | {"owner_id"},
    EventType.HOLD_CAPTURED: _MOVEMENT,
    EventType.HOLD_RELEASED: _MOVEMENT | {"reason"},
    EventType.LEDGER_POSTED: _MOVEMENT | {"entry_id"},
    EventType.LEDGER_REJECTED: _MOVEMENT | {"reason"},
    EventType.TRANSACTION_STATUS_CHANGED: {"transaction", "user_ids"},
    EventType.PAYMENT_REQUEST_CHANGED: {"payment_request", "user_ids"},
}
AMOUNT_FIELDS = {"amount"}
UUID_FIELDS = {"wallet_id", "entry_id"}
NULLABLE_UUID_FIELDS = {"from_wallet_id", "to_wallet_id"}
VERSION = 1


class InvalidEvent(ValueError):
    """The bytes are not a well-formed envelope of a known event type."""


@dataclass(frozen=True)
class Envelope:
    event_id: str
    event_type: str
    version: int
    occurred_at: str
    transaction_id: str | None
    correlation_id: str | None
    payload: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def envelope_build(
    *,
    event_type: EventType,
    payload: dict[str, Any],
    transaction_id: uuid.UUID | str | None = None,
    correlation_id: str | None = None,
) -> Envelope:
    """``correlation_id``: the cause's, when one call writes the events of many causes (a consumer's
    set-based batch); otherwise the current request's or event's."""
    envelope = Envelope(
        event_id=str(uuid.uuid4()),
        event_type=str(event_type),
        version=VERSION,
        occurred_at=datetime.now(UTC).isoformat(),
        transaction_id=str(transaction_id) if transaction_id else None,
        correlation_id=correlation_id or correlation_id_get(),
        payload=_jsonable(payload),
    )
    envelope_validate(envelope.to_dict())
    return envelope


def envelope_parse(raw: bytes | str | dict) -> Envelope:
    try:
        data = raw if isinstance(raw, dict) else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    envelope_validate(data)
    return Envelope(**{name: data.get(name) for name in Envelope.__dataclass_fields__})


def envelope_validate(data: Any) -> None:
    if not isinstance(data, dict):
        raise InvalidEvent("envelope must be a JSON object")
    _check_uuid(data, "event_id")
    if data.get("transaction_id") is not None:
        _check_uuid(data, "transaction_id")
    try:
        event_type = EventType(data.get("event_type"))
    except ValueError:
        raise InvalidEvent(f"unknown event_type {data.get('event_type')!r}") from None
    if data.get("version") != VERSION:
        raise InvalidEvent(f"unsupported version {data.get('version')!r}")
    try:
        datetime.fromisoformat(data.get("occurred_at") or "")
    except (TypeError, ValueError):
        raise InvalidEvent("occurred_at must be an ISO-8601 time") from None
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise InvalidEvent("payload must be an object")
    missing = PAYLOAD_FIELDS[event_type] - payload.keys()
    if missing:
        raise InvalidEvent(f"{event_type} payload lacks {sorted(missing)}")
    for name in AMOUNT_FIELDS & payload.keys():
        _check_amount(payload, name)
    for name in UUID_FIELDS & payload.keys():
        _check_uuid(payload, name)
    for name in NULLABLE_UUID_FIELDS & payload.keys():
        if payload[name] is not None:
            _check_uuid(payload, name)


def _check_uuid(data: dict, name: str) -> None:
    try:
        uuid.UUID(str(data.get(name)))
    except ValueError:
        raise InvalidEvent(f"{name} must be a UUID") from None


def _check_amount(data: dict, name: str) -> None:
    value = data.get(name)
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a decimal string, not {type(value).__name__}")
    try:
        if not Decimal(value).is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise InvalidEvent(f"{name} is not a decimal: {value!r}") from None


def _jsonable(value: Any) -> Any:
    """Decimals become canonical strings and UUIDs strings; floats are refused outright."""
    from walletkit.money import amount_format

    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return amount_format(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        raise InvalidEvent("floats are not allowed in events; use Decimal")
    return value
