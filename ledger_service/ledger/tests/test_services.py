import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from ledger import services
from ledger.models import Account, JournalEntry, Posting, Rejection
from ledger.selectors import account_balance, entry_status_get
from ledger.tests.conftest import deposit, events_for, transfer
from walletkit.testing.threads import in_threads

pytestmark = pytest.mark.django_db

A, B = uuid.uuid4(), uuid.uuid4()


def deferred_constraints_check() -> None:
    """Run the commit-time (deferred) journal triggers now: the test's transaction never commits."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_deposit_posts_a_balanced_entry_from_the_external_account():
    decision = deposit(A, "100.25")
    assert decision.status == "POSTED"
    entry = JournalEntry.objects.get(id=decision.entry_id)
    postings = {p.account.kind: p.amount for p in entry.postings.select_related("account")}
    assert postings == {"EXTERNAL": Decimal("-100.25"), "WALLET": Decimal("100.25")}
    assert account_balance(wallet_id=A) == Decimal("100.25")
    external = Account.objects.get(kind="EXTERNAL", currency="EUR")
    assert account_balance(account=external) == Decimal("-100.25")
    deferred_constraints_check()


def test_posted_entry_publishes_ledger_posted_with_the_entry_id():
    decision = deposit(A, "5", transaction_id=(transaction_id := uuid.uuid4()))
    [envelope] = events_for(transaction_id)
    assert envelope["event_type"] == "LedgerPosted"
    assert envelope["transaction_id"] == str(transaction_id)
    assert envelope["payload"] == {
        "type": "DEPOSIT", "amount": "5.0000", "currency": "EUR", "from_wallet_id": None,
        "to_wallet_id": str(A), "entry_id": str(decision.entry_id),
    }  # fmt: skip


def test_transfer_moves_between_wallet_accounts_and_balances_come_from_postings():
    deposit(A, "100")
    before_transfer = timezone.now()
    transfer(A, B, "40.5")
    assert (account_balance(wallet_id=A), account_balance(wallet_id=B)) == (Decimal("59.5"), Decimal("40.5"))
    assert account_balance(wallet_id=A, as_of=before_transfer) == Decimal("100")
    assert account_balance(wallet_id=B, as_of=before_transfer) == Decimal("0")
    cached = {a.wallet_id: a.balance for a in Account.objects.filter(wallet_id__in=[A, B])}
    assert cached == {A: Decimal("59.5"), B: Decimal("40.5")}
    deferred_constraints_check()


def test_refund_posts_between_wallet_accounts_like_a_transfer():
    deposit(A, "100")
    transfer(A, B, "40")
    decision = services.entry_post(
        transaction_id=uuid.uuid4(), type="REFUND", from_wallet_id=B, to_wallet_id=A,
        amount=Decimal("15"), currency="EUR",
    )  # fmt: skip
    assert decision.status == "POSTED"
    assert JournalEntry.objects.get(id=decision.entry_id).type == "REFUND"
    assert (account_balance(wallet_id=A), account_balance(wallet_id=B)) == (Decimal("75"), Decimal("25"))
    deferred_constraints_check()


def test_a_refund_to_its_own_wallet_is_rejected():
    deposit(A, "10")
    decision = services.entry_post(
        transaction_id=uuid.uuid4(), type="REFUND", from_wallet_id=A, to_wallet_id=A,
        amount=Decimal("1"), currency="EUR",
    )  # fmt: skip
    assert decision.status == "REJECTED"


def test_withdrawal_pays_out_to_the_external_account():
    deposit(A, "10")
    services.entry_post(
        transaction_id=uuid.uuid4(), type="WITHDRAWAL", from_wallet_id=A, to_wallet_id=None,
        amount=Decimal("4"), currency="EUR",
    )  # fmt: skip
    assert account_balance(wallet_id=A) == Decimal("6")
    assert account_balance(account=Account.objects.get(kind="EXTERNAL", currency="EUR")) == Decimal("-6")


def test_overdraft_is_rejected_with_a_reason_and_moves_nothing():
    deposit(A, "10")
    transaction_id = uuid.uuid4()
    decision = transfer(A, B, "10.0001", transaction_id=transaction_id)
    assert (decision.status, decision.reason) == ("REJECTED", "insufficient_funds")
    assert not JournalEntry.objects.filter(transaction_id=transaction_id).exists()
    assert Rejection.objects.get(transaction_id=transaction_id).reason == "insufficient_funds"
    assert account_balance(wallet_id=A) == Decimal("10")
    [envelope] = events_for(transaction_id)
    assert (envelope["event_type"], envelope["payload"]["reason"]) == ("LedgerRejected", "insufficient_funds")


def test_currency_mismatch_is_rejected():
    services.account_open(wallet_id=A, currency="EUR")
    services.account_open(wallet_id=B, currency="USD")
    deposit(A, "10")
    decision = transfer(A, B, "1")
    assert (decision.status, decision.reason) == ("REJECTED", "currency_mismatch")
    assert account_balance(wallet_id=A) == Decimal("10")


def test_a_malformed_movement_is_rejected_not_posted():
    decision = services.entry_post(
        transaction_id=uuid.uuid4(), type="TRANSFER", from_wallet_id=A, to_wallet_id=A,
        amount=Decimal("1"), currency="EUR",
    )  # fmt: skip
    assert (decision.status, decision.reason) == ("REJECTED", "invalid_movement")
    assert not Posting.objects.filter(account__wallet_id=A).exists()


def test_duplicate_funds_reserved_posts_one_entry():
    deposit(A, "10")
    transaction_id = uuid.uuid4()
    first = transfer(A, B, "3", transaction_id=transaction_id)
    again = transfer(A, B, "3", transaction_id=transaction_id)
    assert first == again
    assert JournalEntry.objects.filter(transaction_id=transaction_id).count() == 1
    assert account_balance(wallet_id=A) == Decimal("7")
    assert len(events_for(transaction_id)) == 1


def test_expire_after_post_keeps_it_posted():
    deposit(A, "10")
    transaction_id = uuid.uuid4()
    posted = transfer(A, B, "3", transaction_id=transaction_id)
    decision = services.entry_expire(
        transaction_id=transaction_id, reason="expired", type="TRANSFER", from_wallet_id=A, to_wallet_id=B,
        amount=Decimal("3"), currency="EUR",
    )  # fmt: skip
    assert decision == posted and decision.status == "POSTED"
    assert not Rejection.objects.exists()
    assert [e["event_type"] for e in events_for(transaction_id)] == ["LedgerPosted"]


def test_expire_first_then_funds_reserved_is_rejected_once():
    deposit(A, "10")
    transaction_id = uuid.uuid4()
    expired = services.entry_expire(
        transaction_id=transaction_id, reason="expired", type="TRANSFER", from_wallet_id=A, to_wallet_id=B,
        amount=Decimal("3"), currency="EUR",
    )  # fmt: skip
    late = transfer(A, B, "3", transaction_id=transaction_id)
    assert expired == late
    assert (late.status, late.reason) == ("REJECTED", "expired")
    assert not JournalEntry.objects.filter(transaction_id=transaction_id).exists()
    assert account_balance(wallet_id=A) == Decimal("10")
    assert [e["event_type"] for e in events_for(transaction_id)] == ["LedgerRejected"]


def test_movement_before_wallet_opened_creates_the_account_and_the_open_is_a_no_op():
    deposit(A, "2")
    account = services.account_open(wallet_id=A, currency="EUR")
    assert Account.objects.filter(wallet_id=A).count() == 1
    assert account.balance == Decimal("2")


def test_entry_status_of_an_unknown_transaction_is_none():
    assert entry_status_get(transaction_id=uuid.uuid4()) is None


# in_threads: the journal refuses TRUNCATE, so these tests cannot use a flushing transactional test case:
# what they commit uses fresh wallet ids and a currency (SEK) no other test touches.


def test_opposite_transfers_post_concurrently_without_deadlock():
    a, b = uuid.uuid4(), uuid.uuid4()
    assert in_threads(2, lambda i: deposit((a, b)[i], "1000", currency="SEK")) == []
    moves = [(a, b, "1")] * 20 + [(b, a, "2")] * 20

    errors = in_threads(len(moves), lambda i: transfer(*moves[i], currency="SEK"))

    assert errors == []
    assert (account_balance(wallet_id=a), account_balance(wallet_id=b)) == (Decimal("1020"), Decimal("980"))
    cached = {x.wallet_id: x.balance for x in Account.objects.filter(wallet_id__in=[a, b])}
    assert cached == {a: Decimal("1020"), b: Decimal("980")}


def test_a_racing_post_and_expire_decide_each_transaction_once():
    a, b = uuid.uuid4(), uuid.uuid4()
    assert in_threads(1, lambda _i: deposit(a, "1000", currency="SEK")) == []
    transaction_ids = [uuid.uuid4() for _ in range(10)]
    movement = {"type": "TRANSFER", "from_wallet_id": a, "to_wallet_id": b, "amount": Decimal("1"), "currency": "SEK"}

    def decide(index: int) -> None:
        transaction_id = transaction_ids[index // 2]
        if index % 2:
            services.entry_expire(transaction_id=transaction_id, reason="expired", **movement)
        else:
            services.entry_post(transaction_id=transaction_id, **movement)

    assert in_threads(2 * len(transaction_ids), decide) == []

    posted = set(
        JournalEntry.objects.filter(transaction_id__in=transaction_ids).values_list("transaction_id", flat=True)
    )
    rejected = set(
        Rejection.objects.filter(transaction_id__in=transaction_ids).values_list("transaction_id", flat=True)
    )
    assert posted.isdisjoint(rejected) and posted | rejected == set(transaction_ids)
    assert all(len(events_for(transaction_id)) == 1 for transaction_id in transaction_ids)
    assert account_balance(wallet_id=b) == len(posted)
