"""History privacy on the running stack (threat model T30–T31): a refused attempt on a wallet that is not
the actor's leaves no trace in the wallet owner's history or websocket, a payee never sees a payer's refused
payment, and the actor still sees their own attempt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.people import Person
from walletkit.testing.waiting import wait_until

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


def own_attempt_recorded(person: Person, transaction_id: str, reason: str) -> dict:
    """Wait until the actor's history shows the refused attempt: history has applied its events."""
    return wait_until(
        lambda: next(
            (e for e in activity(person) if e["transaction_id"] == transaction_id and e["status"] == "FAILED"), None
        ),
        timeout=SAGA_DEADLINE,
        message=f"{person.username}'s refused attempt {transaction_id} ({reason}) in their activity",
    )


def test_refused_attempts_on_bobs_wallet_and_to_bob_leave_no_trace_for_bob(gateway_url, ws_url):
    alice, bob, mallory = (Person.sign_up(gateway_url, prefix=name) for name in ("alice", "bob", "mallory"))
    bob.fund("20.00")
    with live_socket(ws_url, gateway_url, bob) as bob_socket:
        withdrawal = mallory.withdraw("5.00", wallet_id=bob.wallet_id)
        theft = mallory.pay(mallory.wallet_id, "5.00", from_wallet_id=bob.wallet_id)
        overdraft = alice.pay(bob.wallet_id, "500.00")
        assert (withdrawal.status_code, theft.status_code, overdraft.status_code) == (404, 404, 422)

        refused = {
            withdrawal.json()["transaction"]["id"]: (mallory, "wallet_not_found"),
            theft.json()["transaction"]["id"]: (mallory, "wallet_not_found"),
            overdraft.json()["transaction"]["id"]: (alice, "insufficient_funds"),
        }
        for transaction_id, (actor, reason) in refused.items():
            entry = own_attempt_recorded(actor, transaction_id, reason)
            assert entry["failure_reason"] == reason

        # Bob's socket is FIFO and every refused attempt was pushed before his own deposit began:
        # had any reached him, it would be among what he receives before his deposit's final status.
        own = bob.deposit("1.00")
        assert own.status_code == 202, own.text
        seen_by_bob = pushes_until_final(bob_socket, own.json()["id"])

    assert not {m.get("transaction", {}).get("id") for m in seen_by_bob} & set(refused)
    bobs_wallet_history = bob.get(f"/wallets/{bob.wallet_id}/history", limit=100)
    assert bobs_wallet_history.status_code == 200, bobs_wallet_history.text
    for entries in (activity(bob), bobs_wallet_history.json()["results"]):
        assert not {e["transaction_id"] for e in entries} & set(refused)
        assert {e["status"] for e in entries} == {"SUCCESS"}
    # The attempt on Bob's wallet is in Mallory's history, yet Bob's wallet history stays his own.
    assert mallory.get(f"/wallets/{bob.wallet_id}/history").status_code == 404
