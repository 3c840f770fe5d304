from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from schedules.dates import today_utc
from schedules.models import ScheduledTransfer
from schedules.tests.factories import ScheduledTransferFactory

pytestmark = pytest.mark.django_db


def own_wallet(call):
    return 200, {"id": call.path.rsplit("/", 1)[1], "currency": "EUR", "balance": "0.0000"}


def body(**overrides):
    return {
        "from_wallet_id": str(uuid.uuid4()), "to_wallet_id": str(uuid.uuid4()), "amount": "12.5",
        "start_date": today_utc().isoformat(), "repeat": "monthly", "note": "rent", **overrides,
    }  # fmt: skip


def test_create_answers_201_with_the_schedule_and_asks_the_wallet_with_the_callers_token(api_client_for, fake_wallet):
    fake_wallet.route("GET", "/wallets/", own_wallet)
    response = api_client_for(3).post("/scheduled-transfers", body(), format="json")
    assert response.status_code == 201, response.json()
    shape = response.json()
    assert (shape["amount"], shape["currency"], shape["status"], shape["repeat"]) == ("12.5000", "EUR", "ACTIVE",
                                                                                      "monthly")  # fmt: skip
    assert (shape["next_run_on"], shape["runs"]) == (today_utc().isoformat(), [])
    [call] = fake_wallet.calls_to("GET", "/wallets/")
    assert call.path == f"/wallets/{shape['from_wallet_id']}"
    assert ScheduledTransfer.objects.get().owner_id == 3


def test_create_from_someone_elses_wallet_is_404_and_creates_nothing(api_client_for, fake_wallet):
    fake_wallet.route("GET", "/wallets/", (404, {"code": "wallet_not_found", "detail": "Wallet not found."}))
    response = api_client_for(3).post("/scheduled-transfers", body(), format="json")
    assert (response.status_code, response.json()["code"]) == (404, "wallet_not_found")
    assert not ScheduledTransfer.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"repeat": "yearly"}, "repeat"),
        ({"start_date": (today_utc() - timedelta(days=1)).isoformat()}, "start_date"),
        ({"end_date": (today_utc() - timedelta(days=1)).isoformat()}, "end_date"),
        ({"start_date": "2026-02-30"}, "start_date"),
    ],
)
def test_create_with_invalid_input_is_400_and_creates_nothing(api_client_for, fake_wallet, overrides, field):
    fake_wallet.route("GET", "/wallets/", own_wallet)
    response = api_client_for(3).post("/scheduled-transfers", body(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not ScheduledTransfer.objects.exists()


def test_a_schedule_is_seen_changed_and_cancelled_by_its_owner_only(api_client_for):
    schedule = ScheduledTransferFactory(owner_id=3)
    path = f"/scheduled-transfers/{schedule.id}"
    for method in ("get", "patch", "delete"):
        assert getattr(api_client_for(4), method)(path, {}, format="json").status_code == 404
    assert api_client_for(4).get("/scheduled-transfers").json() == []

    paused = api_client_for(3).patch(path, {"status": "PAUSED", "amount": "9"}, format="json")
    assert (paused.status_code, paused.json()["status"], paused.json()["amount"]) == (200, "PAUSED", "9.0000")
    assert api_client_for(3).delete(path).status_code == 204
    assert api_client_for(3).get(path).json()["status"] == "CANCELLED"
    again = api_client_for(3).patch(path, {"status": "ACTIVE"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "schedule_finished")
    assert [s["id"] for s in api_client_for(3).get("/scheduled-transfers").json()] == [str(schedule.id)]
