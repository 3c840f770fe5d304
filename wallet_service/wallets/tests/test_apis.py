import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from walletkit.testing.clients import client_with
from walletkit.testing.tokens import user_token
from wallets.models import Hold, Wallet
from wallets.tests.conftest import wallet_funded

pytestmark = pytest.mark.django_db


def hold_body(sender, receiver, amount="10.0000", **overrides):
    body = {
        "transaction_id": str(uuid.uuid4()), "type": "TRANSFER", "from_wallet_id": str(sender.id),
        "to_wallet_id": str(receiver.id), "amount": amount,
    }  # fmt: skip
    return body | overrides


def test_open_wallet_with_a_user_token(user_client):
    response = user_client(5).post("/wallets", {"currency": "eur", "name": "Main"}, format="json")
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["owner_id"] == 5 and body["currency"] == "EUR" and body["name"] == "Main"
    assert (body["balance"], body["held"], body["available"]) == ("0.0000", "0.0000", "0.0000")
    assert Wallet.objects.get(id=body["id"]).owner_id == 5


def test_open_wallet_with_a_service_token_on_behalf_of_a_user(service_client):
    response = service_client(on_behalf_of=9, caller="gateway").post("/wallets", {"currency": "USD"}, format="json")
    assert response.status_code == 201
    assert response.json()["owner_id"] == 9


