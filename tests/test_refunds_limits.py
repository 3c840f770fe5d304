"""Spending limits and refunds on the running stack (issue 17, first half): every rule through the public
API with real threads, the saga's invariants after each test (reconciliation included), a refund's events
delivered twice, and the pages in real Chromium."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser import Tab, chromium_launched
from tests.people import Person
from tests.test_reconciliation import critical, run_now, token
from tests.test_saga import assert_invariants, republish_everything_and_wait
from walletkit.testing.waiting import wait_until

expect.set_options(timeout=15_000)


def limits_set(person: Person, daily: str | None, monthly: str | None = None, wallet_id: str | None = None):
    return person.client.put(
        f"/wallets/{wallet_id or person.wallet_id}/limits", headers=person.headers,
        json={"daily_out": daily, "monthly_out": monthly},
    )  # fmt: skip


def refund(person: Person, transaction_id: str, amount: str, *, key: str | None = None) -> httpx.Response:
    return person.post(
        f"/transactions/{transaction_id}/refunds", {"amount": amount}, key=uuid.uuid4().hex if key is None else key
    )


def paid(alice: Person, bob: Person, amount: str) -> str:
    response = alice.pay(bob.wallet_id, amount)
    assert response.status_code == 202, response.text
    assert alice.wait_final(response.json()["id"])["status"] == "SUCCESS"
    return response.json()["id"]


# --- spending limits ---------------------------------------------------------------------------------


def test_ten_concurrent_transfers_of_3_under_a_daily_limit_of_10_exactly_3_pass(stack, alice, bob):
    alice.fund("100")
    assert limits_set(alice, "10").status_code == 200

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _i: alice.pay(bob.wallet_id, "3"), range(10)))

    codes = sorted(a.status_code for a in answers)
    assert codes == [202] * 3 + [422] * 7, [a.text for a in answers]
    refusals = [a.json() for a in answers if a.status_code == 422]
    assert {(r["code"], r["remaining"]) for r in refusals} == {("limit_exceeded", "1.0000")}
    for answer in answers:
        if answer.status_code == 202:
            alice.wait_final(answer.json()["id"])
    assert_invariants(stack)
    assert (alice.balance(), bob.balance()) == (Decimal("91"), Decimal("9"))
    used = alice.get(f"/wallets/{alice.wallet_id}/limits").json()
    assert used == {"daily_out": "10.0000", "monthly_out": None, "daily_used": "9.0000", "monthly_used": "9.0000"}


def test_limits_are_the_owners_and_count_withdrawals_but_not_refused_attempts(stack, alice, bob):
    alice.fund("50")
    assert limits_set(alice, None, "20").status_code == 200
    assert alice.withdraw("60").json()["code"] == "insufficient_funds"  # refused: never reserved, never counted
    withdrawn = alice.withdraw("15")
    assert withdrawn.status_code == 202, withdrawn.text
    alice.wait_final(withdrawn.json()["id"])
    refused = alice.pay(bob.wallet_id, "5.0001")
    assert (refused.status_code, refused.json()["code"], refused.json()["remaining"]) == (
        422,
        "limit_exceeded",
        "5.0000",
    )
    assert alice.get(f"/wallets/{alice.wallet_id}/limits").json()["monthly_used"] == "15.0000"
    # A stranger can neither read nor set them (404, as for every wallet endpoint); bad amounts are 400.
    assert bob.get(f"/wallets/{alice.wallet_id}/limits").status_code == 404
    assert limits_set(bob, "1000", wallet_id=alice.wallet_id).status_code == 404
    for bad in ("0", "-5", "1e3", "1.00001"):
        answer = limits_set(alice, bad)
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid"), bad
    assert alice.get(f"/wallets/{alice.wallet_id}/limits").json()["monthly_out"] == "20.0000"
    assert_invariants(stack)


# --- refunds -----------------------------------------------------------------------------------------


def test_the_receiver_refunds_part_then_the_rest_and_no_more(stack, alice, bob):
    alice.fund("100")
    original = paid(alice, bob, "30")

    first = refund(bob, original, "10")
    assert first.status_code == 202, first.text
    assert (first.json()["type"], first.json()["refund_of"]) == ("REFUND", original)
    assert bob.wait_final(first.json()["id"])["status"] == "SUCCESS"
    second = refund(bob, original, "20")
    assert second.status_code == 202, second.text
    bob.wait_final(second.json()["id"])
    over = refund(bob, original, "0.0001")
    assert (over.status_code, over.json()["code"]) == (422, "refund_exceeds_original")

    assert_invariants(stack)
    assert (alice.balance(), bob.balance()) == (Decimal("100"), Decimal("0"))
    # The link, on both sides.
    for person in (alice, bob):
        detail = person.transaction(original)
        assert [r["id"] for r in detail["refunds"]] == [first.json()["id"], second.json()["id"]]
        assert person.transaction(first.json()["id"])["refund_of"] == original
    # History: a REFUND debit for bob, a REFUND credit for alice.
    bob_side = bob.get(f"/wallets/{bob.wallet_id}/history", type="REFUND").json()["results"]
    alice_side = alice.get(f"/wallets/{alice.wallet_id}/history", type="REFUND").json()["results"]
    assert {(e["direction"], e["amount"], e["status"]) for e in bob_side} == {
        ("DEBIT", "10.0000", "SUCCESS"),
        ("DEBIT", "20.0000", "SUCCESS"),
    }
    assert {e["direction"] for e in alice_side} == {"CREDIT"} and len(alice_side) == 2


def test_only_the_receiver_may_refund_and_a_replay_refunds_once(stack, alice, bob, gateway_url):
    alice.fund("40")
    original = paid(alice, bob, "40")
    stranger = Person.sign_up(gateway_url, prefix="eve")
    for person in (alice, stranger):
        answer = refund(person, original, "1")
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    assert refund(bob, original, "1", key="").status_code == 400
    assert refund(bob, original, "1e1").status_code == 400

    answers = [refund(bob, original, "40", key="the-one-refund") for _ in range(3)]
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["id"] for a in answers}) == 1
    assert refund(bob, original, "39", key="the-one-refund").status_code == 409
    bob.wait_final(answers[0].json()["id"])
    assert_invariants(stack)
    assert (alice.balance(), bob.balance()) == (Decimal("40"), Decimal("0"))


def test_concurrent_refunds_cannot_together_exceed_the_original(stack, alice, bob):
    alice.fund("10")
    original = paid(alice, bob, "10")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _i: refund(bob, original, "3"), range(8)))

    assert sorted(a.status_code for a in answers) == [202] * 3 + [422] * 5, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 422} == {"refund_exceeds_original"}
    for answer in answers:
        if answer.status_code == 202:
            bob.wait_final(answer.json()["id"])
    assert_invariants(stack)
    assert (alice.balance(), bob.balance()) == (Decimal("9"), Decimal("1"))


def test_a_refund_failed_for_funds_frees_its_share_and_refunds_count_against_limits(stack, alice, bob):
    alice.fund("20")
    original = paid(alice, bob, "20")
    spent = bob.withdraw("15")
    bob.wait_final(spent.json()["id"])
    too_much = refund(bob, original, "20")
    assert (too_much.status_code, too_much.json()["code"]) == (422, "insufficient_funds")
    bob.deposit("100")
    wait_until(lambda: bob.balance() == Decimal("105"), timeout=60, message="bob's deposit settles")
    assert limits_set(bob, "12").status_code == 200  # today bob has withdrawn 15 already: nothing left
    limited = refund(bob, original, "5")
    assert (limited.status_code, limited.json()["code"], limited.json()["remaining"]) == (
        422,
        "limit_exceeded",
        "0.0000",
    )
    assert limits_set(bob, "40").status_code == 200
    again = refund(bob, original, "20")
    assert again.status_code == 202, again.text
    assert bob.wait_final(again.json()["id"])["status"] == "SUCCESS"
    assert_invariants(stack)
    assert (alice.balance(), bob.balance()) == (Decimal("20"), Decimal("85"))


def test_a_refunds_events_delivered_twice_change_nothing(stack, alice, bob):
    alice.fund("50")
    original = paid(alice, bob, "50")
    back = refund(bob, original, "25")
    assert bob.wait_final(back.json()["id"])["status"] == "SUCCESS"
    assert_invariants(stack)
    balances = (alice.balance(), bob.balance())

    assert republish_everything_and_wait(stack) > 0
    assert_invariants(stack)
    assert (alice.balance(), bob.balance()) == balances == (Decimal("25"), Decimal("25"))
    assert len(bob.get(f"/wallets/{bob.wallet_id}/history", type="REFUND").json()["results"]) == 1


def test_reconciliation_proves_the_books_with_refunds(stack, alice, bob):
    alice.fund("30")
    original = paid(alice, bob, "30")
    back = refund(bob, original, "12.5")
    bob.wait_final(back.json()["id"])
    assert_invariants(stack)
    with httpx.Client(
        base_url=stack.config.url("ledger_service"), timeout=60,
        headers={"Authorization": f"Bearer {token(stack, user_id=900002, is_staff=True)}"},
    ) as staff:  # fmt: skip
        run = run_now(staff)
    assert critical(run, {alice.wallet_id, bob.wallet_id, original, back.json()["id"]}) == []


# --- pages ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium_launched()


def signed_in_tab(browser: Browser, gateway_url: str, person: Person) -> Tab:
    tab = Tab.open(browser, gateway_url)
    tab.page.goto("/login")
    tab.page.get_by_label("Username").fill(person.username)
    tab.page.get_by_label("Password").fill("correct-horse-battery-staple-42")
    tab.page.get_by_role("button", name="Log in").click()
    expect(tab.page.get_by_role("heading", name="Your wallets")).to_be_visible()
    return tab


def test_limits_page_sets_limits_and_shows_what_is_used(stack, gateway_url, browser, alice, bob):
    alice.fund("20")
    paid(alice, bob, "4")
    tab = signed_in_tab(browser, gateway_url, alice)
    try:
        page = tab.page
        page.goto(f"/wallets/{alice.wallet_id}")
        page.get_by_role("link", name="Spending limits").click()
        expect(page.locator("#limits-used")).to_contain_text("4.00")
        page.get_by_label("Daily limit (UTC day)").fill("5")
        page.get_by_role("button", name="Save limits").click()
        expect(page.get_by_text("Spending limits saved.")).to_be_visible()
        expect(page.locator("#limits-used")).to_contain_text("of 5.00")
        tab.shoot("limits")
        page.get_by_label("Monthly limit (UTC month)").fill("1e3")
        page.get_by_role("button", name="Save limits").click()
        expect(page.locator(".field-error")).to_be_visible()
        assert alice.get(f"/wallets/{alice.wallet_id}/limits").json()["daily_out"] == "5.0000"
        refused = alice.pay(bob.wallet_id, "2")
        assert (refused.status_code, refused.json()["remaining"]) == (422, "1.0000")
        assert tab.csp_violations() == []
    finally:
        tab.close()


def test_refund_button_on_a_received_transfer_and_the_link_on_both_sides(stack, gateway_url, browser, alice, bob):
    alice.fund("20")
    original = paid(alice, bob, "8")
    sender_tab = signed_in_tab(browser, gateway_url, alice)
    receiver_tab = signed_in_tab(browser, gateway_url, bob)
    try:
        sender_tab.page.goto(f"/transactions/{original}")
        expect(sender_tab.page.get_by_role("heading", name="Transfer of 8.00 USD")).to_be_visible()
        expect(sender_tab.page.get_by_role("button", name="Refund")).to_have_count(0)  # the payer cannot refund
        page = receiver_tab.page
        page.goto(f"/transactions/{original}")
        page.get_by_label("Amount (USD)").fill("3")
        page.get_by_role("button", name="Refund").click()
        expect(page.get_by_role("heading", name="Refund of 3.00 USD")).to_be_visible()
        expect(page.locator("#refund-of")).to_have_attribute("href", f"/transactions/{original}")
        refund_id = page.url.rstrip("/").rsplit("/", 1)[1]
        bob.wait_final(refund_id)
        receiver_tab.shoot("refund")
        sender_tab.page.goto(f"/transactions/{original}")
        expect(sender_tab.page.locator("#refunds")).to_contain_text("3.00 USD")
        page.goto(f"/transactions/{original}")
        page.get_by_label("Amount (USD)").fill("6")  # only 5 are left
        page.get_by_role("button", name="Refund").click()
        expect(page.locator("#form-errors")).to_contain_text("more than")
        assert sender_tab.csp_violations() == [] and receiver_tab.csp_violations() == []
    finally:
        sender_tab.close()
        receiver_tab.close()
    assert_invariants(stack)
    assert (alice.balance(), bob.balance()) == (Decimal("15"), Decimal("5"))
