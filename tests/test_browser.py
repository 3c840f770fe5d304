"""The browser app in real headless Chromium against the whole stack: sign-up, deposit, pay with
confirmation, live status without reload, idempotent double submits, login errors, staff-only
reconciliation, and no Content-Security-Policy violation on any page. Screenshots of every page
(desktop and phone width) land in test-artifacts/screenshots/."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser import Tab, chromium_launched
from tests.people import PASSWORD, Person
from walletkit.devstack.stack import REPO_ROOT, Stack
from walletkit.testing.waiting import wait_until

LIVE_TIMEOUT_MS = 30_000
# A page here waits on several services (sign-up opens a wallet, a payment reserves): be patient.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium_launched()


@pytest.fixture
def tabs(browser, gateway_url) -> Iterator:
    """Opens tabs for a test; each must end without a single CSP violation."""
    opened: list[Tab] = []

    def open_tab(*, javascript: bool = True) -> Tab:
        tab = Tab.open(browser, gateway_url, javascript=javascript)
        opened.append(tab)
        return tab

    yield open_tab
    problems = [violation for tab in opened for violation in tab.csp_violations()]
    for tab in opened:
        tab.close()
    assert problems == [], problems


def new_name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def sign_up(tab: Tab, username: str, *, shoot: bool = False) -> None:
    page = tab.page
    page.goto("/signup")
    if shoot:
        tab.shoot("signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    dashboard, retry = page.get_by_role("heading", name="Your wallets"), page.get_by_text("Try again shortly")
    for _ in range(3):
        # A freshly started stack may answer the very first wallet opening late: the page says
        # nothing was created and to try again, which is what a person would do.
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        expect(dashboard.or_(retry)).to_be_visible()
        if dashboard.is_visible():
            return
    expect(dashboard).to_be_visible()


def log_in(tab: Tab, username: str, password: str = PASSWORD) -> None:
    page = tab.page
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def first_wallet_id(tab: Tab) -> str:
    return tab.page.locator("[data-wallet-id]").first.get_attribute("data-wallet-id")


def api_person(gateway_url: str, username: str) -> Person:
    person = Person(client=httpx.Client(base_url=gateway_url + "/api/v1", timeout=30), username=username)
    person.log_in()
    person.wallet_id = person.wallets()[0]["id"]
    return person


@contextmanager
def paused(stack: Stack, process: str) -> Iterator[None]:
    """SIGSTOP one worker of the stack (so a saga waits at a known step), SIGCONT on the way out."""
    pid = stack.supervisor.pid(process)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def pumping(page, predicate):
    """Playwright's sync API delivers events (websocket frames) only while one of its own calls runs:
    let it run between two checks, or a frame that has arrived is never seen."""

    def check():
        page.wait_for_timeout(50)
        return predicate()

    return check


def test_sign_up_deposit_pay_and_watch_the_status_turn_live(stack, gateway_url, tabs):
    alice, bob = tabs(), tabs()
    alice_name, bob_name = new_name("alice"), new_name("bob")
    sign_up(alice, alice_name, shoot=True)
    sign_up(bob, bob_name)
    page = alice.page

    page.get_by_role("link", name="Deposit").first.click()
    expect(page.get_by_role("heading", name=re.compile("Deposit into"))).to_be_visible()
    page.get_by_label(re.compile("Amount")).fill("100.00")
    alice.shoot("deposit")
    page.get_by_role("button", name="Deposit").click()
    expect(page.locator("#tx-badge")).to_have_text("SUCCESS", timeout=LIVE_TIMEOUT_MS)
    alice.shoot("transaction-deposit")

    page.goto("/transfer")
    alice.shoot("transfer")
    page.get_by_label(re.compile("^To")).fill(bob_name)
    page.get_by_label("Amount").fill("30.00")
    page.get_by_role("button", name="Review payment").click()
    expect(page.locator("#confirm-text")).to_have_text(f"You are sending 30.00 USD to {bob_name}.")
    alice.shoot("transfer-confirm")

    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    page.on("websocket", lambda ws: frames.append(f"opened {ws.url}"))
    # The ledger's consumer waits, so the page is certain to open on a transfer still in flight.
    with paused(stack, "ledger-consumer"):
        page.get_by_role("button", name=re.compile("^Pay ")).click()
        expect(page).to_have_url(re.compile(r"/transactions/[0-9a-f-]{36}$"))
        badge = page.locator("#tx-badge")
        expect(badge).to_have_text(re.compile("INITIATED|RESERVED"))
        wait_until(
            pumping(page, lambda: any("auth.ok" in frame for frame in frames)),
            timeout=15,
            message="the page's websocket to answer auth.ok",
        )
        transaction_id = page.url.rsplit("/", 1)[1]
        page.evaluate("window.__sameDocument = true")
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
    expect(badge).to_have_text("SUCCESS", timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert navigations == []
    assert any(transaction_id in frame and "transaction.status" in frame for frame in frames)
    expect(page.locator(".timeline li.done")).to_have_count(4)
    alice.shoot("transaction-transfer")

    bob.page.goto("/")
    expect(bob.page.locator(".wallet .balance").first).to_have_text("30.00")
    expect(bob.page.locator("table.entries").first).to_contain_text("+30.00 USD")
    bob.shoot("dashboard")

    page.goto("/")
    expect(page.locator(".wallet .available").first).to_have_text("70.00")
    page.get_by_role("link", name="History").first.click()
    expect(page.locator("#history tbody tr")).to_have_count(2)
    alice.shoot("wallet")
    # Filtering swaps only the history (htmx) and keeps the filter in the address bar.
    page.get_by_label("Type").select_option("TRANSFER")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#history tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"type=TRANSFER"))
    page.locator("#history tbody a").first.click()
    expect(page).to_have_url(re.compile(f"/transactions/{transaction_id}$"))

    page.goto(f"/wallets/{first_wallet_id_from(page, alice)}/withdraw")
    page.get_by_label(re.compile("Amount")).fill("1000.00")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.locator(".error-summary")).to_contain_text("nsufficient")
    alice.shoot("withdraw-refused")


def first_wallet_id_from(page, tab: Tab) -> str:
    page.goto("/")
    return first_wallet_id(tab)


def test_double_click_refresh_and_back_pay_only_once(gateway_url, tabs):
    payer, payee = Person.sign_up(gateway_url, prefix="carol"), Person.sign_up(gateway_url, prefix="dave")
    payer.fund("50")
    plain = tabs(javascript=False)  # the hardest case: two real form posts, nothing to stop the second
    log_in(plain, payer.username)
    page = plain.page
    expect(page.get_by_role("heading", name="Your wallets")).to_be_visible()
    page.goto("/transfer")
    page.get_by_label(re.compile("^To")).fill(payee.wallet_id)
    page.get_by_label("Amount").fill("5.00")
    page.get_by_role("button", name="Review payment").click()
    expect(page.locator("#confirm-text")).to_contain_text(f"to {payee.username}")
    page.get_by_role("button", name=re.compile("^Pay ")).dblclick()
    expect(page).to_have_url(re.compile(r"/transactions/[0-9a-f-]{36}$"))
    page.reload()  # a refresh of the result re-reads the transaction, it pays nothing
    first = page.url

    boosted = tabs()
    log_in(boosted, payer.username)
    page = boosted.page
    expect(page.get_by_role("heading", name="Your wallets")).to_be_visible()
    page.goto("/transfer")
    page.get_by_label(re.compile("^To")).fill(payee.username)
    page.get_by_label("Amount").fill("7.00")
    page.get_by_role("button", name="Review payment").click()
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page).to_have_url(re.compile(r"/transactions/[0-9a-f-]{36}$"))
    second = page.url
    page.go_back()
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(page).to_have_url(second)

    transfers = [t for t in payer.get("/transactions").json()["results"] if t["type"] == "TRANSFER"]
    assert sorted(Decimal(t["amount"]) for t in transfers) == [Decimal("5"), Decimal("7")]
    assert first != second
    for transaction in transfers:
        assert payer.wait_final(transaction["id"])["status"] == "SUCCESS"
    assert payee.balance() == Decimal("12")


def test_wrong_password_is_shown_in_the_form(gateway_url, tabs):
    person = Person.sign_up(gateway_url, prefix="erin")
    tab = tabs()
    tab.page.goto("/login")
    tab.shoot("login")
    log_in(tab, person.username, password="not-the-password-at-all")
    expect(tab.page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(tab.page).to_have_url(re.compile(r"/login$"))
    tab.shoot("login-error")
    log_in(tab, person.username)
    expect(tab.page.get_by_role("heading", name="Your wallets")).to_be_visible()
    tab.page.get_by_role("button", name="Log out").click()
    expect(tab.page.get_by_role("heading", name="Log in")).to_be_visible()
    tab.page.goto("/")
    expect(tab.page).to_have_url(re.compile(r"/login\?next=%2F$"))


def staff_user_create(stack: Stack, username: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "create_staff_user", "--username", username, "--password", PASSWORD],
        cwd=REPO_ROOT / "gateway_web", env={**os.environ, **stack.config.service_env("gateway_web")},
        check=True, capture_output=True,
    )  # fmt: skip


def test_staff_page_is_for_staff_only(stack, gateway_url, tabs):
    outsider = Person.sign_up(gateway_url, prefix="frank")
    tab = tabs()
    log_in(tab, outsider.username)
    expect(tab.page.get_by_role("heading", name="Your wallets")).to_be_visible()
    response = tab.page.goto("/staff/reconciliation")
    assert response.status == 404
    expect(tab.page.get_by_role("heading", name="Not found")).to_be_visible()
    tab.shoot("not-found")

    staff_name = new_name("staff")
    staff_user_create(stack, staff_name)
    staff = tabs()
    log_in(staff, staff_name)
    page = staff.page
    page.get_by_role("link", name="Reconciliation").click()
    expect(page.get_by_role("heading", name="Reconciliation", exact=True)).to_be_visible()
    page.get_by_role("button", name="Run now").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Run \d+ finished: (CLEAN|FINDINGS)"))
    run_id = re.search(r"Run (\d+)", page.locator(".messages").inner_text())[1]
    current = page.locator("#runs tr.current")
    expect(current).to_contain_text(f"#{run_id}")
    expect(current).to_contain_text("staff:")
    expect(page.locator("#findings-heading")).to_have_text(f"Findings of run #{run_id}")
    staff.shoot("staff-reconciliation")
