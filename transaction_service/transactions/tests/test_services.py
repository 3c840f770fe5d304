from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from transactions.clients import ReserveOutcome, ReserveVerdict
from transactions.models import Transaction, TransactionAnomaly, TransactionStatus
from transactions.services import transaction_initiate, transaction_reserve_outcome_apply, transaction_status_advance
from transactions.tests.factories import TransactionFactory
from transactions.tests.fakes import hold_created
from walletkit.outbox.models import OutboxEvent
from walletkit.testing.waiting import wait_until

pytestmark = pytest.mark.django_db

FROM, TO = uuid.uuid4(), uuid.uuid4()


def transfer(**overrides):
    request = {
        "owner_id": 1,
        "type": "TRANSFER",
        "from_wallet_id": FROM,
        "to_wallet_id": TO,
        "amount": "10.50",
        "idempotency_key": "key-1",
    }
    return transaction_initiate(**(request | overrides))


def status_events(tx_id) -> list[dict]:
    return [
        row.envelope["payload"]
        for row in OutboxEvent.objects.filter(key=str(tx_id)).order_by("id")
        if row.envelope["event_type"] == "TransactionStatusChanged"
    ]


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    ["0", "-1", "NaN", "Infinity", "1.00001", "1000000000.0001", "abc", "", 10.5, None, True],
    ids=["zero", "negative", "nan", "inf", "five-digits", "above-max", "text", "empty", "float", "missing", "bool"],
)
def test_invalid_amount_is_400_and_stores_nothing(fake_wallet, amount):
    status, body = transfer(amount=amount)

    assert status == 400
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["amount"]
    assert Transaction.objects.count() == 0
    assert OutboxEvent.objects.count() == 0
    assert fake_wallet.calls == []


@pytest.mark.parametrize(
    ("type_", "from_wallet_id", "to_wallet_id", "field"),
    [
        ("DEPOSIT", None, None, "to_wallet_id"),
        ("DEPOSIT", FROM, TO, "from_wallet_id"),
        ("WITHDRAWAL", None, TO, "from_wallet_id"),
        ("TRANSFER", FROM, None, "to_wallet_id"),
        ("TRANSFER", "not-a-uuid", TO, "from_wallet_id"),
        ("REFUND", FROM, TO, "type"),
    ],
)
def test_wallet_fields_must_match_the_type(fake_wallet, type_, from_wallet_id, to_wallet_id, field):
    status, body = transfer(type=type_, from_wallet_id=from_wallet_id, to_wallet_id=to_wallet_id)

    assert status == 400
    assert field in body["errors"]
    assert Transaction.objects.count() == 0


def test_transfer_to_the_same_wallet_is_400_same_wallet(fake_wallet):
    status, body = transfer(to_wallet_id=FROM)

    assert (status, body["code"]) == (400, "same_wallet")
    assert Transaction.objects.count() == 0


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_idempotency_key_is_400(fake_wallet, key):
    status, body = transfer(idempotency_key=key)

    assert (status, body["code"]) == (400, "idempotency_key_required")
    assert Transaction.objects.count() == 0


# --- the reserve --------------------------------------------------------------------------------


def test_reserved_transfer_answers_202_with_currency_and_receiver(fake_wallet):
    fake_wallet.route("POST", "/holds", lambda call: hold_created(call, currency="EUR", to_owner_id=7))

    status, body = transfer()

    tx = Transaction.objects.get()
    assert status == 202
    assert body["status"] == "RESERVED"
    assert body["currency"] == "EUR"
    assert body["amount"] == "10.5000"
    assert tx.counterparty_owner_id == 7
    assert (tx.response_status, tx.response_body) == (202, body)
    [call] = fake_wallet.calls_to("POST", "/holds")
    assert call.body == {
        "transaction_id": str(tx.id),
        "type": "TRANSFER",
        "from_wallet_id": str(FROM),
        "to_wallet_id": str(TO),
        "amount": "10.5000",
    }
    assert call.authorization.startswith("Bearer ")
    # INITIATED is not published: RESERVED or FAILED always follows it (the sweeper sees to that)
    assert [e["transaction"]["status"] for e in status_events(tx.id)] == ["RESERVED"]
    assert status_events(tx.id)[-1]["user_ids"] == [1, 7]


