import uuid
from decimal import Decimal

import pytest

from walletkit.events import EventType, Topic, envelope_build
from walletkit.inbox.models import InboxEvent
from walletkit.kafka import producer_create
from walletkit.testing.threads import consumer_worker
from walletkit.testing.waiting import wait_until
from wallets.handlers import ledger_event_handle
from wallets.models import Hold
from wallets.services import hold_reserve
from wallets.tests.conftest import wallet_funded


def ledger_event(event_type: EventType, hold: Hold, **extra):
    payload = {
        "type": hold.type, "amount": hold.amount, "currency": hold.currency, "from_wallet_id": hold.from_wallet_id,
        "to_wallet_id": hold.to_wallet_id,
    } | extra  # fmt: skip
    return envelope_build(event_type=event_type, payload=payload, transaction_id=hold.transaction_id)


def reserved_transfer(amount="30"):
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    hold, _ = hold_reserve(
        transaction_id=uuid.uuid4(), type="TRANSFER", from_wallet_id=sender.id, to_wallet_id=receiver.id,
        amount=Decimal(amount), acting_user_id=1,
    )  # fmt: skip
    return sender, receiver, hold


@pytest.mark.django_db
def test_ledger_posted_captures_the_hold():
    sender, receiver, hold = reserved_transfer()
    ledger_event_handle(ledger_event(EventType.LEDGER_POSTED, hold, entry_id=uuid.uuid4()))
    sender.refresh_from_db()
    receiver.refresh_from_db()
    assert (sender.balance, receiver.balance) == (Decimal("70"), Decimal("30"))
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.CAPTURED


@pytest.mark.django_db
def test_ledger_rejected_releases_the_hold_with_the_ledgers_reason():
    sender, _receiver, hold = reserved_transfer()
    ledger_event_handle(ledger_event(EventType.LEDGER_REJECTED, hold, reason="insufficient_funds"))
    sender.refresh_from_db()
    assert (sender.balance, sender.held) == (Decimal("100"), Decimal("0"))
    assert Hold.objects.get(pk=hold.pk).reason == "insufficient_funds"


@pytest.mark.django_db
def test_other_events_are_ignored():
    sender, _receiver, hold = reserved_transfer()
    ledger_event_handle(ledger_event(EventType.HOLD_CAPTURED, hold))
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.RESERVED


@pytest.mark.django_db(transaction=True)
def test_the_consumer_captures_a_hold_from_a_real_ledger_posted_message_once():
    """Through the broker and the inbox: the same message delivered twice moves the money once."""
    sender, receiver, hold = reserved_transfer()
    _, _, sentinel = reserved_transfer()
    envelope = ledger_event(EventType.LEDGER_POSTED, hold, entry_id=uuid.uuid4())
    producer = producer_create()
    # One key, so one partition and one order: once the sentinel is applied, both copies before it were seen.
    for message in (envelope, envelope, ledger_event(EventType.LEDGER_POSTED, sentinel, entry_id=uuid.uuid4())):
        producer.produce(str(Topic.LEDGER_EVENTS), key=str(hold.transaction_id), value=message.to_json())
    assert producer.flush(10) == 0

    worker = consumer_worker("wallet-ledger-events")
    try:
        wait_until(lambda: Hold.objects.get(pk=sentinel.pk).status == Hold.Status.CAPTURED, timeout=45)
    finally:
        worker.stop()
    sender.refresh_from_db()
    receiver.refresh_from_db()
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.CAPTURED
    assert (sender.balance, sender.held, receiver.balance) == (Decimal("70"), Decimal("0"), Decimal("30"))
    assert InboxEvent.objects.filter(event_id=envelope.event_id).count() == 1
