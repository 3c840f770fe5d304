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

from walletkit.events import PAYLOADS, Envelope, EventType, envelope_build
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


def publish(*envelopes: Envelope) -> None:
    """Put envelopes on their topics as the services' relays would, keyed by transaction (or wallet)."""
    producer = Producer({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS, "enable.idempotence": True})
    failures: list = []
    for envelope in envelopes:
        key = envelope.transaction_id or envelope.payload["wallet_id"]
        producer.produce(
            str(PAYLOADS[EventType(envelope.event_type)].topic), key=key.encode(), value=envelope.to_json(),
            on_delivery=lambda err, _msg: err and failures.append(err),
        )  # fmt: skip
    assert producer.flush(30) == 0 and not failures, failures


@pytest.fixture
def history_consumers(transactional_db) -> Iterator[list[Worker]]:
    """Both history consumers, running for real against the session's broker."""
    workers = [consumer_worker(name) for name in settings.CONSUMERS]
    yield workers
    for worker in workers:
        worker.stop()


@pytest.fixture
def fake_wallet_service(settings) -> Iterator[FakeService]:
    """A real HTTP server standing in for wallet_service (for wallets history has not heard of yet)."""
    yield from serve_as("wallet", settings)