def test_deposit_sends_no_sender_and_has_no_counterparty(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)

    status, body = transfer(type="DEPOSIT", from_wallet_id=None)

    assert (status, body["status"], body["from_wallet_id"]) == (202, "RESERVED", None)
    assert fake_wallet.calls_to("POST", "/holds")[0].body["from_wallet_id"] is None
    assert Transaction.objects.get().counterparty_owner_id is None


@pytest.mark.parametrize("code", ["insufficient_funds", "currency_mismatch"])
def test_wallet_refusal_fails_it_with_the_wallets_code(fake_wallet, code):
    fake_wallet.route("POST", "/holds", (422, {"code": code, "detail": "No."}))

    status, body = transfer()

    assert status == 422
    assert (body["code"], body["detail"]) == (code, "No.")
    assert body["transaction"]["status"] == "FAILED"
    assert body["transaction"]["failure_reason"] == code
    assert len(fake_wallet.calls) == 1


def test_a_movement_the_wallet_finds_invalid_fails_with_its_code(fake_wallet):
    fake_wallet.route("POST", "/holds", (400, {"code": "invalid_movement", "detail": "Wallets don't fit."}))

    status, body = transfer()

    assert (status, body["code"], body["transaction"]["status"]) == (422, "invalid_movement", "FAILED")


def test_a_conflicting_hold_leaves_it_initiated_for_the_sweeper(fake_wallet):
    fake_wallet.route("POST", "/holds", (409, {"code": "transaction_id_conflict", "detail": "Taken."}))

    status, body = transfer()

    assert (status, body["status"]) == (202, "INITIATED")


def test_unknown_wallet_is_404_wallet_not_found(fake_wallet):
    fake_wallet.route("POST", "/holds", (404, {"code": "wallet_not_found", "detail": "Not found."}))

    status, body = transfer()

    assert (status, body["code"]) == (404, "wallet_not_found")
    assert Transaction.objects.get().failure_reason == "wallet_not_found"


def test_5xx_is_retried_with_the_same_transaction_id(fake_wallet):
    answers = iter([(503, {}), (500, {})])
    fake_wallet.route("POST", "/holds", lambda call: next(answers, None) or hold_created(call))

    status, body = transfer()

    assert (status, body["status"]) == (202, "RESERVED")
    calls = fake_wallet.calls_to("POST", "/holds")
    assert len(calls) == 3
    assert {c.body["transaction_id"] for c in calls} == {body["id"]}


def test_a_refusal_after_a_try_that_may_have_reached_the_wallet_leaves_it_open(fake_wallet):
    # The first try may still land (it failed here, not necessarily there): failing the transaction
    # on the retry's refusal could strand that try's hold under a FAILED transaction.
    answers = iter([(503, {})])
    refusal = (422, {"code": "insufficient_funds", "detail": "No."})
    fake_wallet.route("POST", "/holds", lambda call: next(answers, None) or refusal)

    status, body = transfer()

    assert (status, body["status"]) == (202, "INITIATED")
    assert Transaction.objects.get().status == "INITIATED"  # the sweeper decides once the first try is over


def test_unreachable_wallet_is_503_fails_it_and_frees_the_key(settings, closed_port_url, fake_wallet):
    wallet_url = settings.SERVICE_URLS["wallet"]
    settings.SERVICE_URLS = {**settings.SERVICE_URLS, "wallet": closed_port_url}

    status, body = transfer()

    assert (status, body["code"]) == (503, "service_unavailable")
    failed = Transaction.objects.get()
    assert (failed.status, failed.failure_reason, failed.idempotency_key) == ("FAILED", "wallet_unavailable", None)

    settings.SERVICE_URLS = {**settings.SERVICE_URLS, "wallet": wallet_url}
    fake_wallet.route("POST", "/holds", hold_created)
    status, body = transfer()

    assert (status, body["status"]) == (202, "RESERVED")
    assert body["id"] != str(failed.id)


