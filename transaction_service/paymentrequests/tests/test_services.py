"""Payment requests against the real database, a fake wallet over real HTTP, and real threads."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from paymentrequests.models import PaymentRequest
from schedules.scheduler import scheduler_round
from transactions.models import Transaction
from transactions.services import transaction_status_advance
from transactions.tests.fakes import hold_created
from walletkit.outbox.models import OutboxEvent
from walletkit.testing.tokens import service_token_as

pytestmark = pytest.mark.django_db

REQUESTER, PAYER = 3, 4
TO_WALLET, FROM_WALLET = uuid.uuid4(), uuid.uuid4()


def requesters_wallet(call):
    return 200, {"id": str(TO_WALLET), "owner_id": REQUESTER, "currency": "EUR"}


def as_gateway(user_id: int) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {service_token_as('gateway', on_behalf_of=user_id)}")
    return client


def create(**overrides) -> dict:
    body = {"to_wallet_id": str(TO_WALLET), "payer_id": PAYER, "payer_username": "bob",
            "requester_username": "alice", "amount": "20", "note": "dinner", **overrides}  # fmt: skip
    response = as_gateway(REQUESTER).post("/payment-requests", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def pay(request_id: str, *, key: str, user_id: int = PAYER, from_wallet_id: uuid.UUID = FROM_WALLET):
    return as_gateway(user_id).post(
        f"/payment-requests/{request_id}/pay", {"from_wallet_id": str(from_wallet_id)}, format="json",
        headers={"Idempotency-Key": key},
    )  # fmt: skip


def pushed(request_id: str) -> list[dict]:
    """The PaymentRequestChanged events in the outbox for this request, oldest first."""
    events = OutboxEvent.objects.filter(key=request_id).order_by("id")
    return [e.envelope["payload"] for e in events if e.envelope["event_type"] == "PaymentRequestChanged"]


@pytest.fixture
def wallet(fake_wallet):
    fake_wallet.route("GET", "/wallets/", requesters_wallet)
    fake_wallet.route("POST", "/holds", hold_created)
    return fake_wallet


def test_create_answers_201_with_both_usernames_and_tells_both_people(wallet):
    request = create()
    assert (request["requester"], request["payer"], request["amount"], request["currency"], request["status"]) == (
        "alice", "bob", "20.0000", "EUR", "PENDING")  # fmt: skip
    [event] = pushed(request["id"])
    assert (event["payment_request"], event["user_ids"]) == (request, [REQUESTER, PAYER])


def test_create_into_someone_elses_wallet_is_404_and_a_user_token_may_not_create(wallet, api_client_for):
    response = as_gateway(99).post("/payment-requests", {"to_wallet_id": str(TO_WALLET), "payer_id": PAYER,
                                   "payer_username": "bob", "requester_username": "eve", "amount": "1"},
                                   format="json")  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (404, "wallet_not_found")
    direct = api_client_for(REQUESTER).post("/payment-requests", {}, format="json")
    assert direct.status_code == 403
    assert not PaymentRequest.objects.exists()


def test_asking_yourself_or_an_invalid_amount_is_400(wallet):
    for overrides in ({"payer_id": REQUESTER}, {"amount": "0"}, {"amount": 2.5}):
        body = {"to_wallet_id": str(TO_WALLET), "payer_id": PAYER, "payer_username": "bob",
                "requester_username": "alice", "amount": "1", **overrides}  # fmt: skip
        response = as_gateway(REQUESTER).post("/payment-requests", body, format="json")
        assert response.status_code == 400, response.json()
    assert not PaymentRequest.objects.exists()


def test_paying_makes_one_transfer_to_the_requested_wallet_and_success_marks_it_paid(wallet):
    request = create()
    response = pay(request["id"], key="k1")
    assert response.status_code == 202, response.json()
    tx = Transaction.objects.get(id=response.json()["id"])
    assert (tx.owner_id, tx.to_wallet_id, str(tx.amount), tx.type) == (PAYER, TO_WALLET, "20.0000", "TRANSFER")
    assert pay(request["id"], key="k1").json() == response.json()  # a retry replays the first answer
    conflict = pay(request["id"], key="k1", from_wallet_id=uuid.uuid4())
    assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")
    assert pay(request["id"], key="k2").json()["code"] == "request_not_pending"  # being paid
    transaction_status_advance(transaction_id=tx.id, status="SUCCESS")
    shown = as_gateway(REQUESTER).get(f"/payment-requests/{request['id']}").json()
    assert (shown["status"], shown["transaction_id"]) == ("PAID", str(tx.id))
    assert pushed(request["id"])[-1]["payment_request"]["status"] == "PAID"
    again = pay(request["id"], key="k3")
    assert (again.status_code, again.json()["code"]) == (409, "request_not_pending")
    assert Transaction.objects.count() == 1


def test_a_refused_payment_leaves_the_request_pending_with_the_reason_and_it_can_be_paid_again(wallet):
    wallet.route("POST", "/holds", (422, {"code": "insufficient_funds", "detail": "No.", "available": "1"}))
    request = create()
    refused = pay(request["id"], key="k1")
    assert (refused.status_code, refused.json()["code"]) == (422, "insufficient_funds")
    shown = as_gateway(PAYER).get(f"/payment-requests/{request['id']}").json()
    assert (shown["status"], shown["failure_reason"]) == ("PENDING", "insufficient_funds")
    wallet.route("POST", "/holds", hold_created)
    assert pay(request["id"], key="k2").status_code == 202


@pytest.mark.django_db(transaction=True)
def test_concurrent_pays_with_different_keys_make_one_transfer(wallet):
    request = create()
    start = threading.Barrier(6)
    answers: list[int] = []

    def payer(n: int) -> None:
        try:
            start.wait()
            answers.append(pay(request["id"], key=f"key-{n}").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=payer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [202, 409, 409, 409, 409, 409]
    assert Transaction.objects.count() == 1
    assert len(wallet.calls_to("POST", "/holds")) == 1


def test_only_the_payer_declines_only_the_requester_cancels_and_a_third_person_sees_nothing(wallet):
    request = create()
    path = f"/payment-requests/{request['id']}"
    assert as_gateway(99).get(path).status_code == 404
    assert as_gateway(99).post(path + "/decline").status_code == 404
    assert as_gateway(REQUESTER).post(path + "/decline").status_code == 403
    assert as_gateway(PAYER).post(path + "/cancel").status_code == 403
    declined = as_gateway(PAYER).post(path + "/decline")
    assert (declined.status_code, declined.json()["status"]) == (200, "DECLINED")
    assert as_gateway(REQUESTER).post(path + "/cancel").json()["code"] == "request_not_pending"
    assert pay(request["id"], key="k1").json()["code"] == "request_not_pending"
    assert [e["payment_request"]["status"] for e in pushed(request["id"])] == ["PENDING", "DECLINED"]

    other = create()
    cancelled = as_gateway(REQUESTER).post(f"/payment-requests/{other['id']}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "CANCELLED")


def test_a_request_past_expires_at_is_expired_by_the_scheduler_and_cannot_be_paid(wallet):
    request = create(expires_at=(timezone.now() + timedelta(seconds=30)).isoformat())
    PaymentRequest.objects.filter(id=request["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    scheduler_round()
    assert PaymentRequest.objects.get(id=request["id"]).status == "EXPIRED"
    assert pushed(request["id"])[-1]["payment_request"]["status"] == "EXPIRED"
    assert pay(request["id"], key="k1").json()["code"] == "request_not_pending"


def test_lists_incoming_and_outgoing_newest_first_in_pages(wallet):
    first, second, third = create(), create(), create()
    incoming = as_gateway(PAYER).get("/payment-requests", {"role": "payer", "limit": 2}).json()
    assert [r["id"] for r in incoming["results"]] == [third["id"], second["id"]]
    rest = as_gateway(PAYER).get("/payment-requests", {"role": "payer", "cursor": incoming["next"]}).json()
    assert ([r["id"] for r in rest["results"]], rest["next"]) == ([first["id"]], None)
    assert as_gateway(PAYER).get("/payment-requests", {"role": "requester"}).json()["results"] == []
    assert len(as_gateway(REQUESTER).get("/payment-requests", {"status": "PENDING"}).json()["results"]) == 3
