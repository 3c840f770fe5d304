"""The read model built from events: both sides of a transfer, idempotence, any arrival order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from history.handlers import ledger_event_handle, transaction_event_handle, wallet_event_handle
from history.models import HistoryEntry
from history.tests.conftest import (
    funds_reserved,
    hold_captured,
    hold_released,
    ledger_posted,
    ledger_rejected,
    movement,
    status_changed,
    wallet_opened,
)
from walletkit.events import EventType, InvalidEvent

pytestmark = pytest.mark.django_db

HANDLER_OF = {
    EventType.WALLET_OPENED: wallet_event_handle,
    EventType.FUNDS_RESERVED: wallet_event_handle,
    EventType.DEPOSIT_AUTHORIZED: wallet_event_handle,
    EventType.HOLD_CAPTURED: wallet_event_handle,
    EventType.HOLD_RELEASED: wallet_event_handle,
    EventType.LEDGER_POSTED: ledger_event_handle,
    EventType.LEDGER_REJECTED: ledger_event_handle,
    EventType.TRANSACTION_STATUS_CHANGED: transaction_event_handle,
}


def apply(*envelopes) -> None:
    for envelope in envelopes:
        HANDLER_OF[EventType(envelope.event_type)](envelope)


def entries_of(transaction_id) -> dict:
    return {entry.wallet_id: entry for entry in HistoryEntry.objects.filter(transaction_id=transaction_id)}


def test_transfer_gives_the_sender_a_debit_and_the_receiver_a_credit():
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "30.0000", source=alice_wallet, target=bob_wallet)
    apply(
        wallet_opened(alice_wallet, 1), wallet_opened(bob_wallet, 2),
        funds_reserved(tx, move, owner_id=1), hold_captured(tx, move),
        status_changed(tx, move, status="SUCCESS", user_ids=[1, 2]),
    )  # fmt: skip

    entries = entries_of(tx)
    assert len(entries) == 2
    debit, credit = entries[alice_wallet], entries[bob_wallet]
    assert (debit.direction, debit.owner_id, debit.counterparty_wallet_id) == ("DEBIT", 1, bob_wallet)
    assert (credit.direction, credit.owner_id, credit.counterparty_wallet_id) == ("CREDIT", 2, alice_wallet)
    assert {debit.status, credit.status} == {"SUCCESS"}
    assert debit.amount == credit.amount == Decimal("30.0000")


def test_refund_is_a_debit_for_the_refunder_and_a_credit_for_the_original_sender():
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("REFUND", "12.0000", source=bob_wallet, target=alice_wallet)
    apply(
        wallet_opened(alice_wallet, 1), wallet_opened(bob_wallet, 2),
        funds_reserved(tx, move, owner_id=2), hold_captured(tx, move),
        status_changed(tx, move, status="SUCCESS", user_ids=[2, 1]),
    )  # fmt: skip

    entries = entries_of(tx)
    debit, credit = entries[bob_wallet], entries[alice_wallet]
    assert (debit.type, debit.direction, debit.owner_id) == ("REFUND", "DEBIT", 2)
    assert (credit.type, credit.direction, credit.owner_id) == ("REFUND", "CREDIT", 1)
    assert {debit.status, credit.status} == {"SUCCESS"}


def test_deposit_is_a_credit_and_withdrawal_a_debit():
    wallet, deposit, withdrawal = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    deposit_move = movement("DEPOSIT", "100.0000", target=wallet)
    withdrawal_move = movement("WITHDRAWAL", "40.0000", source=wallet)
    apply(
        wallet_opened(wallet, 5),
        funds_reserved(deposit, deposit_move, owner_id=5), hold_captured(deposit, deposit_move),
        funds_reserved(withdrawal, withdrawal_move, owner_id=5),
        ledger_rejected(withdrawal, withdrawal_move, reason="insufficient funds at posting"),
    )  # fmt: skip

    [credit] = entries_of(deposit).values()
    [debit] = entries_of(withdrawal).values()
    assert (credit.direction, credit.status, credit.counterparty_wallet_id) == ("CREDIT", "SUCCESS", None)
    assert (debit.direction, debit.status, debit.failure_reason) == ("DEBIT", "FAILED", "insufficient funds at posting")
    assert credit.owner_id == debit.owner_id == 5


def test_the_same_events_twice_add_no_rows_and_keep_the_status():
    source, target, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "1.5000", source=source, target=target)
    events = [
        funds_reserved(tx, move, owner_id=1), hold_captured(tx, move),
        status_changed(tx, move, status="SUCCESS", user_ids=[1, 2]),
    ]  # fmt: skip

    apply(*events)
    apply(*events)

    assert HistoryEntry.objects.filter(transaction_id=tx).count() == 2
    assert {entry.status for entry in entries_of(tx).values()} == {"SUCCESS"}


def test_success_before_reserved_ends_success_and_a_final_status_never_moves():
    source, target, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "9.0000", source=source, target=target)

    apply(hold_captured(tx, move))
    apply(
        funds_reserved(tx, move, owner_id=1),
        status_changed(tx, move, status="RESERVED", user_ids=[1, 2]),
        status_changed(tx, move, status="INITIATED", user_ids=[1, 2]),
        ledger_rejected(tx, move),
        status_changed(tx, move, status="FAILED", user_ids=[1, 2], failure_reason="late"),
    )  # fmt: skip

    entries = entries_of(tx)
    assert {entry.status for entry in entries.values()} == {"SUCCESS"}
    assert {entry.failure_reason for entry in entries.values()} == {""}


def test_failure_reason_comes_with_the_failed_status():
    wallet, tx = uuid.uuid4(), uuid.uuid4()
    move = movement("WITHDRAWAL", "3.0000", source=wallet)

    apply(
        status_changed(tx, move, status="RESERVED", user_ids=[4]),
        status_changed(tx, move, status="FAILED", user_ids=[4], failure_reason="hold expired"),
    )

    [entry] = entries_of(tx).values()
    assert (entry.status, entry.failure_reason, entry.owner_id) == ("FAILED", "hold expired", 4)


def test_entries_seen_before_wallet_opened_are_claimed_by_the_owner_when_it_arrives():
    source, target, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "2.0000", source=source, target=target)
    apply(hold_captured(tx, move))  # an event that names no owner
    assert {entry.owner_id for entry in entries_of(tx).values()} == {None}
    before = {wallet: entry.updated_at for wallet, entry in entries_of(tx).items()}

    apply(wallet_opened(target, 12), wallet_opened(source, 11))

    entries = entries_of(tx)
    assert (entries[source].owner_id, entries[target].owner_id) == (11, 12)
    assert all(entries[wallet].updated_at > before[wallet] for wallet in entries)
    assert {entry.status for entry in entries.values()} == {"SUCCESS"}


def test_the_transaction_created_at_becomes_occurred_at():
    wallet, tx = uuid.uuid4(), uuid.uuid4()
    move = movement("DEPOSIT", "5.0000", target=wallet)
    created_at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    apply(funds_reserved(tx, move, owner_id=3))
    apply(status_changed(tx, move, status="RESERVED", user_ids=[3], created_at=created_at))

    [entry] = entries_of(tx).values()
    assert entry.occurred_at == created_at
    assert entry.occurred_at < entry.updated_at - timedelta(days=1)


def test_an_event_of_unknown_type_is_refused_and_writes_nothing():
    tx = uuid.uuid4()
    move = movement("REFUND", "5.0000", target=uuid.uuid4())

    with pytest.raises(InvalidEvent):
        apply(status_changed(tx, move, status="SUCCESS", user_ids=[3]))

    assert not HistoryEntry.objects.filter(transaction_id=tx).exists()


def test_a_transaction_refused_before_reservation_without_currency_takes_the_wallets():
    source, target, tx, early_tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = {**movement("TRANSFER", "30.0000", source=source, target=target), "currency": None}
    apply(status_changed(early_tx, move, status="FAILED", user_ids=[61, 62], failure_reason="insufficient_funds"))
    apply(wallet_opened(source, 61, currency="EUR"))
    apply(status_changed(tx, move, status="FAILED", user_ids=[61, 62], failure_reason="insufficient_funds"))

    assert {entry.currency for entry in entries_of(early_tx).values()} == {"EUR"}
    assert {entry.currency for entry in entries_of(tx).values()} == {"EUR"}
    assert {entry.status for entry in entries_of(tx).values()} == {"FAILED"}


def test_success_waits_for_the_wallets_capture_not_the_ledgers_posting():
    wallet, captured_tx, released_tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("WITHDRAWAL", "8.0000", source=wallet)
    apply(funds_reserved(captured_tx, move, owner_id=7), ledger_posted(captured_tx, move))
    assert {entry.status for entry in entries_of(captured_tx).values()} == {"RESERVED"}

    apply(hold_captured(captured_tx, move))
    apply(funds_reserved(released_tx, move, owner_id=7), hold_released(released_tx, move, reason="expired"))

    assert {entry.status for entry in entries_of(captured_tx).values()} == {"SUCCESS"}
    [released] = entries_of(released_tx).values()
    assert (released.status, released.failure_reason) == ("FAILED", "expired")


# --- privacy: a wallet's entry belongs to its owner only once the wallet service accepted the movement ---

ALICE, BOB, MALLORY = 1, 2, 3


def owners_of(transaction_id) -> dict:
    return {wallet_id: entry.owner_id for wallet_id, entry in entries_of(transaction_id).items()}


@pytest.mark.parametrize("bobs_wallet_known", [True, False], ids=["wallet-opened-first", "wallet-opened-late"])
@pytest.mark.parametrize("type_", ["WITHDRAWAL", "TRANSFER"])
def test_a_refused_attempt_on_someone_elses_wallet_shows_in_nobodys_history(bobs_wallet_known, type_):
    bob_wallet, mallory_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    target = mallory_wallet if type_ == "TRANSFER" else None
    move = {**movement(type_, "5.0000", source=bob_wallet, target=target), "currency": None}
    opened = [wallet_opened(bob_wallet, BOB), wallet_opened(mallory_wallet, MALLORY)]
    attempt = [
        status_changed(tx, move, status="INITIATED", user_ids=[MALLORY]),
        status_changed(tx, move, status="FAILED", user_ids=[MALLORY], failure_reason="wallet_not_found"),
    ]  # fmt: skip

    apply(*(opened + attempt if bobs_wallet_known else attempt + opened))

    # Not Bob's (he did nothing), not Mallory's (/activity is the entries of her wallets), no credit to hers.
    assert owners_of(tx) == {bob_wallet: None}


@pytest.mark.parametrize("wallet_known", [True, False], ids=["wallet-opened-first", "wallet-opened-late"])
def test_a_refused_attempt_on_the_actors_own_wallet_is_in_their_history(wallet_known):
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "500.0000", source=alice_wallet, target=bob_wallet)
    opened = [wallet_opened(alice_wallet, ALICE)]
    attempt = [
        status_changed(tx, move, status="INITIATED", user_ids=[ALICE]),
        status_changed(tx, move, status="FAILED", user_ids=[ALICE], failure_reason="insufficient_funds"),
    ]  # fmt: skip

    apply(*(opened + attempt if wallet_known else attempt + opened))

    assert owners_of(tx) == {alice_wallet: ALICE}
    assert (entries_of(tx)[alice_wallet].status, entries_of(tx)[alice_wallet].failure_reason) == (
        "FAILED", "insufficient_funds",
    )  # fmt: skip


def test_a_payee_never_sees_a_payers_refused_payment():
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "500.0000", source=alice_wallet, target=bob_wallet)
    apply(
        wallet_opened(alice_wallet, ALICE), wallet_opened(bob_wallet, BOB),
        status_changed(tx, move, status="INITIATED", user_ids=[ALICE]),
        status_changed(tx, move, status="FAILED", user_ids=[ALICE], failure_reason="insufficient_funds"),
    )  # fmt: skip

    assert owners_of(tx) == {alice_wallet: ALICE}
    assert entries_of(tx)[alice_wallet].failure_reason == "insufficient_funds"


def _transfer_events(tx, move) -> dict:
    return {
        "alice_opened": wallet_opened(move["from_wallet_id"], ALICE),
        "bob_opened": wallet_opened(move["to_wallet_id"], BOB),
        "initiated": status_changed(tx, move, status="INITIATED", user_ids=[ALICE]),
        "reserved_news": status_changed(tx, move, status="RESERVED", user_ids=[ALICE, BOB]),
        "funds_reserved": funds_reserved(tx, move, owner_id=ALICE, to_owner_id=BOB),
        "captured": hold_captured(tx, move, owner_id=ALICE, to_owner_id=BOB),
        "success_news": status_changed(tx, move, status="SUCCESS", user_ids=[ALICE, BOB]),
    }


ORDERS = {
    "as-designed": ["alice_opened", "bob_opened", "initiated", "funds_reserved", "reserved_news", "captured",
                    "success_news"],
    "wallet-opened-late": ["alice_opened", "initiated", "reserved_news", "funds_reserved", "captured", "success_news",
                           "bob_opened"],
    "transaction-events-first": ["initiated", "reserved_news", "success_news", "funds_reserved", "captured",
                                 "bob_opened", "alice_opened"],
    "wallet-events-first": ["funds_reserved", "captured", "initiated", "reserved_news", "success_news",
                            "alice_opened", "bob_opened"],
    "initiated-last": ["bob_opened", "success_news", "captured", "funds_reserved", "reserved_news", "initiated",
                       "alice_opened"],
}  # fmt: skip


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_the_receivers_entry_is_never_the_senders_whatever_the_order(order):
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = _transfer_events(tx, movement("TRANSFER", "30.0000", source=alice_wallet, target=bob_wallet))

    for name in order:
        apply(events[name])
        assert owners_of(tx).get(bob_wallet) in (None, BOB), f"Bob's entry went to someone else after {name}"

    assert owners_of(tx) == {alice_wallet: ALICE, bob_wallet: BOB}
    assert {entry.status for entry in entries_of(tx).values()} == {"SUCCESS"}


def test_a_receiver_the_transaction_service_has_not_named_yet_is_not_guessed_from_the_sender():
    # RESERVED news with the sender alone: the reserve's reply was lost, the receiver is not known yet.
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "30.0000", source=alice_wallet, target=bob_wallet)
    apply(status_changed(tx, move, status="RESERVED", user_ids=[ALICE]))
    assert owners_of(tx) == {alice_wallet: ALICE, bob_wallet: None}

    apply(wallet_opened(bob_wallet, BOB))

    assert owners_of(tx) == {alice_wallet: ALICE, bob_wallet: BOB}