def test_unreachable_wallet_after_a_sweeper_round_leaves_it_to_the_sweeper(closed_port_url, settings):
    # The sweeper claimed the saga (sweep_attempts) and may have a reserve on its way to the wallet:
    # "no try of mine reached the wallet" no longer proves there is no hold, so nothing is failed here.
    settings.SERVICE_URLS = {**settings.SERVICE_URLS, "wallet": closed_port_url}
    tx = TransactionFactory(response_status=None, response_body=None, sweep_attempts=1)

    transaction_reserve_outcome_apply(transaction_id=tx.id, outcome=ReserveOutcome(ReserveVerdict.UNREACHABLE))

    tx.refresh_from_db()
    assert (tx.status, tx.idempotency_key is not None) == ("INITIATED", True)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (ReserveOutcome(ReserveVerdict.RESERVED, body={"currency": "USD", "to_owner_id": 7}), "RESERVED"),
        (ReserveOutcome(ReserveVerdict.REFUSED, code="insufficient_funds", detail="No."), "FAILED"),
        (ReserveOutcome(ReserveVerdict.UNREACHABLE), "FAILED"),
    ],
    ids=["reserved", "refused", "unreachable"],
)
def test_the_wallets_answer_is_recorded_with_one_write_of_the_row(outcome, status):
    """On every payment's request path: status, details and the stored response in ONE UPDATE."""
    tx = TransactionFactory(response_status=None, response_body=None)

    with CaptureQueriesContext(connection) as queries:
        transaction_reserve_outcome_apply(transaction_id=tx.id, outcome=outcome)

    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "transaction"')]
    assert len(updates) == 1, updates
    tx.refresh_from_db()
    assert (tx.status, tx.response_status is not None) == (status, True)
    assert [e["transaction"]["status"] for e in status_events(tx.id)] == [status]


def test_insufficient_funds_answer_carries_the_wallets_available_amount(fake_wallet):
    refusal = {"code": "insufficient_funds", "detail": "Insufficient funds.", "available": "3.5000"}
    fake_wallet.route("POST", "/holds", (422, refusal))

    status, body = transfer()

    assert (status, body["code"], body["available"]) == (422, "insufficient_funds", "3.5000")
    assert transfer() == (status, body)  # the replay answers the same


def test_timeout_leaves_it_initiated_and_answers_202(fake_wallet, release):
    fake_wallet.route("POST", "/holds", lambda call: release.wait(30) and hold_created(call))

    status, body = transfer()

    assert (status, body["status"]) == (202, "INITIATED")
    tx = Transaction.objects.get()
    assert (tx.status, tx.response_status) == ("INITIATED", 202)
    calls = fake_wallet.calls_to("POST", "/holds")
    assert len(calls) == 3
    assert {c.body["transaction_id"] for c in calls} == {str(tx.id)}


# --- idempotency --------------------------------------------------------------------------------