def test_open_wallet_refuses_an_unknown_currency(user_client):
    response = user_client(5).post("/wallets", {"currency": "XYZ"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "currency" in response.json()["errors"]
    assert not Wallet.objects.exists()


def test_requests_without_a_valid_token_are_refused():
    assert client_with("not-a-token").get("/wallets").status_code == 401
    assert APIClient().get("/wallets").status_code == 401


def test_list_shows_only_the_callers_wallets(user_client):
    mine = wallet_funded(owner_id=1, amount="12.5")
    wallet_funded(owner_id=2)
    response = user_client(1).get("/wallets")
    assert response.status_code == 200
    assert [(w["id"], w["balance"]) for w in response.json()] == [(str(mine.id), "12.5000")]


def test_detail_for_the_owner_and_for_services_but_404_for_others(user_client, service_client):
    wallet = wallet_funded(owner_id=1, amount="3")
    assert user_client(1).get(f"/wallets/{wallet.id}").json()["available"] == "3.0000"
    assert service_client(caller="history").get(f"/wallets/{wallet.id}").status_code == 200
    assert service_client(caller="gateway").get(f"/wallets/{wallet.id}").status_code == 200
    # transaction: whose wallet a payment request is paid into (decision 0014); owner_id says.
    seen = service_client(caller="transaction").get(f"/wallets/{wallet.id}")
    assert (seen.status_code, seen.json()["owner_id"]) == (200, 1)
    other = user_client(2).get(f"/wallets/{wallet.id}")
    assert (other.status_code, other.json()["code"]) == (404, "wallet_not_found")


def test_reserve_creates_then_a_retry_returns_the_same_hold(service_client):
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    body = hold_body(sender, receiver, "25.5")
    first = service_client(on_behalf_of=1).post("/holds", body, format="json")
    again = service_client(on_behalf_of=1).post("/holds", body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() == {
        "transaction_id": body["transaction_id"], "status": "RESERVED", "type": "TRANSFER",
        "amount": "25.5000", "currency": "EUR", "reason": "", "from_wallet_id": str(sender.id),
        "to_wallet_id": str(receiver.id), "from_owner_id": 1, "to_owner_id": 2,
    }  # fmt: skip
    sender.refresh_from_db()
    assert sender.held == Decimal("25.5")


def test_reserve_with_insufficient_funds_is_422_and_changes_nothing(service_client):
    sender, receiver = wallet_funded(owner_id=1, amount="5"), wallet_funded(owner_id=2)
    response = service_client(on_behalf_of=1).post("/holds", hold_body(sender, receiver, "5.0001"), format="json")
    assert (response.status_code, response.json()["code"]) == (422, "insufficient_funds")
    assert response.json()["available"] == "5.0000"
    sender.refresh_from_db()
    assert sender.held == 0
    assert not Hold.objects.filter(type="TRANSFER").exists()


def test_void_answers_the_tombstone_then_a_reserve_is_422_expired(service_client, user_client):
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    body = hold_body(sender, receiver, "25")
    path = f"/holds/{body['transaction_id']}/void"

    voided = service_client(on_behalf_of=1).post(path, {"type": "TRANSFER", "amount": "25"}, format="json")
    late = service_client(on_behalf_of=1).post("/holds", body, format="json")

    assert (voided.status_code, voided.json()["status"], voided.json()["from_wallet_id"]) == (200, "VOIDED", None)
    assert (late.status_code, late.json()["code"]) == (422, "expired")
    assert user_client(1).post(path, {"type": "TRANSFER", "amount": "25"}, format="json").status_code == 403


def test_void_after_a_reserve_answers_that_hold(service_client):
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    body = hold_body(sender, receiver, "25")
    service_client(on_behalf_of=1).post("/holds", body, format="json")

    voided = service_client(on_behalf_of=1).post(
        f"/holds/{body['transaction_id']}/void", {"type": "TRANSFER", "amount": "25"}, format="json"
    )

    assert (voided.status_code, voided.json()["status"]) == (200, "RESERVED")


def test_reserve_from_someone_elses_wallet_is_404(service_client):
    sender, receiver = wallet_funded(owner_id=1, amount="5"), wallet_funded(owner_id=2)
    response = service_client(on_behalf_of=2).post("/holds", hold_body(sender, receiver), format="json")
    assert (response.status_code, response.json()["code"]) == (404, "wallet_not_found")


def test_reserve_across_currencies_is_422_between_own_wallets(service_client):
    sender, receiver = wallet_funded(owner_id=1, amount="50"), wallet_funded(owner_id=1, currency="GBP")
    response = service_client(on_behalf_of=1).post("/holds", hold_body(sender, receiver), format="json")
    assert (response.status_code, response.json()["code"]) == (422, "currency_mismatch")


@pytest.mark.parametrize("amount", ["1.00001", "0", "-3", "NaN", "abc", 1.5, "1000000000.0001"])
def test_reserve_refuses_bad_amounts_without_rounding(service_client, amount):
    sender, receiver = wallet_funded(owner_id=1, amount="50"), wallet_funded(owner_id=2)
    response = service_client(on_behalf_of=1).post("/holds", hold_body(sender, receiver, amount), format="json")
    assert response.status_code == 400
    assert "amount" in response.json()["errors"]
    assert not Hold.objects.filter(type="TRANSFER").exists()


def test_reserve_refuses_a_transfer_without_a_receiver(service_client):
    sender = wallet_funded(owner_id=1, amount="50")
    body = hold_body(sender, sender, to_wallet_id=None)
    response = service_client(on_behalf_of=1).post("/holds", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_movement")


def test_each_endpoint_serves_only_the_services_that_call_it(service_client):
    """Decision 0003: a service token is scoped to its callee, and each view names its callers."""
    wallet = wallet_funded(owner_id=1, amount="50")
    body = hold_body(wallet, wallet_funded(owner_id=2))
    for caller in ("gateway", "ledger", "history", "wallet"):
        client = service_client(on_behalf_of=1, caller=caller)
        assert client.post("/holds", body, format="json").status_code == 403, caller
        assert client.get(f"/holds/{body['transaction_id']}").status_code == 403, caller
        void = {"type": "TRANSFER", "amount": "1"}
        assert client.post(f"/holds/{body['transaction_id']}/void", void, format="json").status_code == 403, caller
    for caller in ("transaction", "ledger", "history"):
        client = service_client(on_behalf_of=1, caller=caller)
        assert client.get("/wallets").status_code == 403, caller
        assert client.post("/wallets", {"currency": "EUR"}, format="json").status_code == 403, caller
    assert service_client(caller="ledger").get(f"/wallets/{wallet.id}").status_code == 403
    assert not Hold.objects.filter(type="TRANSFER").exists() and Wallet.objects.count() == 2


def test_holds_are_for_services_acting_for_a_user(user_client, service_client):
    sender, receiver = wallet_funded(owner_id=1, amount="50"), wallet_funded(owner_id=2)
    body = hold_body(sender, receiver)
    assert user_client(1).post("/holds", body, format="json").status_code == 403
    anonymous_service = service_client().post("/holds", body, format="json")
    assert (anonymous_service.status_code, anonymous_service.json()["code"]) == (403, "user_required")
    assert not Hold.objects.filter(type="TRANSFER").exists()


def test_hold_detail_for_services_only(user_client, service_client):
    sender, receiver = wallet_funded(owner_id=1, amount="50"), wallet_funded(owner_id=2)
    body = hold_body(sender, receiver)
    service_client(on_behalf_of=1).post("/holds", body, format="json")
    found = service_client().get(f"/holds/{body['transaction_id']}")
    assert (found.status_code, found.json()["status"]) == (200, "RESERVED")
    assert user_client(1).get(f"/holds/{body['transaction_id']}").status_code == 403
    missing = service_client().get(f"/holds/{uuid.uuid4()}")
    assert (missing.status_code, missing.json()["code"]) == (404, "hold_not_found")


def test_expired_user_token_is_refused():
    assert client_with(user_token(1, seconds=-10)).get("/wallets").status_code == 401
    assert client_with(user_token(1)).get("/wallets").status_code == 200
