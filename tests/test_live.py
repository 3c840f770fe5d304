"""Live status over the websocket, end to end: public API → saga → history → channel layer → socket.

Drives the running stack (tests/conftest.py) only through its public surface: /api/v1 and
ws://…/ws/transactions/ (first-message token auth, with an Origin the gateway allows).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

SAGA_DEADLINE = 60.0  # from POST to SUCCESS through every worker; the wait ends as soon as it arrives


@dataclass
class User:
    username: str
    client: httpx.Client
    wallet_id: str


@pytest.fixture(scope="module")
def ws_url(gateway_url: str) -> str:
    return gateway_url.replace("http://", "ws://") + "/ws/transactions/"


@pytest.fixture
def make_user(gateway_url: str) -> Iterator[Callable[[], User]]:
    clients: list[httpx.Client] = []

    def make() -> User:
        username = f"live_{uuid.uuid4().hex[:10]}"
        password = f"Wallet-{uuid.uuid4().hex}"
        client = httpx.Client(base_url=gateway_url + "/api/v1", timeout=15)
        clients.append(client)
        registered = client.post(
            "/auth/register", json={"username": username, "email": f"{username}@example.com", "password": password}
        )
        assert registered.status_code == 201, registered.text
        token = client.post("/auth/token", json={"username": username, "password": password})
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access']}"
        wallets = client.get("/wallets")
        assert wallets.status_code == 200, wallets.text
        body = wallets.json()
        [wallet] = body if isinstance(body, list) else body["results"]
        return User(username=username, client=client, wallet_id=wallet["id"])

    yield make
    for client in clients:
        client.close()


@contextmanager
def live_socket(ws_url: str, gateway_url: str, user: User) -> Iterator[ClientConnection]:
    token = user.client.headers["Authorization"].removeprefix("Bearer ")
    with connect(ws_url, origin=gateway_url, proxy=None, open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "auth.ok"}
        yield socket


def messages_until(socket: ClientConnection, done: Callable[[dict], bool], *, timeout: float = SAGA_DEADLINE):
    """Every message the socket receives up to and including the first for which ``done`` holds."""
    deadline = time.monotonic() + timeout
    received = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching message within {timeout}s; received {received}")
        try:
            message = json.loads(socket.recv(timeout=remaining))
        except TimeoutError:
            continue
        received.append(message)
        if done(message):
            return received


def final(transaction_id: str, status: str = "SUCCESS") -> Callable[[dict], bool]:
    return lambda m: (
        m.get("type") == "transaction.status"
        and m["transaction"]["id"] == transaction_id
        and (m["transaction"]["status"] == status)
    )


def post_money(user: User, path: str, body: dict) -> str:
    response = user.client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def deposit(user: User, amount: str) -> str:
    return post_money(user, f"/wallets/{user.wallet_id}/deposits", {"amount": amount})


def available(user: User) -> Decimal:
    response = user.client.get(f"/wallets/{user.wallet_id}")
    assert response.status_code == 200, response.text
    return Decimal(response.json()["available"])


def funded(user: User, amount: str, socket: ClientConnection) -> None:
    """Deposit and see its SUCCESS live. SUCCESS means spendable (decision 0005): the balance
    already holds the money when the push arrives, so the sender can pay right away."""
    before = available(user)
    messages_until(socket, final(deposit(user, amount)))
    assert available(user) == before + Decimal(amount)


def transfer(sender: User, receiver: User, amount: str) -> str:
    return post_money(
        sender, "/transfers", {"from_wallet_id": sender.wallet_id, "to_wallet_id": receiver.wallet_id, "amount": amount}
    )


def test_sender_and_receiver_see_their_transfer_succeed_and_a_third_user_sees_none_of_it(
    make_user, ws_url, gateway_url
):
    alice, bob, carol = make_user(), make_user(), make_user()
    with (
        live_socket(ws_url, gateway_url, alice) as alice_socket,
        live_socket(ws_url, gateway_url, bob) as bob_socket,
        live_socket(ws_url, gateway_url, carol) as carol_socket,
    ):
        funded(alice, "100.00", alice_socket)

        payment = transfer(alice, bob, "30.00")

        [*_, to_alice] = messages_until(alice_socket, final(payment))
        [*_, to_bob] = messages_until(bob_socket, final(payment))
        for message in (to_alice, to_bob):
            assert message["transaction"]["amount"] == "30.0000"
            assert (message["transaction"]["from_wallet_id"], message["transaction"]["to_wallet_id"]) == (
                alice.wallet_id, bob.wallet_id,
            )  # fmt: skip
        # Carol's socket is FIFO and A→B was pushed before Carol's own deposit began: had any of
        # it leaked to her, it would be among what she receives before her deposit's SUCCESS.
        own = deposit(carol, "5.00")
        carol_saw = messages_until(carol_socket, final(own))
        assert {m["transaction"]["id"] for m in carol_saw} == {own}


def test_after_a_disconnect_activity_changed_since_returns_what_was_missed(make_user, ws_url, gateway_url):
    alice, bob = make_user(), make_user()
    with live_socket(ws_url, gateway_url, alice) as alice_socket:
        funded(alice, "50.00", alice_socket)
        with live_socket(ws_url, gateway_url, bob) as bob_socket:
            seen = transfer(alice, bob, "10.00")
            messages_until(bob_socket, final(seen))
        bob_last_seen = datetime.now(UTC)

        missed = transfer(alice, bob, "7.00")
        messages_until(alice_socket, final(missed))

    response = bob.client.get("/activity", params={"changed_since": bob_last_seen.isoformat()})

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [entry["transaction_id"] for entry in results] == [missed], "only what changed since the disconnect"
    assert (results[0]["direction"], results[0]["status"], results[0]["amount"]) == ("CREDIT", "SUCCESS", "7.0000")


def test_a_bad_token_is_closed_with_4401(ws_url, gateway_url):
    with connect(ws_url, origin=gateway_url, proxy=None, open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "token": "not-a-token"}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)

    assert closed.value.rcvd.code == 4401
