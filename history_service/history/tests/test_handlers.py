"""The read model built from one source — TransactionStatusChanged, plus WalletOpened for the owners:
both sides of a transfer, idempotence, any arrival order (decision 0018)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from history.handlers import transaction_event_handle, wallet_event_handle
from history.models import HistoryEntry
from history.tests.conftest import movement, status_changed, wallet_opened
from walletkit.events import (
    EventType,
    FundsReserved,
    HoldCaptured,
    HoldReleased,
    InvalidEvent,
    LedgerPosted,
    LedgerRejected,
    envelope_build,
)

pytestmark = pytest.mark.django_db


def apply(*envelopes) -> None:
    for envelope in envelopes:
        table = wallet_event_handle if envelope.event_type == EventType.WALLET_OPENED else transaction_event_handle
        table(envelope)


def entries_of(transaction_id) -> dict:
    return {entry.wallet_id: entry for entry in HistoryEntry.objects.filter(transaction_id=transaction_id)}


def test_transfer_gives_the_sender_a_debit_and_the_receiver_a_credit():
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "30.0000", source=alice_wallet, target=bob_wallet)
    apply(
        wallet_opened(alice_wallet, 1), wallet_opened(bob_wallet, 2),
        status_changed(tx, move, status="RESERVED", user_ids=[1, 2]),
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
        status_changed(tx, move, status="RESERVED", user_ids=[2, 1]),
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
        status_changed(deposit, deposit_move, status="RESERVED", user_ids=[5]),
        status_changed(deposit, deposit_move, status="SUCCESS", user_ids=[5]),
        status_changed(withdrawal, withdrawal_move, status="RESERVED", user_ids=[5]),
        status_changed(
            withdrawal, withdrawal_move, status="FAILED", user_ids=[5], reserved=True,
            failure_reason="insufficient funds at posting",
        ),
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
        status_changed(tx, move, status="RESERVED", user_ids=[1, 2]),
        status_changed(tx, move, status="SUCCESS", user_ids=[1, 2]),
    ]

    apply(*events)
    apply(*events)

    assert HistoryEntry.objects.filter(transaction_id=tx).count() == 2
    assert {entry.status for entry in entries_of(tx).values()} == {"SUCCESS"}


def test_success_before_reserved_ends_success_and_a_final_status_never_moves():
    source, target, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "9.0000", source=source, target=target)

    apply(status_changed(tx, move, status="SUCCESS", user_ids=[1, 2]))
    apply(
        status_changed(tx, move, status="RESERVED", user_ids=[1, 2]),
        status_changed(tx, move, status="INITIATED", user_ids=[1]),
        status_changed(tx, move, status="FAILED", user_ids=[1, 2], failure_reason="late", reserved=True),
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
    # The receiver not named yet (the reserve's reply was lost): nobody's entry until WalletOpened.
    source, target, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "2.0000", source=source, target=target)
    apply(status_changed(tx, move, status="SUCCESS", user_ids=[11]))
    assert owners_of(tx) == {source: 11, target: None}
    before = entries_of(tx)[target].updated_at

    apply(wallet_opened(target, 12), wallet_opened(source, 11))

    entries = entries_of(tx)
    assert owners_of(tx) == {source: 11, target: 12}
    assert entries[target].updated_at > before  # catch-up (changed_since) returns it to its new owner
    assert {entry.status for entry in entries.values()} == {"SUCCESS"}


def test_the_transaction_created_at_becomes_occurred_at():
    wallet, tx = uuid.uuid4(), uuid.uuid4()
    move = movement("DEPOSIT", "5.0000", target=wallet)
    created_at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    apply(status_changed(tx, move, status="RESERVED", user_ids=[3], created_at=created_at))
    apply(status_changed(tx, move, status="SUCCESS", user_ids=[3], created_at=created_at))

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


def _hold_and_ledger_events(tx, move: dict) -> list:
    fields = {
        "type": move["type"], "amount": Decimal(move["amount"]), "currency": move["currency"],
        "from_wallet_id": move["from_wallet_id"], "to_wallet_id": move["to_wallet_id"],
    }  # fmt: skip
    return [
        envelope_build(payload=payload, transaction_id=tx)
        for payload in (
            FundsReserved(**fields, owner_id=1, from_owner_id=1, to_owner_id=2), HoldCaptured(**fields),
            HoldReleased(**fields, reason="expired"), LedgerPosted(**fields, entry_id=uuid.uuid4()),
            LedgerRejected(**fields, reason="insufficient_funds"),
        )
    ]  # fmt: skip


def test_hold_and_ledger_events_are_not_a_source_of_history():
    """The wallet.events table holds WalletOpened alone (the loop skips every other type by its header,
    before parsing); a hold event given to it anyway writes nothing: the status comes from the transaction."""
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "7.0000", source=alice_wallet, target=bob_wallet)
    holds = _hold_and_ledger_events(tx, move)

    assert set(wallet_event_handle) == {EventType.WALLET_OPENED}
    assert not any(event.event_type in transaction_event_handle for event in holds)
    for event in holds:
        wallet_event_handle(event)
    assert entries_of(tx) == {}

    apply(status_changed(tx, move, status="RESERVED", user_ids=[1, 2]))
    for event in holds:  # a capture, a release, a rejection: none moves the transaction's status
        wallet_event_handle(event)
    assert {entry.status for entry in entries_of(tx).values()} == {"RESERVED"}


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
        # RESERVED with the sender alone (the receiver not learned yet), then with the receiver named.
        "reserved_unnamed": status_changed(tx, move, status="RESERVED", user_ids=[ALICE]),
        "reserved_named": status_changed(tx, move, status="RESERVED", user_ids=[ALICE, BOB]),
        "success": status_changed(tx, move, status="SUCCESS", user_ids=[ALICE, BOB]),
    }


def test_the_receivers_entry_is_never_the_senders_whatever_the_order():
    """Every order of the five events (120), WalletOpened late included."""
    names = list(_transfer_events(uuid.uuid4(), movement("TRANSFER", "1", source=uuid.uuid4(), target=uuid.uuid4())))
    for order in itertools.permutations(names):
        alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        events = _transfer_events(tx, movement("TRANSFER", "30.0000", source=alice_wallet, target=bob_wallet))

        for name in order:
            apply(events[name])
            owners = owners_of(tx)
            assert owners.get(bob_wallet) in (None, BOB), f"Bob's entry went to someone else after {name} in {order}"
            assert owners.get(alice_wallet) in (None, ALICE), f"Alice's entry went elsewhere after {name} in {order}"

        assert owners_of(tx) == {alice_wallet: ALICE, bob_wallet: BOB}, order
        assert {entry.status for entry in entries_of(tx).values()} == {"SUCCESS"}, order


def test_a_receiver_the_transaction_service_has_not_named_yet_is_not_guessed_from_the_sender():
    # RESERVED news with the sender alone: the reserve's reply was lost, the receiver is not known yet.
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "30.0000", source=alice_wallet, target=bob_wallet)
    apply(status_changed(tx, move, status="RESERVED", user_ids=[ALICE]))
    assert owners_of(tx) == {alice_wallet: ALICE, bob_wallet: None}

    apply(wallet_opened(bob_wallet, BOB))

    assert owners_of(tx) == {alice_wallet: ALICE, bob_wallet: BOB}