def test_replay_returns_the_identical_first_response_and_one_row(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    first = transfer()
    Transaction.objects.update(status=TransactionStatus.SUCCESS)  # the saga moved on meanwhile

    again = transfer(amount="10.5000")  # the same amount, written differently

    assert again == first
    assert Transaction.objects.count() == 1
    assert len(fake_wallet.calls) == 1


def test_replay_after_the_first_request_died_answers_from_the_saga_and_keeps_that_answer(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    transfer()
    # The first request's worker was killed before it stored its answer; the saga finished without it.
    Transaction.objects.update(status=TransactionStatus.SUCCESS, response_status=None, response_body=None)

    status, body = transfer()

    assert (status, body["status"]) == (202, "SUCCESS")  # not 409 in progress forever
    assert transfer() == (status, body)
    assert Transaction.objects.get().response_status == 202
    assert len(fake_wallet.calls) == 1


def test_replay_of_a_refusal_is_the_same_422(fake_wallet):
    fake_wallet.route("POST", "/holds", (422, {"code": "insufficient_funds", "detail": "No."}))
    first = transfer()
    fake_wallet.route("POST", "/holds", hold_created)

    assert transfer() == first
    assert len(fake_wallet.calls) == 1


def test_same_key_with_a_different_body_is_409(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    transfer()

    status, body = transfer(amount="11")

    assert (status, body["code"]) == (409, "idempotency_conflict")
    assert Transaction.objects.count() == 1


def test_same_key_for_another_user_is_another_transaction(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    first, second = transfer(), transfer(owner_id=2)

    assert first[1]["id"] != second[1]["id"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_transaction_and_one_reserve(settings, fake_wallet):
    settings.SERVICE_HTTP_TIMEOUT = 20
    wallet_may_answer = threading.Event()
    fake_wallet.route("POST", "/holds", lambda call: wallet_may_answer.wait(20) and hold_created(call))
    answers = []

    def one_request():
        try:
            answers.append(transfer())
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        for _ in range(20):
            pool.submit(one_request)
        # The winner is held inside the wallet call until every loser has answered.
        wait_until(lambda: len(answers) == 19, timeout=30, message="19 losers answered")
        wallet_may_answer.set()
    assert Transaction.objects.count() == 1
    assert len(fake_wallet.calls_to("POST", "/holds")) == 1
    assert sorted(status for status, _ in answers) == [202] + [409] * 19
    assert {body["code"] for status, body in answers if status == 409} == {"idempotency_in_progress"}
    assert transfer() == next(answer for answer in answers if answer[0] == 202)


# --- status transitions -------------------------------------------------------------------------


def advance(tx, status, reason=None):
    return transaction_status_advance(transaction_id=tx.id, status=status, reason=reason)


def test_each_status_change_writes_exactly_one_event_with_both_users():
    tx = TransactionFactory(owner_id=1, counterparty_owner_id=2)

    advance(tx, "RESERVED")
    advance(tx, "SUCCESS")

    events = status_events(tx.id)
    assert [e["transaction"]["status"] for e in events] == ["RESERVED", "SUCCESS"]
    assert all(e["user_ids"] == [1, 2] for e in events)
    assert events[-1]["transaction"]["amount"] == "10.0000"


def test_initiated_may_go_straight_to_success():
    tx = TransactionFactory()

    assert advance(tx, "SUCCESS").status == "SUCCESS"


@pytest.mark.parametrize(
    ("first", "later"),
    [("SUCCESS", "RESERVED"), ("SUCCESS", "SUCCESS"), ("RESERVED", "INITIATED"), ("FAILED", "RESERVED")],
)
def test_late_or_duplicate_news_changes_nothing(first, later):
    tx = TransactionFactory()
    advance(tx, first, reason="insufficient_funds")
    before = Transaction.objects.get(id=tx.id)

    advance(tx, later)

    after = Transaction.objects.get(id=tx.id)
    assert (after.status, after.failure_reason, after.updated_at) == (first, before.failure_reason, before.updated_at)
    assert len(status_events(tx.id)) == 1


@pytest.mark.parametrize(
    ("final", "contradiction", "kind"),
    [("FAILED", "SUCCESS", "success_after_failed"), ("SUCCESS", "FAILED", "failed_after_success")],
)
def test_contradiction_is_recorded_as_an_anomaly_and_moves_nothing(final, contradiction, kind):
    tx = TransactionFactory()
    advance(tx, final, reason="expired")

    advance(tx, contradiction, reason="insufficient_funds")
    advance(tx, contradiction, reason="insufficient_funds")

    assert Transaction.objects.get(id=tx.id).status == final
    assert list(TransactionAnomaly.objects.values_list("transaction_id", "kind")) == [(tx.id, kind)]
    assert len(status_events(tx.id)) == 1


def test_a_hold_reported_for_a_failed_transaction_is_an_anomaly():
    tx = TransactionFactory()
    advance(tx, "FAILED", reason="expired")

    advance(tx, "RESERVED")

    assert TransactionAnomaly.objects.get().kind == "reserved_after_failed"


def test_amount_is_stored_exactly(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)

    transfer(amount="999999999.9999")

    assert Transaction.objects.get().amount == Decimal("999999999.9999")
