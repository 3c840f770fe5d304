"""API.md, row by row and rule by rule, against the running stack through the gateway only."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest

from tests.people import PASSWORD, Person
from walletkit.testing.waiting import wait_until

WALLET_KEYS = {"id", "name", "currency", "balance", "held", "available", "created_at"}
TRANSACTION_KEYS = {
    "id", "type", "status", "amount", "currency", "from_wallet_id", "to_wallet_id", "failure_reason",
    "created_at", "updated_at", "reserved_at", "posted_at", "refund_of", "counterparty",
}  # fmt: skip
ENTRY_KEYS = {
    "id", "transaction_id", "wallet_id", "type", "direction", "amount", "currency", "counterparty_wallet_id",
    "status", "occurred_at", "failure_reason", "updated_at", "counterparty",
}  # fmt: skip


def _walk(person: Person, path: str, **params) -> list[dict]:
    """Every item of a paginated list, following ``next`` (a full gateway URL) to the end."""
    items, response = [], person.get(path, **params)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["results"]
        if page["next"] is None:
            return items
        assert page["next"].startswith(str(person.client.base_url).rstrip("/").rsplit("/api/v1", 1)[0])
        response = person.client.get(page["next"], headers=person.headers)


# --- Users and tokens ---------------------------------------------------------------------------


def test_register_opens_one_default_wallet_and_me_tells_who_i_am(alice):
    (wallet,) = alice.wallets()
    assert set(wallet) == WALLET_KEYS
    assert (wallet["currency"], wallet["name"], Decimal(wallet["balance"])) == ("USD", "Main", 0)
    me = alice.get("/me")
    assert me.status_code == 200
    assert set(me.json()) == {"id", "username", "email", "is_staff"}
    assert (me.json()["username"], me.json()["is_staff"]) == (alice.username, False)


def test_register_refuses_weak_password_and_taken_names(gateway_url, alice):
    with httpx.Client(base_url=gateway_url + "/api/v1") as client:
        weak = client.post("/auth/register", json={"username": "w" + uuid.uuid4().hex[:8], "email": "w@x.io",
                                                    "password": "1234567890"})  # fmt: skip
        assert weak.status_code == 400 and "password" in weak.json()["errors"]
        taken = client.post(
            "/auth/register",
            json={"username": alice.username.upper(), "email": f"{alice.username}@EXAMPLE.com", "password": PASSWORD},
        )
        assert taken.status_code == 400
        assert set(taken.json()["errors"]) == {"username", "email"}


def test_refresh_rotates_and_logout_revokes(gateway_url, alice):
    client = alice.client
    pair = client.post("/auth/token", json={"username": alice.username, "password": PASSWORD}).json()
    rotated = client.post("/auth/token/refresh", json={"refresh": pair["refresh"]})
    assert rotated.status_code == 200
    assert client.post("/auth/token/refresh", json={"refresh": pair["refresh"]}).status_code == 401
    fresh = rotated.json()
    bearer = {"Authorization": f"Bearer {fresh['access']}"}
    assert client.post("/auth/logout", json={"refresh": fresh["refresh"]}, headers=bearer).status_code == 204
    assert client.post("/auth/token/refresh", json={"refresh": fresh["refresh"]}).status_code == 401


def test_no_or_bad_token_is_401(gateway_url):
    with httpx.Client(base_url=gateway_url + "/api/v1") as client:
        assert client.get("/wallets").status_code == 401
        bad = client.get("/wallets", headers={"Authorization": "Bearer not.a.token"})
        assert (bad.status_code, bad.json()["code"]) == (401, "token_not_valid")


# --- Money ----------------------------------------------------------------------------------------


def test_deposit_is_accepted_202_and_succeeds(alice):
    response = alice.deposit("25.50")
    assert response.status_code == 202, response.text
    transaction = response.json()
    assert set(transaction) == TRANSACTION_KEYS
    assert (transaction["type"], transaction["to_wallet_id"], transaction["amount"]) == (
        "DEPOSIT", alice.wallet_id, "25.5000",
    )  # fmt: skip
    assert alice.wait_final(transaction["id"])["status"] == "SUCCESS"
    wait_until(lambda: alice.balance() == Decimal("25.5"), timeout=30, message="deposit reflected in balance")


def test_transfer_and_withdrawal_succeed_and_move_exact_amounts(alice, bob):
    alice.fund("50")
    paid = alice.pay(bob.wallet_id, "20.0001")
    assert paid.status_code == 202, paid.text
    assert alice.wait_final(paid.json()["id"])["status"] == "SUCCESS"
    assert bob.transaction(paid.json()["id"])["status"] == "SUCCESS"  # the receiver may read it too
    withdrawn = bob.withdraw("0.0001")
    assert withdrawn.status_code == 202, withdrawn.text
    assert bob.wait_final(withdrawn.json()["id"])["status"] == "SUCCESS"
    wait_until(lambda: alice.balance() == Decimal("29.9999"), timeout=30, message="sender balance")
    wait_until(lambda: bob.balance() == Decimal("20.0000"), timeout=30, message="receiver balance")


def test_insufficient_funds_is_422_with_the_available_amount_and_nothing_moves(alice, bob):
    alice.fund("5")
    refused = alice.pay(bob.wallet_id, "5.0001")
    assert refused.status_code == 422, refused.text
    assert (refused.json()["code"], refused.json()["available"]) == ("insufficient_funds", "5.0000")
    withdrawal = alice.withdraw("6")
    assert (withdrawal.json()["code"], withdrawal.json()["available"]) == ("insufficient_funds", "5.0000")
    assert (alice.balance(), bob.balance()) == (Decimal(5), Decimal(0))


def test_transfer_to_an_own_wallet_of_another_currency_is_422(alice):
    alice.fund("5")
    euros = alice.open_wallet("EUR")
    refused = alice.pay(euros, "1")
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "currency_mismatch"


def test_a_strangers_wallet_of_another_currency_is_answered_like_a_missing_one(alice, bob):
    # No oracle: a wallet id tells a payer only whether it is a wallet they can pay in their currency.
    alice.fund("5")
    answers = []
    for wallet_id in (bob.open_wallet("EUR"), str(uuid.uuid4())):
        refused = alice.pay(wallet_id, "1")
        answers.append((refused.status_code, refused.json()["code"], refused.json()["detail"]))
    assert answers[0] == answers[1], answers
    assert answers[0][:2] == (404, "wallet_not_found")
    assert alice.balance() == Decimal(5)


def test_transfer_to_the_same_wallet_is_400(alice):
    refused = alice.pay(alice.wallet_id, "1")
    assert (refused.status_code, refused.json()["code"]) == (400, "same_wallet")


def test_money_moving_posts_need_an_idempotency_key(alice, bob):
    for path, body in (
        (f"/wallets/{alice.wallet_id}/deposits", {"amount": "1"}),
        (f"/wallets/{alice.wallet_id}/withdrawals", {"amount": "1"}),
        ("/transfers", {"from_wallet_id": alice.wallet_id, "to_wallet_id": bob.wallet_id, "amount": "1"}),
    ):
        response = alice.post(path, body)
        assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required"), path


@pytest.mark.parametrize("amount", ["0", "-5", "1.00001", "1e-5", "NaN", 2.5, "1000000000.0001", "ten"])
def test_invalid_amounts_are_400_and_nothing_is_created(alice, amount):
    response = alice.post(f"/wallets/{alice.wallet_id}/deposits", {"amount": amount}, key=str(uuid.uuid4()))
    assert response.status_code == 400, response.text
    assert "amount" in response.json()["errors"]
    assert alice.get("/transactions").json()["results"] == []


@pytest.mark.parametrize("amount", ["1e3", "+1", "1_000", "\uff11\uff10", "\u0661\u0660", " 5", 10.5])
def test_amounts_that_are_not_plain_ascii_decimals_are_400_on_every_money_post(alice, bob, amount):
    alice.fund("20")
    for path, body in (
        (f"/wallets/{alice.wallet_id}/deposits", {"amount": amount}),
        (f"/wallets/{alice.wallet_id}/withdrawals", {"amount": amount}),
        ("/transfers", {"from_wallet_id": alice.wallet_id, "to_wallet_id": bob.wallet_id, "amount": amount}),
    ):
        response = alice.post(path, body, key=str(uuid.uuid4()))
        assert response.status_code == 400, (path, response.text)
        assert (response.json()["code"], list(response.json()["errors"])) == ("invalid", ["amount"]), path
    assert len(alice.get("/transactions").json()["results"]) == 1  # the funding deposit only
    assert (alice.balance(), bob.balance()) == (Decimal(20), Decimal(0))


def test_same_key_same_body_replays_the_first_answer_and_moves_money_once(alice):
    key = str(uuid.uuid4())
    first = alice.deposit("7", key=key)
    second = alice.deposit("7", key=key)
    assert first.status_code == 202, first.text
    assert second.status_code == first.status_code
    assert second.json()["id"] == first.json()["id"]
    assert alice.wait_final(first.json()["id"])["status"] == "SUCCESS"
    assert alice.deposit("7", key=key).json()["id"] == first.json()["id"]
    wait_until(lambda: alice.balance() == Decimal(7), timeout=30, message="balance 7")
    assert [t["id"] for t in alice.get("/transactions").json()["results"]] == [first.json()["id"]]


def test_same_key_different_body_is_409(alice):
    key = str(uuid.uuid4())
    assert alice.deposit("7", key=key).status_code == 202
    conflict = alice.deposit("8", key=key)
    assert conflict.status_code == 409, conflict.text


# --- Who may see what ---------------------------------------------------------------------------


def test_another_users_wallets_and_transactions_are_404_everywhere(alice, bob, gateway_url):
    alice.fund("10")
    tx_id = alice.get("/transactions").json()["results"][0]["id"]
    mallory = Person.sign_up(gateway_url, prefix="mallory")
    key = str(uuid.uuid4())
    for response in (
        mallory.get(f"/wallets/{alice.wallet_id}"),
        mallory.get(f"/wallets/{alice.wallet_id}/history"),
        mallory.get(f"/transactions/{tx_id}"),
        mallory.post(f"/wallets/{alice.wallet_id}/deposits", {"amount": "1"}, key=key + "d"),
        mallory.post(f"/wallets/{alice.wallet_id}/withdrawals", {"amount": "1"}, key=key + "w"),
        mallory.pay(bob.wallet_id, "1", from_wallet_id=alice.wallet_id),
    ):
        assert response.status_code == 404, (response.request.url, response.text)
    # Filtering by someone else's wallet shows at most the caller's own (failed) attempts on it.
    filtered = mallory.get("/transactions", wallet=alice.wallet_id).json().get("results", [])
    assert tx_id not in {t["id"] for t in filtered}
    assert all(t["status"] == "FAILED" for t in filtered)
    assert all(entry["wallet_id"] == mallory.wallet_id for entry in mallory.get("/activity").json()["results"])
    wait_until(lambda: alice.balance() == Decimal(10), timeout=30, message="alice untouched")


# --- Lists --------------------------------------------------------------------------------------


def test_pagination_next_walks_every_item_exactly_once(alice):
    ids = []
    for n in range(7):
        response = alice.deposit(f"1.{n}")
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    for tx_id in ids:
        alice.wait_final(tx_id)

    transactions = _walk(alice, "/transactions", limit=3)
    assert [t["id"] for t in transactions] == list(reversed(ids))  # newest first, no gap, no repeat

    wait_until(lambda: len(_walk(alice, f"/wallets/{alice.wallet_id}/history", limit=3)) == 7, timeout=30,
               message="history caught up")  # fmt: skip
    history = _walk(alice, f"/wallets/{alice.wallet_id}/history", limit=3)
    assert sorted(entry["transaction_id"] for entry in history) == sorted(ids)
    assert all(set(entry) == ENTRY_KEYS for entry in history)
    activity = _walk(alice, "/activity", limit=2, type="DEPOSIT")
    assert sorted(entry["transaction_id"] for entry in activity) == sorted(ids)


def test_filters_narrow_the_lists(alice):
    alice.fund("3")
    assert alice.get("/transactions", status="FAILED").json()["results"] == []
    assert len(alice.get("/transactions", status="SUCCESS", wallet=alice.wallet_id).json()["results"]) == 1
    assert alice.get("/activity", type="TRANSFER").json()["results"] == []
    assert alice.get("/activity", status="NOPE").status_code == 400


# --- Public endpoints ---------------------------------------------------------------------------


def test_health_schema_and_docs_are_public(gateway_url):
    with httpx.Client(base_url=gateway_url) as client:
        assert client.get("/api/v1/healthz").status_code == 200
        assert client.get("/api/v1/readyz").json()["status"] == "ready"
        assert client.get("/api/v1/schema/", params={"format": "json"}).json()["openapi"].startswith("3.")
        docs = client.get("/api/v1/docs/")
        assert docs.status_code == 200
        asset = docs.text.split('src="', 2)[1].split('"', 1)[0]
        assert client.get(asset).status_code == 200, asset  # vendored, served by the gateway itself


def test_unknown_api_path_is_json_404(gateway_url):
    response = httpx.get(gateway_url + "/api/v1/nowhere")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
