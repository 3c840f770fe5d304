"""GET /wallets/{id}/history and /activity: owner only, newest first, every entry exactly once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from history.handlers import transaction_event_handle, wallet_event_handle
from history.models import HistoryEntry, WalletOwner
from history.tests.conftest import movement, status_changed, wallet_opened

pytestmark = pytest.mark.django_db

BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)


def entry_create(*, owner_id: int, wallet_id: uuid.UUID, minutes: int, status: str = "SUCCESS",
                 type_: str = "DEPOSIT", updated_at: datetime | None = None) -> HistoryEntry:  # fmt: skip
    return HistoryEntry.objects.create(
        transaction_id=uuid.uuid4(), wallet_id=wallet_id, owner_id=owner_id, type=type_,
        direction="DEBIT" if type_ == "WITHDRAWAL" else "CREDIT", amount="1.0000", currency="USD",
        status=status, status_rank=2 if status in ("SUCCESS", "FAILED") else 1,
        occurred_at=BASE_TIME + timedelta(minutes=minutes), updated_at=updated_at or timezone.now(),
    )  # fmt: skip


def all_pages(client, path: str, **params) -> list[dict]:
    results, cursor = [], None
    while True:
        response = client.get(path, {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        results += body["results"]
        cursor = body["next"]
        if cursor is None:
            return results


@pytest.fixture
def wallet_of_alice() -> uuid.UUID:
    wallet_id = uuid.uuid4()
    WalletOwner.objects.create(wallet_id=wallet_id, owner_id=1, currency="USD")
    return wallet_id


def test_paging_returns_every_entry_exactly_once_newest_first(client_for, wallet_of_alice):
    # Several entries share an occurred_at: the id breaks the tie, so no page boundary loses one.
    created = [entry_create(owner_id=1, wallet_id=wallet_of_alice, minutes=minute // 3) for minute in range(23)]

    results = all_pages(client_for(1), f"/wallets/{wallet_of_alice}/history", limit=4)

    assert [r["id"] for r in results] == [
        str(e.id) for e in sorted(created, key=lambda e: (e.occurred_at, e.id), reverse=True)
    ]


def test_filters_narrow_every_page(client_for, wallet_of_alice):
    other_wallet = uuid.uuid4()
    for minute in range(12):
        entry_create(owner_id=1, wallet_id=wallet_of_alice, minutes=minute,
                     status="FAILED" if minute % 3 == 0 else "SUCCESS",
                     type_="WITHDRAWAL" if minute % 2 else "DEPOSIT")  # fmt: skip
        entry_create(owner_id=1, wallet_id=other_wallet, minutes=minute, status="FAILED")

    failed = all_pages(client_for(1), f"/wallets/{wallet_of_alice}/history", limit=2, status="FAILED")
    withdrawals = all_pages(client_for(1), "/activity", limit=3, type="WITHDRAWAL")
    window = all_pages(
        client_for(1), "/activity", limit=5,
        since=(BASE_TIME + timedelta(minutes=3)).isoformat(), until=(BASE_TIME + timedelta(minutes=6)).isoformat(),
    )  # fmt: skip

    assert [r["occurred_at"][:16] for r in failed] == ["2025-01-01T00:09", "2025-01-01T00:06", "2025-01-01T00:03",
                                                        "2025-01-01T00:00"]  # fmt: skip
    assert {r["wallet_id"] for r in failed} == {str(wallet_of_alice)}
    assert len(withdrawals) == 6 and {r["type"] for r in withdrawals} == {"WITHDRAWAL"}
    assert sorted(r["occurred_at"][14:16] for r in window) == ["03", "03", "04", "04", "05", "05"]


def test_activity_covers_all_own_wallets_and_nobody_elses(client_for, wallet_of_alice):
    second_wallet = uuid.uuid4()
    mine = {entry_create(owner_id=1, wallet_id=wallet_of_alice, minutes=1).id,
            entry_create(owner_id=1, wallet_id=second_wallet, minutes=2).id}  # fmt: skip
    entry_create(owner_id=2, wallet_id=uuid.uuid4(), minutes=3)

    results = all_pages(client_for(1), "/activity")

    assert {r["id"] for r in results} == {str(i) for i in mine}


def test_changed_since_returns_what_changed_while_away(client_for, wallet_of_alice):
    last_seen = timezone.now()
    entry_create(owner_id=1, wallet_id=wallet_of_alice, minutes=1, updated_at=last_seen - timedelta(seconds=5))
    missed = entry_create(owner_id=1, wallet_id=wallet_of_alice, minutes=0, updated_at=last_seen + timedelta(seconds=1))

    results = all_pages(client_for(1), "/activity", changed_since=last_seen.isoformat())

    assert [r["id"] for r in results] == [str(missed.id)]


def test_entry_has_the_public_shape(client_for, wallet_of_alice):
    entry = entry_create(owner_id=1, wallet_id=wallet_of_alice, minutes=0)

    [result] = client_for(1).get(f"/wallets/{wallet_of_alice}/history").json()["results"]

    assert result == {
        "id": str(entry.id), "transaction_id": str(entry.transaction_id), "wallet_id": str(wallet_of_alice),
        "type": "DEPOSIT", "direction": "CREDIT", "amount": "1.0000", "currency": "USD",
        "counterparty_wallet_id": None, "status": "SUCCESS", "failure_reason": None,
        "occurred_at": "2025-01-01T00:00:00Z", "updated_at": result["updated_at"],
    }  # fmt: skip


@pytest.mark.parametrize("wallet", ["someone_elses", "unknown"])
def test_a_wallet_that_is_not_the_callers_is_not_found(client_for, wallet_of_alice, wallet, fake_wallet_service):
    entry_create(owner_id=1, wallet_id=wallet_of_alice, minutes=0)
    wallet_id = wallet_of_alice if wallet == "someone_elses" else uuid.uuid4()

    response = client_for(2).get(f"/wallets/{wallet_id}/history")

    assert response.status_code == 404
    assert response.json()["code"] == "wallet_not_found"


def test_a_brand_new_wallet_not_yet_heard_of_is_learned_from_the_wallet_service(client_for, fake_wallet_service):
    wallet_id = uuid.uuid4()
    fake_wallet_service.route(
        "GET", f"/wallets/{wallet_id}", (200, {"id": str(wallet_id), "owner_id": 2, "currency": "EUR", "name": "New"})
    )

    mine = client_for(2).get(f"/wallets/{wallet_id}/history")
    theirs = client_for(3).get(f"/wallets/{wallet_id}/history")

    assert (mine.status_code, mine.json()["results"]) == (200, [])
    assert theirs.status_code == 404
    assert WalletOwner.objects.get(wallet_id=wallet_id).owner_id == 2
    assert len(fake_wallet_service.calls) == 1  # learned once, then known


def test_an_unknown_wallet_with_the_wallet_service_down_is_503(client_for, settings):
    settings.SERVICE_URLS = {**settings.SERVICE_URLS, "wallet": "http://127.0.0.1:9"}

    response = client_for(2).get(f"/wallets/{uuid.uuid4()}/history")

    assert (response.status_code, response.json()["code"]) == (503, "service_unavailable")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "x"}, "limit"),
     ({"status": "DONE"}, "status"), ({"type": "PAYOUT"}, "type"), ({"since": "yesterday"}, "since"),
     ({"changed_since": "2025-13-01T00:00:00Z"}, "changed_since"),
     ({"since": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "until")],
)  # fmt: skip
def test_bad_filters_are_a_400_with_the_field_named(client_for, params, field):
    response = client_for(1).get("/activity", params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "eyJ0IjoiMjAyNSJ9", "W10"])
def test_a_forged_cursor_is_a_400(client_for, cursor):
    response = client_for(1).get("/activity", {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_without_a_token_it_is_401():
    from rest_framework.test import APIClient

    assert APIClient().get("/activity").status_code == 401


def test_bobs_wallet_history_shows_nothing_of_mallorys_refused_attempt_on_it(client_for, fake_wallet_service):
    bob_wallet, tx = uuid.uuid4(), uuid.uuid4()
    move = {**movement("WITHDRAWAL", "5.0000", source=bob_wallet), "currency": None}
    wallet_event_handle(wallet_opened(bob_wallet, 2))
    transaction_event_handle(status_changed(tx, move, status="INITIATED", user_ids=[3]))
    transaction_event_handle(status_changed(tx, move, status="FAILED", user_ids=[3], failure_reason="wallet_not_found"))

    bobs = client_for(2).get(f"/wallets/{bob_wallet}/history")
    mallorys_view_of_bobs = client_for(3).get(f"/wallets/{bob_wallet}/history")

    assert (bobs.status_code, bobs.json()["results"]) == (200, [])
    assert client_for(2).get("/activity").json()["results"] == []
    assert mallorys_view_of_bobs.status_code == 404
    assert client_for(3).get("/activity").json()["results"] == [], "activity holds the caller's wallets only"


def test_a_sender_cannot_read_the_receivers_wallet_history_whose_opening_came_late(client_for, fake_wallet_service):
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    fake_wallet_service.route(
        "GET", f"/wallets/{bob_wallet}", (200, {"id": str(bob_wallet), "owner_id": 2, "currency": "USD", "name": ""})
    )
    move = movement("TRANSFER", "30.0000", source=alice_wallet, target=bob_wallet)
    wallet_event_handle(wallet_opened(alice_wallet, 1))
    transaction_event_handle(status_changed(tx, move, status="INITIATED", user_ids=[1]))
    transaction_event_handle(status_changed(tx, move, status="RESERVED", user_ids=[1, 2]))

    senders_view = client_for(1).get(f"/wallets/{bob_wallet}/history")
    receivers = client_for(2).get(f"/wallets/{bob_wallet}/history")

    assert senders_view.status_code == 404
    assert [(r["direction"], r["status"]) for r in client_for(1).get("/activity").json()["results"]] == [
        ("DEBIT", "RESERVED")
    ]
    assert receivers.status_code == 200
    assert [(r["direction"], r["status"]) for r in receivers.json()["results"]] == [("CREDIT", "RESERVED")]
