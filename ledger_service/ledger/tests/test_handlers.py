import uuid
from decimal import Decimal

import pytest

from ledger.handlers import wallet_event_handle
from ledger.models import Account, JournalEntry
from ledger.selectors import account_balance
from ledger.tests.conftest import events_for
from walletkit.events import EventType, Topic, envelope_build
from walletkit.kafka import producer_create
from walletkit.testing.threads import consumer_worker
from walletkit.testing.waiting import wait_until


def movement_event(event_type, *, type, amount, from_wallet_id=None, to_wallet_id=None, transaction_id=None):
    payload = {
        "type": type, "amount": amount, "currency": "EUR", "from_wallet_id": from_wallet_id,
        "to_wallet_id": to_wallet_id, "owner_id": 1, "to_owner_id": 2,
    }  # fmt: skip
    return envelope_build(event_type=event_type, payload=payload, transaction_id=transaction_id or uuid.uuid4())


@pytest.mark.django_db
def test_wallet_opened_creates_the_wallets_account_once():
    wallet_id = uuid.uuid4()
    opened = envelope_build(
        event_type=EventType.WALLET_OPENED,
        payload={"wallet_id": wallet_id, "owner_id": 1, "currency": "GBP", "name": ""},
    )
    wallet_event_handle(opened)
    wallet_event_handle(opened)
    assert list(Account.objects.filter(wallet_id=wallet_id).values_list("kind", "currency")) == [("WALLET", "GBP")]


@pytest.mark.django_db
def test_deposit_authorized_and_funds_reserved_post_entries_and_pass_owners_on():
    a, b = uuid.uuid4(), uuid.uuid4()
    wallet_event_handle(movement_event(EventType.DEPOSIT_AUTHORIZED, type="DEPOSIT", amount="20", to_wallet_id=a))
    reserved = movement_event(EventType.FUNDS_RESERVED, type="TRANSFER", amount="5", from_wallet_id=a, to_wallet_id=b)
    wallet_event_handle(reserved)
    assert (account_balance(wallet_id=a), account_balance(wallet_id=b)) == (Decimal("15"), Decimal("5"))
    [posted] = events_for(reserved.transaction_id)
    assert posted["event_type"] == "LedgerPosted"
    assert (posted["payload"]["owner_id"], posted["payload"]["to_owner_id"]) == (1, 2)


@pytest.mark.django_db
def test_hold_events_are_ignored():
    captured = movement_event(EventType.HOLD_CAPTURED, type="DEPOSIT", amount="20", to_wallet_id=uuid.uuid4())
    wallet_event_handle(captured)
    assert not JournalEntry.objects.filter(transaction_id=captured.transaction_id).exists()
    assert events_for(captured.transaction_id) == []


@pytest.mark.django_db
def test_the_consumer_posts_a_duplicated_funds_reserved_once():
    """Through the real broker and the inbox; the consumer thread commits for real.

    The journal is append-only (even TRUNCATE is refused, so no transactional test flush),
    so what this test commits uses fresh wallet ids and a currency no other test uses.
    """
    a, b, sentinel_wallet = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    deposited = movement_event(EventType.DEPOSIT_AUTHORIZED, type="DEPOSIT", amount="20", to_wallet_id=a)
    reserved = movement_event(EventType.FUNDS_RESERVED, type="TRANSFER", amount="5", from_wallet_id=a, to_wallet_id=b)
    # The same movement emitted again under a new event id: the inbox cannot catch it, the ledger must.
    reemitted = envelope_build(
        event_type=EventType.FUNDS_RESERVED, payload=reserved.payload, transaction_id=reserved.transaction_id
    )
    sentinel = movement_event(EventType.DEPOSIT_AUTHORIZED, type="DEPOSIT", amount="1", to_wallet_id=sentinel_wallet)
    producer = producer_create()
    # One key, so one partition and one order: once the sentinel is applied, everything before it was.
    for envelope in (deposited, reserved, reserved, reemitted, sentinel):
        envelope.payload["currency"] = "CHF"
        producer.produce(str(Topic.WALLET_EVENTS), key=str(a), value=envelope.to_json())
    assert producer.flush(10) == 0

    worker = consumer_worker("ledger-wallet-events")
    try:
        wait_until(lambda: account_balance(wallet_id=sentinel_wallet) == 1, timeout=45)
    finally:
        worker.stop()
    assert JournalEntry.objects.filter(transaction_id=reserved.transaction_id).count() == 1
    assert (account_balance(wallet_id=a), account_balance(wallet_id=b)) == (Decimal("15"), Decimal("5"))
    assert [e["event_type"] for e in events_for(reserved.transaction_id)] == ["LedgerPosted"]
