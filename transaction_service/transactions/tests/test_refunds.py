"""Refunds: only the receiver of a SUCCESS transfer; refunds not FAILED add up to at most the original,
checked under the original's row lock (real threads, real PostgreSQL connections)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from transactions.models import Transaction, TransactionStatus, TransactionType
from transactions.services import transaction_refund_initiate, transaction_status_advance
from transactions.tests.factories import TransactionFactory
from transactions.tests.fakes import hold_created

pytestmark = pytest.mark.django_db

SENDER, RECEIVER = 1, 2


def settled_transfer(amount: str = "10") -> Transaction:
    return TransactionFactory(
        status=TransactionStatus.SUCCESS, amount=Decimal(amount), owner_id=SENDER, counterparty_owner_id=RECEIVER
    )


def refund(original: Transaction, amount: str, *, key: str = "refund-1", owner_id: int = RECEIVER):
    return transaction_refund_initiate(owner_id=owner_id, original_id=original.id, amount=amount, idempotency_key=key)


@pytest.fixture
def wallet_reserves(fake_wallet):
    fake_wallet.route("POST", "/holds", lambda call: hold_created(call, to_owner_id=SENDER))
    return fake_wallet


def test_the_receiver_refunds_back_to_the_senders_wallet(wallet_reserves):
    original = settled_transfer("10")

    status, body = refund(original, "4")

    assert status == 202, body
    assert (body["type"], body["status"], body["refund_of"]) == ("REFUND", "RESERVED", str(original.id))
    assert (body["from_wallet_id"], body["to_wallet_id"]) == (str(original.to_wallet_id), str(original.from_wallet_id))
    [call] = wallet_reserves.calls_to("POST", "/holds")
    assert (call.body["type"], call.body["amount"]) == ("REFUND", "4.0000")
    tx = Transaction.objects.get(id=body["id"])
    assert (tx.owner_id, tx.counterparty_owner_id) == (RECEIVER, SENDER)  # both sides see it


def test_the_sender_or_a_stranger_gets_404_and_nothing_is_created(wallet_reserves):
    original = settled_transfer()
    for caller in (SENDER, 99):
        status, body = refund(original, "1", owner_id=caller)
        assert (status, body["code"]) == (404, "not_found")
    assert Transaction.objects.filter(type=TransactionType.REFUND).count() == 0


@pytest.mark.parametrize("status", [TransactionStatus.RESERVED, TransactionStatus.FAILED])
def test_only_a_settled_transfer_can_be_refunded(wallet_reserves, status):
    original = settled_transfer()
    Transaction.objects.filter(id=original.id).update(status=status)
    answer, body = refund(original, "1")
    assert (answer, body["code"]) == (422, "not_refundable")
    assert not Transaction.objects.filter(type=TransactionType.REFUND).exists()


def test_a_deposit_or_a_refund_cannot_be_refunded(wallet_reserves):
    deposit = TransactionFactory(
        type=TransactionType.DEPOSIT, from_wallet_id=None, status=TransactionStatus.SUCCESS, counterparty_owner_id=None
    )
    assert refund(deposit, "1", owner_id=deposit.owner_id)[0] == 404
    original = settled_transfer()
    _status, first = refund(original, "1")
    transaction_status_advance(transaction_id=first["id"], status=TransactionStatus.SUCCESS)
    assert refund(Transaction.objects.get(id=first["id"]), "1", owner_id=SENDER, key="back-again")[0] == 404


def test_refunds_add_up_to_at_most_the_original(wallet_reserves):
    original = settled_transfer("10")
    assert refund(original, "6", key="a")[0] == 202
    status, body = refund(original, "4.0001", key="b")
    assert (status, body["code"], body["refundable"]) == (422, "refund_exceeds_original", "4.0000")
    assert refund(original, "4", key="c")[0] == 202
    assert refund(original, "0.0001", key="d")[0] == 422


def test_a_failed_refund_stops_counting(wallet_reserves):
    original = settled_transfer("10")
    _status, first = refund(original, "10", key="a")
    transaction_status_advance(transaction_id=first["id"], status=TransactionStatus.FAILED, reason="insufficient_funds")
    assert refund(original, "10", key="b")[0] == 202


def test_a_refund_refused_by_the_wallet_fails_and_frees_its_share(fake_wallet):
    fake_wallet.route("POST", "/holds", (422, {"code": "insufficient_funds", "detail": "No.", "available": "1.0000"}))
    original = settled_transfer("10")
    status, body = refund(original, "10", key="a")
    assert (status, body["code"], body["available"]) == (422, "insufficient_funds", "1.0000")
    fake_wallet.route("POST", "/holds", lambda call: hold_created(call, to_owner_id=SENDER))
    assert refund(original, "10", key="b")[0] == 202


def test_a_replay_answers_the_first_response_even_once_the_bound_is_reached(wallet_reserves):
    original = settled_transfer("10")
    first = refund(original, "10")
    assert refund(original, "10") == first
    assert Transaction.objects.filter(type=TransactionType.REFUND).count() == 1
    assert len(wallet_reserves.calls_to("POST", "/holds")) == 1
    status, body = refund(original, "9")  # the same key, another amount
    assert (status, body["code"]) == (409, "idempotency_conflict")


def test_the_same_key_for_a_refund_of_another_transfer_is_409(wallet_reserves):
    one, other = settled_transfer("10"), settled_transfer("10")
    assert refund(one, "5")[0] == 202
    assert refund(other, "5")[0] == 409


@pytest.mark.parametrize("amount", ["0", "-1", "1e3", "1.00001", None, 10.5])
def test_an_invalid_amount_is_400_and_creates_nothing(wallet_reserves, amount):
    status, body = refund(settled_transfer(), amount)
    assert (status, body["code"]) == (400, "invalid")
    assert not Transaction.objects.filter(type=TransactionType.REFUND).exists()


def test_a_refund_needs_an_idempotency_key(wallet_reserves):
    status, body = refund(settled_transfer(), "1", key="")
    assert (status, body["code"]) == (400, "idempotency_key_required")


def test_post_transactions_cannot_make_a_refund_without_an_original(api_client_for, wallet_reserves):
    original = settled_transfer()
    answer = api_client_for(RECEIVER).post(
        "/transactions",
        {"type": "REFUND", "from_wallet_id": str(original.to_wallet_id), "to_wallet_id": str(original.from_wallet_id),
         "amount": "1", "idempotency_key": "k"},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 400
    assert "type" in answer.json()["errors"]


def test_refund_api_and_the_originals_page_lists_its_refunds(api_client_for, wallet_reserves):
    original = settled_transfer("10")
    receiver = api_client_for(RECEIVER)
    answer = receiver.post(f"/transactions/{original.id}/refunds", {"amount": "3"}, HTTP_IDEMPOTENCY_KEY="r1",
                           format="json")  # fmt: skip
    assert answer.status_code == 202, answer.json()
    for side in (SENDER, RECEIVER):
        detail = api_client_for(side).get(f"/transactions/{original.id}").json()
        assert [r["id"] for r in detail["refunds"]] == [answer.json()["id"]]
        assert api_client_for(side).get(f"/transactions/{answer.json()['id']}").json()["refund_of"] == str(original.id)


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_cannot_together_exceed_the_original(wallet_reserves):
    original = settled_transfer("10")
    start, answers = threading.Barrier(8), []

    def one(index: int) -> None:
        try:
            start.wait()
            answers.append(refund(original, "3", key=f"concurrent-{index}")[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(answers) == [202] * 3 + [422] * 5
    refunds = Transaction.objects.filter(refund_of=original).exclude(status=TransactionStatus.FAILED)
    assert sum(r.amount for r in refunds) == Decimal("9")
