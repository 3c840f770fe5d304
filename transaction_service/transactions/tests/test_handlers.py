from __future__ import annotations

import uuid

import pytest

from transactions.handlers import ledger_event_handle, wallet_event_handle
from transactions.models import Transaction, TransactionAnomaly
from transactions.tests.factories import TransactionFactory
from walletkit.events import EventType, Topic, envelope_build
from walletkit.kafka import producer_create
from walletkit.outbox.models import OutboxEvent
from walletkit.testing.threads import consumer_worker
from walletkit.testing.waiting import wait_until

pytestmark = pytest.mark.django_db


def ledger_event(tx, event_type: EventType, **extra):
    payload = {
        "type": tx.type,
        "amount": "10.0000",
        "currency": "EUR",
        "from_wallet_id": str(tx.from_wallet_id),
        "to_wallet_id": str(tx.to_wallet_id),
    }
    if event_type == EventType.LEDGER_POSTED:
        payload["entry_id"] = str(uuid.uuid4())
    return envelope_build(event_type=event_type, payload=payload | extra, transaction_id=tx.id)


def wallet_event(tx, event_type: EventType, **extra):
    payload = {
        "type": tx.type,
        "amount": "10.0000",
        "currency": "EUR",
        "from_wallet_id": str(tx.from_wallet_id),
        "to_wallet_id": str(tx.to_wallet_id),
    }
    if event_type == EventType.HOLD_RELEASED:
        payload["reason"] = "insufficient_funds"
    return envelope_build(event_type=event_type, payload=payload | extra, transaction_id=tx.id)


def test_ledger_posted_only_confirms_the_reservation_and_fills_the_currency():
    tx = TransactionFactory(status="INITIATED", currency=None)

    ledger_event_handle(ledger_event(tx, EventType.LEDGER_POSTED))

    tx.refresh_from_db()
    assert (tx.status, tx.currency) == ("RESERVED", "EUR")  # SUCCESS waits for the wallet's capture


def test_the_timeline_records_when_it_was_reserved_and_when_the_ledger_posted_it():
    tx = TransactionFactory(status="INITIATED")
    posted = ledger_event(tx, EventType.LEDGER_POSTED)

    ledger_event_handle(posted)
    ledger_event_handle(ledger_event(tx, EventType.LEDGER_POSTED))  # a later copy keeps the first time

    tx.refresh_from_db()
    assert tx.posted_at.isoformat() == posted.occurred_at
    assert tx.reserved_at is not None and tx.reserved_at >= tx.created_at


def test_hold_captured_makes_it_success():
    tx = TransactionFactory(status="RESERVED")

    wallet_event_handle(wallet_event(tx, EventType.HOLD_CAPTURED))

    tx.refresh_from_db()
    assert tx.status == "SUCCESS"


def test_hold_released_fails_it_with_the_wallets_reason():
    tx = TransactionFactory(status="RESERVED")

    wallet_event_handle(wallet_event(tx, EventType.HOLD_RELEASED))

    tx.refresh_from_db()
    assert (tx.status, tx.failure_reason) == ("FAILED", "insufficient_funds")


def test_a_duplicate_hold_captured_changes_nothing():
    tx = TransactionFactory(status="RESERVED")

    wallet_event_handle(wallet_event(tx, EventType.HOLD_CAPTURED))
    wallet_event_handle(wallet_event(tx, EventType.HOLD_CAPTURED))  # a second copy with a new event id

    assert OutboxEvent.objects.filter(key=str(tx.id)).count() == 1
    assert not TransactionAnomaly.objects.exists()


def test_hold_captured_for_a_failed_transaction_is_an_anomaly():
    tx = TransactionFactory(status="FAILED", failure_reason="expired")

    wallet_event_handle(wallet_event(tx, EventType.HOLD_CAPTURED))

    tx.refresh_from_db()
    assert tx.status == "FAILED"
    assert TransactionAnomaly.objects.get().kind == "success_after_failed"


def test_ledger_posted_first_still_tells_us_the_receiver():
    tx = TransactionFactory(status="INITIATED", counterparty_owner_id=None)

    ledger_event_handle(ledger_event(tx, EventType.LEDGER_POSTED, owner_id=1, from_owner_id=1, to_owner_id=9))

    tx.refresh_from_db()
    assert (tx.status, tx.counterparty_owner_id) == ("RESERVED", 9)
    assert OutboxEvent.objects.get(key=str(tx.id)).envelope["payload"]["user_ids"] == [1, 9]


def test_ledger_rejected_fails_it_with_the_ledgers_reason():
    tx = TransactionFactory(status="RESERVED")

    ledger_event_handle(ledger_event(tx, EventType.LEDGER_REJECTED, reason="expired"))

    tx.refresh_from_db()
    assert (tx.status, tx.failure_reason) == ("FAILED", "expired")


def test_a_duplicate_ledger_posted_changes_nothing():
    tx = TransactionFactory(status="INITIATED")
    event = ledger_event(tx, EventType.LEDGER_POSTED)

    ledger_event_handle(event)
    ledger_event_handle(ledger_event(tx, EventType.LEDGER_POSTED))  # a second copy with a new event id

    assert OutboxEvent.objects.filter(key=str(tx.id)).count() == 1
    assert not TransactionAnomaly.objects.exists()


def test_ledger_posted_for_a_failed_transaction_is_an_anomaly():
    tx = TransactionFactory(status="FAILED", failure_reason="expired")

    ledger_event_handle(ledger_event(tx, EventType.LEDGER_POSTED))

    tx.refresh_from_db()
    assert tx.status == "FAILED"
    assert TransactionAnomaly.objects.get().kind == "reserved_after_failed"


def test_an_event_for_an_unknown_transaction_is_ignored():
    stranger = Transaction(id=uuid.uuid4(), type="TRANSFER", from_wallet_id=uuid.uuid4(), to_wallet_id=uuid.uuid4())

    ledger_event_handle(ledger_event(stranger, EventType.LEDGER_POSTED))

    assert not Transaction.objects.exists()
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_registered_consumer_applies_hold_captured_from_the_broker():
    tx = TransactionFactory(status="RESERVED")
    envelope = wallet_event(tx, EventType.HOLD_CAPTURED)
    producer = producer_create()
    producer.produce(str(Topic.WALLET_EVENTS), key=str(tx.id), value=envelope.to_json())
    assert producer.flush(10) == 0
    worker = consumer_worker("transaction-wallet-events")
    try:
        wait_until(lambda: Transaction.objects.get(id=tx.id).status == "SUCCESS", timeout=30, message="SUCCESS")
    finally:
        worker.stop()
