"""/requests and /scheduled in real headless Chromium against the whole stack: a request asked for in
one browser appears live in the payer's, is paid there once (double click included) and turns PAID
live on both; a scheduled transfer is created (its run due today pays within seconds) and cancelled."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import expect

from tests.people import Person
from tests.test_browser import LIVE_TIMEOUT_MS, browser, log_in, tabs  # noqa: F401 (fixtures)
from walletkit.testing.waiting import wait_until


def signed_in(tab, username: str) -> None:
    log_in(tab, username)
    expect(tab.page.get_by_role("heading", name="Your wallets")).to_be_visible()


def test_a_request_shows_up_live_for_the_payer_who_pays_it_once_and_both_see_it_paid(gateway_url, tabs):  # noqa: F811
    alice, bob = Person.sign_up(gateway_url, prefix="alice"), Person.sign_up(gateway_url, prefix="bob")
    bob.fund("40")
    alices, bobs = tabs(), tabs()
    signed_in(alices, alice.username)
    signed_in(bobs, bob.username)
    bobs.page.goto("/requests")
    expect(bobs.page.get_by_role("heading", name="Asked of you")).to_be_visible()

    page = alices.page
    page.goto("/requests")
    page.get_by_label("Ask (username)").fill(bob.username)
    page.get_by_label(re.compile("Amount")).fill("12.50")
    page.get_by_label("Note").fill("tickets")
    page.get_by_role("button", name="Send request").click()
    mine = page.locator("#requests-live .request", has_text=bob.username)
    expect(mine).to_contain_text("PENDING")

    theirs = bobs.page.locator("#requests-live .request", has_text=alice.username)  # arrives without a reload
    expect(theirs).to_contain_text("tickets", timeout=LIVE_TIMEOUT_MS)
    theirs.get_by_role("button", name="Pay").dblclick()
    expect(bobs.page.locator("#requests-live .request", has_text=alice.username)).to_contain_text(
        "PAID", timeout=LIVE_TIMEOUT_MS
    )
    expect(mine).to_contain_text("PAID", timeout=LIVE_TIMEOUT_MS)
    wait_until(lambda: alice.balance() == Decimal("12.5"), timeout=30, message="alice paid once")
    assert bob.balance() == Decimal("27.5")


def test_a_request_declined_in_the_browser_is_declined_for_both(gateway_url, tabs):  # noqa: F811
    alice, bob = Person.sign_up(gateway_url, prefix="alice"), Person.sign_up(gateway_url, prefix="bob")
    response = alice.post("/payment-requests", {"to_wallet_id": alice.wallet_id, "payer_username": bob.username,
                                                "amount": "3"})  # fmt: skip
    assert response.status_code == 201, response.text
    bobs = tabs()
    signed_in(bobs, bob.username)
    bobs.page.goto("/requests")
    bobs.page.locator("#requests-live .request", has_text=alice.username).get_by_role("button", name="Decline").click()
    expect(bobs.page.locator("#requests-live .request", has_text=alice.username)).to_contain_text("DECLINED")
    assert alice.get(f"/payment-requests/{response.json()['id']}").json()["status"] == "DECLINED"


def test_a_scheduled_transfer_created_in_the_browser_pays_today_and_is_cancelled(gateway_url, tabs):  # noqa: F811
    alice, bob = Person.sign_up(gateway_url, prefix="alice"), Person.sign_up(gateway_url, prefix="bob")
    alice.fund("30")
    tab = tabs()
    signed_in(tab, alice.username)
    page = tab.page
    page.goto("/scheduled")
    page.get_by_label("To (username or wallet id)").fill(bob.username)
    page.get_by_label(re.compile("Amount")).fill("4")
    page.get_by_label("Repeat").select_option("daily")
    page.get_by_label("Note").fill("allowance")
    page.get_by_role("button", name="Schedule").dblclick()  # a double click is one schedule
    schedule = page.locator(".schedule", has_text="allowance")
    expect(schedule).to_have_count(1)
    expect(schedule.locator(".schedule-status")).to_have_text("ACTIVE")

    def paid_today():
        page.reload()
        runs = schedule.locator(".runs")
        return runs.count() > 0 and "SUCCESS" in (runs.text_content() or "")

    wait_until(paid_today, timeout=60, interval=1, message="today's run SUCCESS on the page")
    schedule.get_by_role("button", name="Cancel schedule").click()
    expect(page.locator(".schedule", has_text="allowance").locator(".schedule-status")).to_have_text("CANCELLED")
    assert len(alice.get("/scheduled-transfers").json()) == 1
    assert bob.balance() == Decimal("4")
