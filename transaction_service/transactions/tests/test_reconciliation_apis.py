"""The internal reads reconciliation pages through: service tokens only, keyset pages, stuck sagas."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from transactions.models import Transaction, TransactionAnomaly, TransactionStatus
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


def _changed_pages(service, changed_since: str, limit: int) -> tuple[list[str], list[dict]]:
    seen, bodies, after = [], [], None
    while True:
        params = {"changed_since": changed_since, "limit": limit} | ({"after": after} if after else {})
        response = service.get("/internal/reconciliation/transactions", params)
        assert response.status_code == 200, response.content
        bodies.append(response.json())
        seen += [row["id"] for row in bodies[-1]["results"]]
        after = bodies[-1]["next"]
        if after is None:
            return seen, bodies


def test_changed_since_pages_every_status_changed_at_or_after_it_once(service):
    """Incremental reconciliation: every transaction whose row changed since the watermark (any status:
    a FAILED one with an entry is a finding too), and none older, keyset on (updated_at, id)."""
    now = timezone.now()
    old = [TransactionFactory(status=TransactionStatus.SUCCESS) for _ in range(3)]
    Transaction.objects.filter(id__in=[tx.id for tx in old]).update(updated_at=now - timedelta(hours=1))
    recent = [TransactionFactory(status=status) for status in ("SUCCESS", "FAILED", "RESERVED", "SUCCESS", "SUCCESS")]
    Transaction.objects.filter(id__in=[tx.id for tx in recent[:2]]).update(updated_at=now)  # ties on updated_at
    seen, bodies = _changed_pages(service, (now - timedelta(minutes=1)).isoformat(), limit=2)
    assert sorted(seen) == sorted(str(tx.id) for tx in recent)
    assert len(bodies) == 3 and {row["status"] for body in bodies for row in body["results"]} >= {"FAILED"}
    assert all("updated_at" in row for body in bodies for row in body["results"])


def test_changed_since_refuses_a_forged_cursor_and_a_bad_time(service):
    bad_cursor = service.get("/internal/reconciliation/transactions", {"changed_since": timezone.now().isoformat(),
                                                                       "after": "not-a-cursor"})  # fmt: skip
    assert (bad_cursor.status_code, bad_cursor.json()["code"]) == (400, "invalid_cursor")
    bad_time = service.get("/internal/reconciliation/transactions", {"changed_since": "yesterday"})
    assert bad_time.status_code == 400 and bad_time.json()["code"] == "invalid"
