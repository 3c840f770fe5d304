from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from transactions.models import Transaction
from transactions.tests.factories import TransactionFactory
from transactions.tests.fakes import hold_created

pytestmark = pytest.mark.django_db

SHAPE = {
    "id", "type", "status", "amount", "currency", "from_wallet_id", "to_wallet_id", "failure_reason",
    "created_at", "updated_at", "reserved_at", "posted_at", "refund_of",
}  # fmt: skip


def test_post_runs_the_saga_and_answers_202_with_the_transaction(api_client_for, fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    request = {"type": "DEPOSIT", "to_wallet_id": str(uuid.uuid4()), "amount": "25", "idempotency_key": "k1"}

    response = api_client_for(3).post("/transactions", request, format="json")

    assert response.status_code == 202
    assert set(response.json()) == SHAPE
    assert (response.json()["status"], response.json()["amount"]) == ("RESERVED", "25.0000")
    assert Transaction.objects.get().owner_id == 3
    again = api_client_for(3).post("/transactions", request, format="json")
    assert (again.status_code, again.json()) == (202, response.json())


@pytest.mark.parametrize("amount", [12.5, 0, "1e3000", None])
def test_post_with_an_invalid_amount_is_400_under_errors_amount(api_client_for, fake_wallet, amount):
    request = {"type": "DEPOSIT", "to_wallet_id": str(uuid.uuid4()), "amount": amount, "idempotency_key": "k1"}

    response = api_client_for(3).post("/transactions", request, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["amount"]
    assert not Transaction.objects.exists()


def test_post_without_a_key_is_400(api_client_for, fake_wallet):
    request = {"type": "DEPOSIT", "to_wallet_id": str(uuid.uuid4()), "amount": "1"}

    response = api_client_for(3).post("/transactions", request, format="json")

    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required")


def test_the_key_may_come_in_the_idempotency_key_header(api_client_for, fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    request = {"type": "DEPOSIT", "to_wallet_id": str(uuid.uuid4()), "amount": "1"}

    first = api_client_for(3).post("/transactions", request, format="json", HTTP_IDEMPOTENCY_KEY="h1")
    again = api_client_for(3).post("/transactions", request, format="json", HTTP_IDEMPOTENCY_KEY="h1")

    assert (first.status_code, again.json()) == (202, first.json())
    assert Transaction.objects.get().idempotency_key == "h1"


def test_no_token_is_401():
    assert APIClient().get("/transactions").status_code == 401


def test_detail_is_visible_to_both_sides_and_404_to_anyone_else(api_client_for):
    tx = TransactionFactory(owner_id=1, counterparty_owner_id=2)

    for user_id in (1, 2):
        response = api_client_for(user_id).get(f"/transactions/{tx.id}")
        assert (response.status_code, response.json()["id"]) == (200, str(tx.id))
    assert api_client_for(3).get(f"/transactions/{tx.id}").status_code == 404
    assert api_client_for(1).get(f"/transactions/{uuid.uuid4()}").status_code == 404


def test_list_pages_newest_first_through_every_visible_transaction_once(api_client_for):
    now = timezone.now()
    mine = [TransactionFactory(owner_id=1, counterparty_owner_id=None) for _ in range(3)]
    received = [TransactionFactory(owner_id=2, counterparty_owner_id=1) for _ in range(2)]
    TransactionFactory(owner_id=2, counterparty_owner_id=3)
    visible = mine + received
    for index, tx in enumerate(visible):  # two share a created_at: the id breaks the tie
        Transaction.objects.filter(id=tx.id).update(created_at=now - timedelta(seconds=index // 2))
    expected = [
        str(tx.id) for tx in sorted(Transaction.objects.filter(id__in=[t.id for t in visible]),
                                    key=lambda t: (t.created_at, t.id), reverse=True)
    ]  # fmt: skip
    client, seen, cursor = api_client_for(1), [], None

    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = client.get("/transactions", params).json()
        seen += [row["id"] for row in body["results"]]
        cursor = body["next"]
        if cursor is None:
            break

    assert seen == expected


def test_list_filters_by_wallet_and_status(api_client_for):
    wallet = uuid.uuid4()
    sent = TransactionFactory(owner_id=1, from_wallet_id=wallet, status="SUCCESS")
    received = TransactionFactory(owner_id=2, counterparty_owner_id=1, to_wallet_id=wallet, status="FAILED")
    TransactionFactory(owner_id=1, status="SUCCESS")
    client = api_client_for(1)

    by_wallet = client.get("/transactions", {"wallet": str(wallet)}).json()["results"]
    by_both = client.get("/transactions", {"wallet": str(wallet), "status": "SUCCESS"}).json()["results"]

    assert {row["id"] for row in by_wallet} == {str(sent.id), str(received.id)}
    assert [row["id"] for row in by_both] == [str(sent.id)]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"status": "DONE"}, {"wallet": "x"}, {"cursor": "!!"}]
)
def test_list_with_bad_parameters_is_400(api_client_for, params):
    assert api_client_for(1).get("/transactions", params).status_code == 400


@pytest.fixture
def recount_every_time(monkeypatch):
    from transactions import services

    monkeypatch.setattr(services, "OPEN_SAGAS_RECOUNT_SECONDS", 0)


def test_new_movements_are_429_with_retry_after_while_too_many_sagas_are_unfinished(
    api_client_for, fake_wallet, settings, recount_every_time
):
    settings.SAGAS_IN_FLIGHT_MAX = 2
    fake_wallet.route("POST", "/holds", hold_created)  # reserved, then never settled: both stay open
    deposit = {"type": "DEPOSIT", "to_wallet_id": str(uuid.uuid4()), "amount": "25"}
    first = api_client_for(3).post("/transactions", deposit | {"idempotency_key": "k1"}, format="json")
    api_client_for(3).post("/transactions", deposit | {"idempotency_key": "k2"}, format="json")

    refused = api_client_for(3).post("/transactions", deposit | {"idempotency_key": "k3"}, format="json")

    assert (refused.status_code, refused.json()["code"], refused["Retry-After"]) == (429, "overloaded", "1")
    assert Transaction.objects.count() == 2 and len(fake_wallet.calls_to("POST", "/holds")) == 2
    replay = api_client_for(3).post("/transactions", deposit | {"idempotency_key": "k1"}, format="json")
    assert (replay.status_code, replay.json()) == (202, first.json())
    Transaction.objects.filter(idempotency_key="k1").update(status="SUCCESS")
    accepted = api_client_for(3).post("/transactions", deposit | {"idempotency_key": "k3"}, format="json")
    assert accepted.status_code == 202
