"""History privacy on the running stack (threat model T30–T31): a refused attempt on a wallet that is not
the actor's leaves no trace in the wallet owner's history or websocket (nor in the actor's history, which
holds the actor's wallets only; the actor's websocket gets its status), a payee never sees a payer's
refused payment, and an actor still sees their refused attempt on their own wallet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.people import Person

SAGA_DEADLINE = 60.0


@pytest.fixture(scope="module")
def ws_url(gateway_url: str) -> str:
    return gateway_url.replace("http://", "ws://") + "/ws/transactions/"


@contextmanager
def live_socket(ws_url: str, gateway_url: str, person: Person) -> Iterator[ClientConnection]:
    with connect(ws_url, origin=gateway_url, proxy=None, open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "token": person.access}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "auth.ok"}
        yield socket


def pushes_until_final(socket: ClientConnection, transaction_id: str) -> list[dict]:
    """Every push up to and including ``transaction_id``'s final status."""
    deadline, received = time.monotonic() + SAGA_DEADLINE, []
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(socket.recv(timeout=remaining))
        except TimeoutError:
            continue
        received.append(message)
        shown = message.get("transaction") or {}
        if shown.get("id") == transaction_id and shown.get("status") in ("SUCCESS", "FAILED"):
            return received
    raise AssertionError(f"no final status of {transaction_id} within {SAGA_DEADLINE}s; received {received}")


def activity(person: Person) -> list[dict]:
    response = person.get("/activity", limit=100)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_refused_attempts_on_bobs_wallet_and_to_bob_leave_no_trace_for_bob(gateway_url, ws_url):
    alice, bob, mallory = (Person.sign_up(gateway_url, prefix=name) for name in ("alice", "bob", "mallory"))
    bob.fund("20.00")
    with (
        live_socket(ws_url, gateway_url, bob) as bob_socket,
        live_socket(ws_url, gateway_url, mallory) as mallory_socket,
        live_socket(ws_url, gateway_url, alice) as alice_socket,
    ):
        withdrawal = mallory.withdraw("5.00", wallet_id=bob.wallet_id)
        theft = mallory.pay(mallory.wallet_id, "5.00", from_wallet_id=bob.wallet_id)
        overdraft = alice.pay(bob.wallet_id, "500.00")
        assert (withdrawal.status_code, theft.status_code, overdraft.status_code) == (404, 404, 422)
        refused = {r.json()["transaction"]["id"] for r in (withdrawal, theft, overdraft)}

        # Each actor hears of their own refusal: history has committed it (pushes follow the commit).
        pushes_until_final(mallory_socket, withdrawal.json()["transaction"]["id"])
        pushes_until_final(mallory_socket, theft.json()["transaction"]["id"])
        pushes_until_final(alice_socket, overdraft.json()["transaction"]["id"])
        # Bob's socket is FIFO and every refused attempt was pushed before his own deposit began:
        # had any reached him, it would be among what he receives before his deposit's final status.
        own = bob.deposit("1.00")
        assert own.status_code == 202, own.text
        seen_by_bob = pushes_until_final(bob_socket, own.json()["id"])

    assert not {m.get("transaction", {}).get("id") for m in seen_by_bob} & refused
    bobs_wallet_history = bob.get(f"/wallets/{bob.wallet_id}/history", limit=100)
    assert bobs_wallet_history.status_code == 200, bobs_wallet_history.text
    for entries in (activity(bob), bobs_wallet_history.json()["results"]):
        assert not {e["transaction_id"] for e in entries} & refused
        assert {e["status"] for e in entries} == {"SUCCESS"}
    assert activity(mallory) == [], "her activity holds her wallets only"
    assert mallory.get(f"/wallets/{bob.wallet_id}/history").status_code == 404
    # Alice's refused payment is hers: in her activity with its reason.
    [alices] = [e for e in activity(alice) if e["transaction_id"] == overdraft.json()["transaction"]["id"]]
    assert (alices["wallet_id"], alices["status"], alices["failure_reason"]) == (
        alice.wallet_id, "FAILED", "insufficient_funds",
    )  # fmt: skip
