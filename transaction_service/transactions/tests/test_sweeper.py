from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from transactions.models import Transaction
from transactions.sweeper import sweeper_round
from transactions.tests.factories import TransactionFactory, age
from transactions.tests.fakes import ENTRY_NOT_FOUND, HOLD_NOT_FOUND, hold_created
from walletkit.testing.waiting import wait_until

pytestmark = pytest.mark.django_db

PAST_DEADLINE = 11  # seconds; SAGA_DEADLINE is 10 and HOLD_EXPIRY 60 in these tests
PAST_EXPIRY = 61


def status_of(tx) -> tuple[str, str | None]:
    tx.refresh_from_db()
    return tx.status, tx.failure_reason


def test_a_young_saga_is_left_alone(fake_wallet):
    TransactionFactory()

    assert sweeper_round() == 0
    assert fake_wallet.calls == []


def test_initiated_with_a_hold_becomes_reserved_by_the_same_transaction_id(fake_wallet):
    fake_wallet.route("POST", "/holds", lambda call: hold_created(call, currency="EUR", to_owner_id=5))
    tx = age(TransactionFactory(currency=None, counterparty_owner_id=None), seconds=PAST_DEADLINE)

    assert sweeper_round() == 1

    tx.refresh_from_db()
    assert (tx.status, tx.currency, tx.counterparty_owner_id) == ("RESERVED", "EUR", 5)
    [call] = fake_wallet.calls_to("POST", "/holds")
    assert call.body["transaction_id"] == str(tx.id)


def test_initiated_refused_by_the_wallet_fails_once_the_void_makes_the_refusal_final(fake_wallet):
    fake_wallet.route("POST", "/holds", (422, {"code": "insufficient_funds", "detail": "No."}))
    fake_wallet.route("POST", "/holds/", voided)
    tx = age(TransactionFactory(), seconds=PAST_DEADLINE)

    sweeper_round()

    assert status_of(tx) == ("FAILED", "insufficient_funds")
    assert [call.path for call in fake_wallet.calls] == ["/holds", f"/holds/{tx.id}/void"]


def test_initiated_refused_while_an_earlier_try_landed_first_is_reserved_not_failed(fake_wallet):
    # The request thread's timed-out try took the sender's lock after the sweeper's retry was refused.
    fake_wallet.route("POST", "/holds", (422, {"code": "insufficient_funds", "detail": "No."}))
    fake_wallet.route("POST", "/holds/", (200, {"status": "RESERVED", "currency": "USD", "to_owner_id": 2}))
    tx = age(TransactionFactory(), seconds=PAST_DEADLINE)

    sweeper_round()

    assert status_of(tx) == ("RESERVED", None)


def test_initiated_with_the_wallet_unreachable_stays_initiated_and_is_retried_later(settings, closed_port_url):
    settings.SERVICE_URLS = {**settings.SERVICE_URLS, "wallet": closed_port_url}
    settings.SWEEPER_INTERVAL = 60  # the backoff outlasts the round, however slow the machine
    tx = age(TransactionFactory(), seconds=PAST_DEADLINE)
    claimed_at = tx.next_check_at

    sweeper_round()

    tx.refresh_from_db()
    assert tx.status == "INITIATED"
    assert tx.next_check_at > claimed_at
    assert sweeper_round() == 0  # backed off, not due again at once


def voided(call):
    """wallet_service's answer when the void won: the VOIDED tombstone (docs/internal-api.md)."""
    return 200, {
        "transaction_id": call.path.split("/")[2], "status": "VOIDED", "type": call.body["type"],
        "amount": call.body["amount"], "currency": "", "reason": "expired", "from_wallet_id": None,
        "to_wallet_id": None, "from_owner_id": None, "to_owner_id": None,
    }  # fmt: skip


def test_initiated_past_expiry_is_voided_at_the_wallet_then_fails_expired_and_is_never_reserved(fake_wallet):
    fake_wallet.route("POST", "/holds/", voided)
    # "No hold" is no longer enough: a reserve queued at the wallet could still make one afterwards.
    fake_wallet.route("GET", "/holds/", HOLD_NOT_FOUND)
    tx = age(TransactionFactory(type="WITHDRAWAL", to_wallet_id=None), seconds=PAST_EXPIRY)

    sweeper_round()

    assert status_of(tx) == ("FAILED", "expired")
    [void] = fake_wallet.calls_to("POST", "/holds/")
    assert (void.path, void.body) == (f"/holds/{tx.id}/void", {"type": "WITHDRAWAL", "amount": "10.0000"})
    assert [call.path for call in fake_wallet.calls if call.path == "/holds"] == []


