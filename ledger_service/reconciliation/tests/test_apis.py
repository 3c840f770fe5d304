"""Staff only: users and services get 403; staff see runs, and dead letters of this service."""

import pytest

from reconciliation.models import ReconciliationRun
from reconciliation.tests.factories import ReconciliationRunFactory
from walletkit.inbox.models import DeadLetter
from walletkit.testing.clients import client_with
from walletkit.testing.tokens import service_token_as, user_token

pytestmark = pytest.mark.django_db

STAFF_GETS = ["/reconciliation/runs", "/reconciliation/totals", "/reconciliation/repairs",
              "/reconciliation/stuck-sagas", "/reconciliation/dead-letters", "/reconciliation/operations"]  # fmt: skip


@pytest.mark.parametrize("path", STAFF_GETS)
def test_non_staff_are_refused(path):
    assert client_with(user_token(5)).get(path).status_code == 403
    assert client_with(service_token_as("ledger")).get(path).status_code == 403


def test_non_staff_cannot_run_or_resolve():
    client = client_with(user_token(5))
    assert client.post("/reconciliation/runs").status_code == 403
    assert client.post("/reconciliation/findings/1/resolve", {}, format="json").status_code == 403
    assert not ReconciliationRun.objects.exists()


def test_staff_list_runs_newest_first_and_see_a_run():
    old = ReconciliationRunFactory(status="CLEAN")
    new = ReconciliationRunFactory(status="FINDINGS")
    staff = client_with(user_token(1, is_staff=True))
    body = staff.get("/reconciliation/runs", {"limit": 1}).json()
    assert [run["id"] for run in body["results"]] == [new.id] and body["next"] == new.id
    assert staff.get(f"/reconciliation/runs/{old.id}").json()["findings"] == []
    assert staff.get("/reconciliation/runs/999999").status_code == 404


def test_dead_letters_endpoint_is_internal_and_pages():
    for offset in range(3):
        DeadLetter.objects.create(
            consumer="c", topic="t", partition=0, offset=offset, value="{}", error="e", attempts=3
        )
    assert client_with(user_token(1, is_staff=True)).get("/internal/dead-letters").status_code == 403
    assert client_with(service_token_as("transaction")).get("/internal/dead-letters").status_code == 403
    service = client_with(service_token_as("ledger"))
    first = service.get("/internal/dead-letters", {"limit": 2}).json()
    second = service.get("/internal/dead-letters", {"after": first["next"], "limit": 2}).json()
    assert [row["offset"] for row in first["results"] + second["results"]] == [0, 1, 2] and second["next"] is None
