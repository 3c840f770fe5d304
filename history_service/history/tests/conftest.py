"""History fixtures: user tokens signed with the session's keys, event builders, a real channel-layer
listener, and the real consumer loops in threads."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer
from django.conf import settings
from rest_framework.test import APIClient

from walletkit.events import Envelope, EventType, Topic, envelope_build
from walletkit.testing import clients
from walletkit.testing.fake_service import FakeService, serve_as
from walletkit.testing.threads import Worker, consumer_worker


@pytest.fixture
def client_for() -> Callable[[int], APIClient]:
    return clients.user_client


def wallet_opened(wallet_id: uuid.UUID, owner_id: int, currency: str = "USD") -> Envelope:
    return envelope_build(
        event_type=EventType.WALLET_OPENED,
        payload={"wallet_id": wallet_id, "owner_id": owner_id, "currency": currency, "name": "main"},
    )


def movement(type_: str, amount: str, *, source=None, target=None) -> dict:
    return {"type": type_, "amount": amount, "currency": "USD", "from_wallet_id": source, "to_wallet_id": target}


def hold_owners(move: dict, *, owner_id: int | None = None, to_owner_id: int | None = None) -> dict:
    """The owner fields every wallet event carries: the acting user and each side's wallet owner."""
    if owner_id is None:
        return {}
    acting_side = "to_owner_id" if move["type"] == "DEPOSIT" else "from_owner_id"
    return {"owner_id": owner_id, "from_owner_id": None, "to_owner_id": to_owner_id, acting_side: owner_id}


def funds_reserved(transaction_id, move: dict, *, owner_id: int, to_owner_id: int | None = None) -> Envelope:
    event_type = EventType.DEPOSIT_AUTHORIZED if move["type"] == "DEPOSIT" else EventType.FUNDS_RESERVED
    return envelope_build(
        event_type=event_type, payload={**move, **hold_owners(move, owner_id=owner_id, to_owner_id=to_owner_id)},
        transaction_id=transaction_id,
    )  # fmt: skip


def ledger_posted(transaction_id, move: dict) -> Envelope:
    return envelope_build(
        event_type=EventType.LEDGER_POSTED, payload={**move, "entry_id": uuid.uuid4()}, transaction_id=transaction_id
    )


def hold_captured(transaction_id, move: dict, **owners: int | None) -> Envelope:
    return envelope_build(
        event_type=EventType.HOLD_CAPTURED, payload={**move, **hold_owners(move, **owners)},
        transaction_id=transaction_id,
    )  # fmt: skip


def hold_released(transaction_id, move: dict, reason: str = "rejected", **owners: int | None) -> Envelope:
    return envelope_build(
        event_type=EventType.HOLD_RELEASED, payload={**move, **hold_owners(move, **owners), "reason": reason},
        transaction_id=transaction_id,
    )  # fmt: skip


def ledger_rejected(transaction_id, move: dict, reason: str = "expired") -> Envelope:
    return envelope_build(
        event_type=EventType.LEDGER_REJECTED, payload={**move, "reason": reason}, transaction_id=transaction_id
    )


def status_changed(
    transaction_id, move: dict, *, status: str, user_ids: list[int], created_at: datetime | None = None,
    failure_reason: str | None = None, reserved: bool | None = None,
) -> Envelope:  # fmt: skip
    """As transaction_service emits it: ``user_ids`` lists the acting user first; ``reserved_at`` is set
    once the wallet accepted the movement (by default: when the status says so)."""
    created_at = created_at or datetime.now(UTC)
    reserved = status in ("RESERVED", "SUCCESS") if reserved is None else reserved
    view = {
        "id": str(transaction_id), **move, "status": status, "failure_reason": failure_reason,
        "created_at": created_at.isoformat(), "updated_at": (created_at + timedelta(seconds=1)).isoformat(),
        "reserved_at": (created_at + timedelta(seconds=1)).isoformat() if reserved else None, "posted_at": None,
    }  # fmt: skip
    for name in ("from_wallet_id", "to_wallet_id"):
        view[name] = str(view[name]) if view[name] else None
    return envelope_build(
        event_type=EventType.TRANSACTION_STATUS_CHANGED,
        payload={"transaction": view, "user_ids": user_ids},
        transaction_id=transaction_id,
    )


TOPIC_OF = {
    EventType.WALLET_OPENED: Topic.WALLET_EVENTS,
    EventType.FUNDS_RESERVED: Topic.WALLET_EVENTS,
    EventType.DEPOSIT_AUTHORIZED: Topic.WALLET_EVENTS,
    EventType.HOLD_CAPTURED: Topic.WALLET_EVENTS,
    EventType.HOLD_RELEASED: Topic.WALLET_EVENTS,
    EventType.LEDGER_POSTED: Topic.LEDGER_EVENTS,
    EventType.LEDGER_REJECTED: Topic.LEDGER_EVENTS,
    EventType.TRANSACTION_STATUS_CHANGED: Topic.TRANSACTION_EVENTS,
}


def publish(*envelopes: Envelope) -> None:
    """Put envelopes on their topics as the services' relays would, keyed by transaction (or wallet)."""
    producer = Producer({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS, "enable.idempotence": True})
    failures: list = []
    for envelope in envelopes:
        key = envelope.transaction_id or envelope.payload["wallet_id"]
        producer.produce(
            str(TOPIC_OF[EventType(envelope.event_type)]), key=key.encode(), value=envelope.to_json(),
            on_delivery=lambda err, _msg: err and failures.append(err),
        )  # fmt: skip
    assert producer.flush(30) == 0 and not failures, failures


@pytest.fixture
def history_consumers(transactional_db) -> Iterator[list[Worker]]:
    """The three history consumers, running for real against the session's broker."""
    workers = [consumer_worker(name) for name in settings.CONSUMERS]
    yield workers
    for worker in workers:
        worker.stop()


@pytest.fixture
def fake_wallet_service(settings) -> Iterator[FakeService]:
    """A real HTTP server standing in for wallet_service (for wallets history has not heard of yet)."""
    yield from serve_as("wallet", settings)
