"""The internal reads reconciliation pages through: service tokens only, keyset pages, stuck sagas."""

import pytest
from rest_framework.test import APIClient

from transactions.models import TransactionAnomaly, TransactionStatus
from transactions.tests.factories import TransactionFactory, age
from walletkit.testing.tokens import service_token_as, user_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def service() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {service_token_as('ledger')}")
    return client


def test_success_pages_cover_every_success_once_and_nothing_else(service):
    wanted = {str(TransactionFactory(status=TransactionStatus.SUCCESS).id) for _ in range(5)}
    TransactionFactory(status=TransactionStatus.RESERVED)
    seen, after = [], None
    while True:
        params = {"status": "SUCCESS", "limit": 2} | ({"after": after} if after else {})
        body = service.get("/internal/reconciliation/transactions", params).json()
        seen += [row["id"] for row in body["results"]]
        after = body["next"]
        if after is None:
            break
    assert sorted(seen) == sorted(wanted)
    assert body["results"][-1]["amount"] == "10.0000"


def test_lookup_returns_only_existing_transactions_with_their_status(service):
    tx = TransactionFactory(status=TransactionStatus.FAILED)
    missing = "00000000-0000-0000-0000-000000000001"
    body = service.post(
        "/internal/reconciliation/transactions/lookup", {"ids": [str(tx.id), missing]}, format="json"
    ).json()
    assert [(row["id"], row["status"]) for row in body["results"]] == [(str(tx.id), "FAILED")]


def test_stuck_sagas_are_open_ones_past_the_deadline(service):
    stuck = age(TransactionFactory(status=TransactionStatus.RESERVED), seconds=500)
    age(TransactionFactory(status=TransactionStatus.SUCCESS), seconds=500)
    TransactionFactory(status=TransactionStatus.INITIATED)  # young: the sweeper still has time
    body = service.get("/internal/reconciliation/stuck-sagas").json()
    assert [row["id"] for row in body["results"]] == [str(stuck.id)]
    assert body["older_than"] == 70.0


def test_anomalies_are_listed(service):
    tx = TransactionFactory(status=TransactionStatus.FAILED)
    TransactionAnomaly.objects.create(transaction=tx, kind="posted_after_failed", detail="ledger posted it")
    body = service.get("/internal/reconciliation/anomalies").json()
    assert [(row["transaction_id"], row["kind"]) for row in body["results"]] == [(str(tx.id), "posted_after_failed")]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/internal/reconciliation/transactions"),
        ("post", "/internal/reconciliation/transactions/lookup"),
        ("get", "/internal/reconciliation/stuck-sagas"),
        ("get", "/internal/reconciliation/anomalies"),
    ],
)
def test_users_and_services_other_than_the_ledger_are_refused(method, path):
    for token in (user_token(1), *(service_token_as(caller) for caller in ("gateway", "transaction", "wallet"))):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert getattr(client, method)(path).status_code == 403
