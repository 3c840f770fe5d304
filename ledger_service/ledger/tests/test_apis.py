import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.models import Rejection
from ledger.tests.conftest import deposit, events_for, transfer
from walletkit.testing.clients import client_with
from walletkit.testing.tokens import service_token_as, user_token

pytestmark = pytest.mark.django_db

A, B = uuid.uuid4(), uuid.uuid4()


def expire_body(**overrides):
    body = {
        "reason": "expired", "type": "TRANSFER", "amount": "3.0000", "currency": "EUR",
        "from_wallet_id": str(A), "to_wallet_id": str(B),
    }  # fmt: skip
    return body | overrides


def test_entry_status_posted_rejected_or_404(service_client):
    posted = deposit(A, "10")
    rejected = transfer(A, B, "11", transaction_id=uuid.uuid4())
    assert service_client.get(f"/entries/{posted.transaction_id}").json() == {
        "transaction_id": str(posted.transaction_id), "status": "POSTED", "reason": "",
        "entry_id": str(posted.entry_id),
    }  # fmt: skip
    body = service_client.get(f"/entries/{rejected.transaction_id}").json()
    assert (body["status"], body["reason"], body["entry_id"]) == ("REJECTED", "insufficient_funds", None)
    missing = service_client.get(f"/entries/{uuid.uuid4()}")
    assert (missing.status_code, missing.json()["code"]) == (404, "entry_not_found")


def test_entries_are_for_services_only():
    posted = deposit(A, "10")
    assert client_with(user_token(1, is_staff=True)).get(f"/entries/{posted.transaction_id}").status_code == 403


def test_expire_rejects_an_undecided_transaction_once(service_client):
    transaction_id = uuid.uuid4()
    first = service_client.post(f"/entries/{transaction_id}/expire", expire_body(), format="json")
    again = service_client.post(f"/entries/{transaction_id}/expire", expire_body(reason="other"), format="json")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert (first.json()["status"], first.json()["reason"]) == ("REJECTED", "expired")
    assert Rejection.objects.filter(transaction_id=transaction_id).count() == 1
    [envelope] = events_for(transaction_id)
    assert envelope["event_type"] == "LedgerRejected"
    assert envelope["payload"]["amount"] == "3.0000" and envelope["payload"]["reason"] == "expired"


def test_expire_of_a_posted_transaction_answers_posted(service_client):
    deposit(A, "10")
    posted = transfer(A, B, "3")
    response = service_client.post(f"/entries/{posted.transaction_id}/expire", expire_body(), format="json")
    assert (response.status_code, response.json()["status"]) == (200, "POSTED")
    assert not Rejection.objects.exists()


def test_expire_refuses_bad_input(service_client):
    response = service_client.post(f"/entries/{uuid.uuid4()}/expire", expire_body(amount="1.00001"), format="json")
    assert response.status_code == 400 and "amount" in response.json()["errors"]
    assert not Rejection.objects.exists()


def test_only_the_sweeper_reads_and_expires_entries():
    """Decision 0003: transaction_service is the one caller; any other service's token is 403."""
    posted = deposit(A, "10")
    for caller in ("gateway", "wallet", "ledger", "history"):
        client = client_with(service_token_as(caller))
        assert client.get(f"/entries/{posted.transaction_id}").status_code == 403, caller
        assert client.post(f"/entries/{uuid.uuid4()}/expire", expire_body(), format="json").status_code == 403
    assert not Rejection.objects.exists()


def test_balance_from_postings_now_and_as_of(staff_client):
    deposit(A, "10")
    between = timezone.now()
    transfer(A, B, "2.5")
    now = staff_client.get(f"/accounts/{A}/balance").json()
    assert (now["wallet_id"], now["currency"], now["balance"]) == (str(A), "EUR", "7.5000")
    earlier = staff_client.get(f"/accounts/{A}/balance", {"as_of": between.isoformat()}).json()
    assert earlier["balance"] == "10.0000"
    before_all = staff_client.get(f"/accounts/{B}/balance", {"as_of": (between - timedelta(days=1)).isoformat()})
    assert before_all.json()["balance"] == "0.0000"


def test_balance_for_staff_users_but_not_others(service_client):
    deposit(A, "1")
    assert client_with(user_token(1, is_staff=True)).get(f"/accounts/{A}/balance").json()["balance"] == "1.0000"
    assert client_with(user_token(1)).get(f"/accounts/{A}/balance").status_code == 403
    assert service_client.get(f"/accounts/{A}/balance").status_code == 403  # only the gateway of the services


def test_balance_of_an_unknown_wallet_is_404_and_bad_as_of_is_400(staff_client):
    assert staff_client.get(f"/accounts/{uuid.uuid4()}/balance").json()["code"] == "account_not_found"
    deposit(A, "1")
    assert staff_client.get(f"/accounts/{A}/balance", {"as_of": "yesterday"}).status_code == 400
    assert Decimal(staff_client.get(f"/accounts/{A}/balance").json()["balance"]) == 1