def test_initiated_past_expiry_whose_reserve_beat_the_void_is_reserved_not_failed(fake_wallet):
    fake_wallet.route("POST", "/holds/", (200, {"status": "RESERVED", "currency": "USD", "to_owner_id": 2}))
    fake_wallet.route("GET", "/holds/", HOLD_NOT_FOUND)
    tx = age(TransactionFactory(), seconds=PAST_EXPIRY)

    sweeper_round()

    assert status_of(tx) == ("RESERVED", None)


def test_initiated_past_expiry_with_a_captured_hold_is_reserved(fake_wallet):
    fake_wallet.route("POST", "/holds/", (200, {"status": "CAPTURED", "currency": "USD", "to_owner_id": 2}))
    tx = age(TransactionFactory(), seconds=PAST_EXPIRY)

    sweeper_round()

    assert status_of(tx) == ("RESERVED", None)


def test_initiated_past_expiry_stays_open_while_the_wallet_cannot_void(fake_wallet):
    fake_wallet.route("POST", "/holds/", (503, {"code": "service_unavailable", "detail": "down"}))
    tx = age(TransactionFactory(), seconds=PAST_EXPIRY)

    sweeper_round()

    assert status_of(tx) == ("INITIATED", None)


def test_initiated_without_a_stored_response_gets_one(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    tx = age(TransactionFactory(response_status=None, response_body=None), seconds=PAST_DEADLINE)

    sweeper_round()

    tx.refresh_from_db()
    assert (tx.response_status, tx.response_body["status"]) == (202, "RESERVED")


def test_reserved_with_a_captured_hold_succeeds_and_the_wallet_republishes(fake_ledger, fake_wallet):
    fake_wallet.route("GET", "/holds/", (200, {"status": "CAPTURED", "reason": ""}))
    fake_wallet.route("POST", "/internal/outbox/republish", (200, {"republished": 2}))
    tx = age(TransactionFactory(status="RESERVED"), seconds=PAST_DEADLINE)

    sweeper_round()

    assert status_of(tx) == ("SUCCESS", None)
    assert [c.body for c in fake_wallet.calls_to("POST", "/internal/outbox/republish")] == [{"key": str(tx.id)}]
    assert fake_ledger.calls == []


def test_reserved_with_a_released_hold_fails_with_its_reason(fake_ledger, fake_wallet):
    fake_wallet.route("GET", "/holds/", (200, {"status": "RELEASED", "reason": "insufficient_funds"}))
    fake_wallet.route("POST", "/internal/outbox/republish", (200, {"republished": 2}))
    tx = age(TransactionFactory(status="RESERVED"), seconds=PAST_DEADLINE)

    sweeper_round()

    assert status_of(tx) == ("FAILED", "insufficient_funds")


def test_reserved_posted_but_not_captured_asks_the_ledger_to_republish_and_waits(fake_ledger, fake_wallet):
    fake_wallet.route("GET", "/holds/", (200, {"status": "RESERVED", "reason": ""}))
    fake_ledger.route("GET", "/entries/", (200, {"status": "POSTED", "reason": None}))
    fake_ledger.route("POST", "/internal/outbox/republish", (200, {"republished": 2}))
    tx = age(TransactionFactory(status="RESERVED"), seconds=PAST_DEADLINE)

    sweeper_round()

    assert status_of(tx) == ("RESERVED", None)  # SUCCESS waits for the wallet's capture
    [republish] = fake_ledger.calls_to("POST", "/internal/outbox/republish")
    assert republish.body == {"key": str(tx.id)}


def test_reserved_rejected_by_the_ledger_fails_with_its_reason(fake_ledger, fake_wallet):
    fake_ledger.route("GET", "/entries/", (200, {"status": "REJECTED", "reason": "insufficient_funds"}))
    fake_ledger.route("POST", "/internal/outbox/republish", (200, {"republished": 1}))
    tx = age(TransactionFactory(status="RESERVED"), seconds=PAST_DEADLINE)

    sweeper_round()

    assert status_of(tx) == ("FAILED", "insufficient_funds")


def test_reserved_stays_open_if_the_ledger_cannot_republish(fake_ledger, fake_wallet):
    fake_ledger.route("GET", "/entries/", (200, {"status": "REJECTED", "reason": "insufficient_funds"}))
    fake_ledger.route("POST", "/internal/outbox/republish", (503, {}))
    tx = age(TransactionFactory(status="RESERVED"), seconds=PAST_DEADLINE)

    sweeper_round()

    assert status_of(tx) == ("RESERVED", None)


def test_reserved_unknown_to_the_ledger_asks_the_wallet_to_republish(fake_ledger, fake_wallet):
    fake_ledger.route("GET", "/entries/", ENTRY_NOT_FOUND)
    fake_wallet.route("POST", "/internal/outbox/republish", (200, {"republished": 1}))
    tx = age(TransactionFactory(status="RESERVED"), seconds=PAST_DEADLINE)

    sweeper_round()

    assert status_of(tx) == ("RESERVED", None)
    assert [c.body for c in fake_wallet.calls_to("POST", "/internal/outbox/republish")] == [{"key": str(tx.id)}]
    assert fake_ledger.calls_to("POST", "/entries/") == []


def expire_rejects(call):
    return 200, {"transaction_id": call.path.split("/")[2], "status": "REJECTED", "reason": call.body["reason"]}


def test_reserved_past_expiry_is_expired_by_the_ledger_exactly_once(fake_ledger, fake_wallet):
    fake_ledger.route("GET", "/entries/", ENTRY_NOT_FOUND)
    fake_ledger.route("POST", "/entries/", expire_rejects)
    fake_ledger.route("POST", "/internal/outbox/republish", (200, {"republished": 1}))
    tx = age(TransactionFactory(status="RESERVED", type="WITHDRAWAL", to_wallet_id=None), seconds=PAST_EXPIRY)

    sweeper_round()
    Transaction.objects.filter(id=tx.id).update(next_check_at=tx.created_at)  # due again, were it open
    sweeper_round()

    assert status_of(tx) == ("FAILED", "expired")
    [expire] = fake_ledger.calls_to("POST", "/entries/")
    assert expire.path == f"/entries/{tx.id}/expire"
    assert expire.body == {
        "reason": "expired",
        "type": "WITHDRAWAL",
        "amount": "10.0000",
        "currency": "USD",
        "from_wallet_id": str(tx.from_wallet_id),
        "to_wallet_id": None,
    }


def test_expire_answered_posted_waits_for_the_capture(fake_ledger, fake_wallet):
    fake_ledger.route("GET", "/entries/", ENTRY_NOT_FOUND)
    fake_ledger.route("POST", "/entries/", (200, {"status": "POSTED", "reason": None}))
    fake_ledger.route("POST", "/internal/outbox/republish", (200, {"republished": 1}))
    tx = age(TransactionFactory(status="RESERVED"), seconds=PAST_EXPIRY)

    sweeper_round()

    assert status_of(tx) == ("RESERVED", None)
    assert len(fake_ledger.calls_to("POST", "/internal/outbox/republish")) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweepers_never_expire_one_transaction_twice(settings, fake_ledger, fake_wallet):
    settings.SERVICE_HTTP_TIMEOUT = 20
    expire_may_answer = threading.Event()
    fake_ledger.route("GET", "/entries/", ENTRY_NOT_FOUND)
    fake_ledger.route("POST", "/entries/", lambda call: expire_may_answer.wait(20) and expire_rejects(call))
    fake_ledger.route("POST", "/internal/outbox/republish", (200, {"republished": 1}))
    tx = age(TransactionFactory(status="RESERVED"), seconds=PAST_EXPIRY)

    def one_round():
        try:
            return sweeper_round()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(one_round)
        # The second sweeper runs while the first is inside the ledger call with the row leased.
        wait_until(lambda: fake_ledger.calls_to("POST", "/entries/"), timeout=10, message="first expire call")
        second = pool.submit(one_round).result(timeout=10)
        expire_may_answer.set()
        assert (first.result(timeout=20), second) == (1, 0)
    assert status_of(tx) == ("FAILED", "expired")
    assert len(fake_ledger.calls_to("POST", "/entries/")) == 1
