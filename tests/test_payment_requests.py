"""Payment requests end to end: gateway (usernames) → transaction_service (the request, its transfer) →
the saga → history → both people's websockets."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal

from websockets.sync.client import connect

from tests import invariants
from tests.people import Person
from walletkit.testing.waiting import wait_until

DEADLINE = 60.0


@contextmanager
def live(gateway_url: str, person: Person):
    ws_url = gateway_url.replace("http://", "ws://") + "/ws/transactions/"
    with connect(ws_url, origin=gateway_url, proxy=None, open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "token": person.access}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "auth.ok"}
        yield socket


def request_pushed(socket, request_id: str, status: str) -> dict:
    """The first push of this request in ``status`` (earlier messages are skipped)."""

    def next_match():
        message = json.loads(socket.recv(timeout=DEADLINE))
        view = message.get("payment_request") or {}
        return message.get("type") == "payment_request" and view.get("id") == request_id and (
            view["status"] == status) and view  # fmt: skip

    return wait_until(next_match, timeout=DEADLINE, interval=0, message=f"{request_id} {status} pushed")


def ask(requester: Person, payer: Person, amount: str, **extra) -> dict:
    body = {"to_wallet_id": requester.wallet_id, "payer_username": payer.username, "amount": amount, **extra}
    response = requester.post("/payment-requests", body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_paid_request_moves_the_money_once_and_both_people_see_every_change_live(gateway_url, alice, bob):
    bob.fund("50")
    with live(gateway_url, alice) as alices, live(gateway_url, bob) as bobs:
        request = ask(alice, bob, "20", note="dinner")
        assert (request["requester"], request["payer"], request["status"]) == (alice.username, bob.username,
                                                                               "PENDING")  # fmt: skip
        for socket in (alices, bobs):
            request_pushed(socket, request["id"], "PENDING")
        incoming = bob.get("/payment-requests", role="payer").json()["results"]
        assert [r["id"] for r in incoming] == [request["id"]]
        paid = bob.post(f"/payment-requests/{request['id']}/pay", {"from_wallet_id": bob.wallet_id}, key="k1")
        assert paid.status_code == 202, paid.text
        for socket in (alices, bobs):
            assert request_pushed(socket, request["id"], "PAID")["transaction_id"] == paid.json()["id"]
    assert (alice.balance(), bob.balance()) == (Decimal("20"), Decimal("30"))
    again = bob.post(f"/payment-requests/{request['id']}/pay", {"from_wallet_id": bob.wallet_id}, key="k2")
    assert (again.status_code, again.json()["code"]) == (409, "request_not_pending")
    assert alice.get(f"/payment-requests/{request['id']}").json()["status"] == "PAID"


def test_an_unknown_payer_is_404_and_a_third_person_cannot_see_a_request(gateway_url, alice, bob):
    response = alice.post("/payment-requests", {"to_wallet_id": alice.wallet_id, "payer_username":
                          f"nobody{uuid.uuid4().hex[:8]}", "amount": "5"})  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (404, "payer_not_found")
    request = ask(alice, bob, "5")
    eve = Person.sign_up(gateway_url, prefix="eve")
    assert eve.get(f"/payment-requests/{request['id']}").status_code == 404
    paid = eve.post(f"/payment-requests/{request['id']}/pay", {"from_wallet_id": eve.wallet_id}, key="k")
    assert paid.status_code == 404


def test_concurrent_pays_make_one_transfer(stack, alice, bob):
    bob.fund("50")
    request = ask(alice, bob, "10")

    def pay(n: int) -> int:
        return bob.post(f"/payment-requests/{request['id']}/pay", {"from_wallet_id": bob.wallet_id},
                        key=f"pay-{n}-{uuid.uuid4()}").status_code  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        answers = sorted(pool.map(pay, range(8)))
    assert answers == [202] + [409] * 7
    wait_until(lambda: alice.get(f"/payment-requests/{request['id']}").json()["status"] == "PAID", timeout=DEADLINE)
    transfers = invariants.query(stack, "transaction", "SELECT count(*) FROM transaction WHERE idempotency_key LIKE %s",
                                 (f"payment-request:{request['id']}:%",))  # fmt: skip
    assert transfers == [(1,)]
    assert (alice.balance(), bob.balance()) == (Decimal("10"), Decimal("40"))


def test_declined_and_cancelled_requests_are_pushed_and_cannot_be_paid(gateway_url, alice, bob):
    with live(gateway_url, alice) as alices:
        declined = ask(alice, bob, "3")
        response = bob.post(f"/payment-requests/{declined['id']}/decline", {})
        assert (response.status_code, response.json()["status"]) == (200, "DECLINED")
        request_pushed(alices, declined["id"], "DECLINED")
    cancelled = ask(alice, bob, "4")
    assert alice.post(f"/payment-requests/{cancelled['id']}/cancel", {}).json()["status"] == "CANCELLED"
    for request in (declined, cancelled):
        path = f"/payment-requests/{request['id']}/pay"
        paid = bob.post(path, {"from_wallet_id": bob.wallet_id}, key=str(uuid.uuid4()))
        assert (paid.status_code, paid.json()["code"]) == (409, "request_not_pending")
