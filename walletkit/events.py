"""The event envelope and every event type the services exchange.

An envelope is validated when it is built (before it reaches the outbox) and when it is
parsed (before a handler sees it), so a malformed event is refused at the edge.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar

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


# --- payloads: one dataclass per event type -----------------------------------------------------
# Producers build these (a misspelt field is a TypeError where the event is made) and consumers read
# ``Envelope.data`` (a misspelt attribute is an AttributeError in the handler's tests). On the wire
# amounts are decimal strings and ids UUID strings; ``data`` gives them back as Decimal and UUID.
# docs/internal-api.md's event table is rendered from these classes (``events_table_markdown``).


@dataclass(frozen=True, kw_only=True)
class Payload:
    """What an event says, by its type; the fields without a default must be present."""

    event_type: ClassVar[EventType]
    topic: ClassVar[Topic]

    def to_payload(self) -> dict[str, Any]:
        """The wire's fields; an optional field left None is left out (as producers always did)."""
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.default is MISSING or getattr(self, item.name) is not None
        }

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> Payload:
        """From a validated envelope's payload; fields this version does not know are ignored (a newer
        producer may add some), so consumers can be upgraded after producers."""
        known = {item.name for item in fields(cls)}
        return cls(**{name: _from_wire(name, value) for name, value in payload.items() if name in known})


@dataclass(frozen=True, kw_only=True)
class WalletOpened(Payload):
    event_type = EventType.WALLET_OPENED
    topic = Topic.WALLET_EVENTS
    wallet_id: uuid.UUID
    owner_id: int
    currency: str
    name: str


@dataclass(frozen=True, kw_only=True)
class Movement(Payload):
    """The movement every hold and ledger event describes, and the owners of its wallets as the
    wallet service knows them (the ledger passes them on): ``owner_id`` is the acting user."""

    type: str
    amount: Decimal
    currency: str | None
    from_wallet_id: uuid.UUID | None
    to_wallet_id: uuid.UUID | None
    owner_id: int | None = None
    from_owner_id: int | None = None
    to_owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class FundsReserved(Movement):
    """A withdrawal, transfer or refund: the sender's funds are on hold."""

    event_type = EventType.FUNDS_RESERVED
    topic = Topic.WALLET_EVENTS
    owner_id: int = field()  # required here (field(): no default inherited from Movement)


@dataclass(frozen=True, kw_only=True)
class DepositAuthorized(Movement):
    event_type = EventType.DEPOSIT_AUTHORIZED
    topic = Topic.WALLET_EVENTS
    owner_id: int = field()  # required here (field(): no default inherited from Movement)


@dataclass(frozen=True, kw_only=True)
class HoldCaptured(Movement):
    event_type = EventType.HOLD_CAPTURED
    topic = Topic.WALLET_EVENTS


@dataclass(frozen=True, kw_only=True)
class HoldReleased(Movement):
    event_type = EventType.HOLD_RELEASED
    topic = Topic.WALLET_EVENTS
    reason: str


@dataclass(frozen=True, kw_only=True)
class LedgerPosted(Movement):
    event_type = EventType.LEDGER_POSTED
    topic = Topic.LEDGER_EVENTS
    entry_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class LedgerRejected(Movement):
    """The owner ids only when the wallet event carried them (a sweeper's expire has none)."""

    event_type = EventType.LEDGER_REJECTED
    topic = Topic.LEDGER_EVENTS
    reason: str


@dataclass(frozen=True, kw_only=True)
class TransactionStatusChanged(Payload):
    """``transaction``: the public transaction shape; ``user_ids``: every user with a side, the actor first."""

    event_type = EventType.TRANSACTION_STATUS_CHANGED
    topic = Topic.TRANSACTION_EVENTS
    transaction: dict[str, Any]
    user_ids: list[int]


@dataclass(frozen=True, kw_only=True)
class PaymentRequestChanged(Payload):
    """Keyed by the request id; ``user_ids``: requester, payer."""

    event_type = EventType.PAYMENT_REQUEST_CHANGED
    topic = Topic.TRANSACTION_EVENTS
    payment_request: dict[str, Any]
    user_ids: list[int]


PAYLOADS: dict[EventType, type[Payload]] = {
    cls.event_type: cls
    for cls in (
        WalletOpened, FundsReserved, DepositAuthorized, HoldCaptured, HoldReleased, LedgerPosted, LedgerRejected,
        TransactionStatusChanged, PaymentRequestChanged,
    )
}  # fmt: skip
PAYLOAD_FIELDS: dict[EventType, set[str]] = {  # the fields each payload must carry
    event_type: {item.name for item in fields(cls) if item.default is MISSING} for event_type, cls in PAYLOADS.items()
}
_ALLOWED_FIELDS = {event_type: {item.name for item in fields(cls)} for event_type, cls in PAYLOADS.items()}
AMOUNT_FIELDS = {"amount"}
UUID_FIELDS = {"wallet_id", "entry_id"}
NULLABLE_UUID_FIELDS = {"from_wallet_id", "to_wallet_id"}
_INT_FIELDS = {"owner_id", "from_owner_id", "to_owner_id"}


def _from_wire(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in AMOUNT_FIELDS:
        return Decimal(value)
    if name in UUID_FIELDS | NULLABLE_UUID_FIELDS:
        return uuid.UUID(str(value))
    if name in _INT_FIELDS:
        return int(value)
    return value


def events_table_markdown() -> str:
    """docs/internal-api.md's table of events, rendered from the payload classes (a test keeps the
    document equal to it). Optional fields are marked ``?``."""
    rows = ["| topic | event | payload |", "|---|---|---|"]
    for event_type, cls in PAYLOADS.items():
        names = [item.name + ("" if item.default is MISSING else "?") for item in fields(cls)]
        own_doc = cls.__doc__ and not cls.__doc__.startswith(f"{cls.__name__}(")  # not dataclass's signature
        note = f" — {' '.join(cls.__doc__.split())}" if own_doc else ""
        rows.append(f"| {cls.topic} | {event_type} | {', '.join(names)}{note} |")
    return "\n".join(rows)


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

    @property
    def data(self) -> Payload:
        """The payload as its event type's class (Decimal amounts, UUID ids)."""
        return PAYLOADS[EventType(self.event_type)].parse(self.payload)


def envelope_build(
    *,
    payload: Payload | dict[str, Any],
    event_type: EventType | None = None,
    transaction_id: uuid.UUID | str | None = None,
    correlation_id: str | None = None,
) -> Envelope:
    """An envelope around ``payload`` — a Payload (its class names the event type), or a dict with
    ``event_type`` (for tests that build malformed or raw events). A field the event type does not
    define is refused: a misspelling fails where the event is made.

    ``correlation_id``: the cause's, when one call writes the events of many causes (a consumer's
    set-based batch); otherwise the current request's or event's."""
    if isinstance(payload, Payload):
        event_type, payload = payload.event_type, payload.to_payload()
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
    unknown = envelope.payload.keys() - _ALLOWED_FIELDS[EventType(event_type)]
    if unknown:
        raise InvalidEvent(f"{event_type} has no field {sorted(unknown)}")
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
