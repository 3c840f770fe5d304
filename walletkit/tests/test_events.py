"""The envelope: what is built parses back to the same thing; anything malformed is refused at the edge."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from walletkit.events import (
    PAYLOAD_FIELDS,
    Envelope,
    EventType,
    FundsReserved,
    HoldCaptured,
    InvalidEvent,
    LedgerPosted,
    envelope_build,
    envelope_parse,
    events_table_markdown,
)

WALLET_ID = uuid.uuid4()


def movement(**overrides) -> dict:
    return {
        "type": "TRANSFER",
        "amount": Decimal("12.5"),
        "currency": "USD",
        "from_wallet_id": uuid.uuid4(),
        "to_wallet_id": uuid.uuid4(),
        "owner_id": 7,
        **overrides,
    }


def wire(envelope: Envelope, **overrides) -> bytes:
    return json.dumps({**envelope.to_dict(), **overrides}).encode()


def test_build_then_parse_round_trips_every_field():
    transaction_id = uuid.uuid4()
    built = envelope_build(event_type=EventType.FUNDS_RESERVED, payload=movement(), transaction_id=transaction_id)

    parsed = envelope_parse(built.to_json())

    assert parsed == built
    assert parsed.transaction_id == str(transaction_id)
    assert parsed.payload["amount"] == "12.5000"  # Decimals travel as canonical strings
    assert uuid.UUID(parsed.event_id)


def test_each_build_gets_its_own_event_id():
    first = envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement())
    second = envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement())

    assert first.event_id != second.event_id


def test_parse_accepts_a_dict_and_text():
    built = envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement(from_wallet_id=None))

    assert envelope_parse(built.to_dict()) == built
    assert envelope_parse(built.to_json().decode()) == built


def test_build_refuses_floats_anywhere_in_the_payload():
    with pytest.raises(InvalidEvent, match="float"):
        envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement(amount=12.5))
    with pytest.raises(InvalidEvent, match="float"):
        envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement(extra={"rate": 0.1}))


def test_parse_refuses_a_float_amount():
    built = envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement())

    with pytest.raises(InvalidEvent, match="decimal string"):
        envelope_parse(wire(built, payload={**built.payload, "amount": 12.5}))


@pytest.mark.parametrize("amount", ["twelve", "NaN", "Infinity", "", "1e", None, 12])
def test_refuses_non_decimal_amounts(amount):
    built = envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement())

    with pytest.raises(InvalidEvent, match="amount"):
        envelope_parse(wire(built, payload={**built.payload, "amount": amount}))
    with pytest.raises(InvalidEvent, match="amount"):
        envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement(amount=amount))


@pytest.mark.parametrize(
    "overrides",
    [
        {"event_id": "not-a-uuid"},
        {"event_id": None},
        {"transaction_id": "1234"},
    ],
)
def test_parse_refuses_bad_envelope_uuids(overrides):
    built = envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement())

    with pytest.raises(InvalidEvent, match="UUID"):
        envelope_parse(wire(built, **overrides))


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        (EventType.WALLET_OPENED, "wallet_id"),
        (EventType.LEDGER_POSTED, "entry_id"),
        (EventType.HOLD_CAPTURED, "from_wallet_id"),
        (EventType.HOLD_CAPTURED, "to_wallet_id"),
    ],
)
def test_refuses_bad_payload_uuids(event_type, field):
    payload = {name: str(uuid.uuid4()) for name in PAYLOAD_FIELDS[event_type]} | {"amount": "1"}
    payload[field] = "not-a-uuid"

    with pytest.raises(InvalidEvent, match=f"{field} must be a UUID"):
        envelope_build(event_type=event_type, payload=payload)


def test_refuses_unknown_event_types():
    built = envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement())

    with pytest.raises(InvalidEvent, match="unknown event_type"):
        envelope_parse(wire(built, event_type="MoneyPrinted"))
    with pytest.raises(InvalidEvent, match="unknown event_type"):
        envelope_build(event_type="MoneyPrinted", payload=movement())


@pytest.mark.parametrize("event_type", list(EventType))
def test_refuses_a_payload_missing_any_required_field(event_type):
    complete = {name: str(uuid.uuid4()) for name in PAYLOAD_FIELDS[event_type]}
    complete |= {"amount": "1.0000"} if "amount" in complete else {}
    for missing in PAYLOAD_FIELDS[event_type]:
        payload = {name: value for name, value in complete.items() if name != missing}

        with pytest.raises(InvalidEvent, match=missing):
            envelope_build(event_type=event_type, payload=payload)
    assert envelope_build(event_type=event_type, payload=complete).event_type == event_type


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
    ],
)
def test_parse_refuses_what_is_not_an_envelope_object(raw, message):
    with pytest.raises(InvalidEvent, match=message):
        envelope_parse(raw)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"version": 2}, "version"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"payload": ["not", "an", "object"]}, "payload must be an object"),
    ],
)
def test_parse_refuses_bad_version_time_or_payload(overrides, message):
    built = envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement())

    with pytest.raises(InvalidEvent, match=message):
        envelope_parse(wire(built, **overrides))


def test_a_payload_class_builds_the_envelope_of_its_type_and_data_reads_it_back_typed():
    from_wallet, to_wallet = uuid.uuid4(), uuid.uuid4()
    built = envelope_build(
        payload=FundsReserved(type="TRANSFER", amount=Decimal("12.5"), currency="USD", from_wallet_id=from_wallet,
                              to_wallet_id=to_wallet, owner_id=7, to_owner_id=9),
    )  # fmt: skip

    assert built.event_type == EventType.FUNDS_RESERVED
    assert built.payload["amount"] == "12.5000"  # the wire keeps its decimal strings
    data = envelope_parse(built.to_json()).data
    assert isinstance(data, FundsReserved)
    assert (data.amount, data.from_wallet_id, data.owner_id, data.to_owner_id) == (
        Decimal("12.5"), from_wallet, 7, 9,
    )  # fmt: skip
    assert data.from_owner_id is None


def test_a_misspelt_field_fails_where_the_event_is_made():
    with pytest.raises(TypeError):
        HoldCaptured(type="DEPOSIT", amount=Decimal(1), currency="USD", from_wallet_id=None,
                     to_wallet_id=uuid.uuid4(), to_ownr_id=3)  # fmt: skip
    with pytest.raises(InvalidEvent, match="no field"):
        envelope_build(event_type=EventType.HOLD_CAPTURED, payload=movement(to_ownr_id=3))


def test_a_field_the_consumer_does_not_know_yet_is_ignored_when_parsing():
    """Producers may be upgraded before consumers: a new field must not poison an older consumer."""
    built = envelope_build(
        payload=LedgerPosted(type="DEPOSIT", amount=Decimal(1), currency="USD", from_wallet_id=None,
                             to_wallet_id=uuid.uuid4(), entry_id=uuid.uuid4()),
    )  # fmt: skip
    newer = wire(built, payload={**built.payload, "posted_by": "ledger-2"})

    assert envelope_parse(newer).data.entry_id == uuid.UUID(built.payload["entry_id"])


def test_the_internal_api_document_lists_every_event_as_the_payload_classes_define_it():
    """docs/internal-api.md's event table is the rendering of walletkit.events — regenerate it with
    ``python -c "from walletkit.events import events_table_markdown as t; print(t())"``."""
    document = (Path(__file__).resolve().parents[2] / "docs" / "internal-api.md").read_text()

    assert events_table_markdown() in document
