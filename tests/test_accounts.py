"""Accounts against the whole stack: password reset by mail through the pages in real Chromium
(the mail read back from the gateway's file backend, <WALLET_DATA_DIR>/mail/), two-factor sign-in
turned on in /settings and then needed to log in (codes computed from the secret on the page, as an
authenticator app would), and the session list, revocation and password change through the public
API."""

from __future__ import annotations

import email
import re
import time
from base64 import b32decode
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import httpx
import pytest
from django_otp.oath import TOTP
from playwright.sync_api import Browser, expect

from tests.browser import Tab, chromium_launched
from tests.people import PASSWORD, Person
from walletkit.devstack.stack import Stack
from walletkit.testing.waiting import wait_until

NEW_PASSWORD = "a-brand-new-passphrase-42"
RESET_LINK = re.compile(r"https?://[^/\s]+(?P<path>/password-reset/[^/\s]+/[^/\s]+)")
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium_launched()


def mails_to(mail_dir: Path, address: str) -> list[Message]:
    """Messages Django's file backend wrote for ``address`` (one file per message)."""
    if not mail_dir.exists():
        return []
    messages = [email.message_from_bytes(path.read_bytes().split(b"\n" + b"-" * 79)[0]) for path in mail_dir.iterdir()]
    return [message for message in messages if message["To"] == address]


def plain_text(message: Message) -> str:
    part = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def tokens(client: httpx.Client, username: str, password: str = PASSWORD, agent: str = "e2e") -> dict:
    response = client.post(
        "/auth/token", json={"username": username, "password": password}, headers={"User-Agent": agent}
    )
    assert response.status_code == 200, response.text
    return response.json()


def refresh_status(client: httpx.Client, refresh: str) -> int:
    return client.post("/auth/token/refresh", json={"refresh": refresh}).status_code


def test_a_forgotten_password_is_reset_through_the_mailed_link(browser, gateway_url, stack: Stack):
    person = Person.sign_up(gateway_url, prefix="forgot")
    address = f"{person.username}@example.com"
    api_session = tokens(person.client, person.username)
    tab = Tab.open(browser, gateway_url)
    try:
        page = tab.page
        page.goto("/login")
        page.get_by_role("link", name="Forgot your password?").click()
        page.get_by_label("Email").fill(address)
        page.get_by_role("button", name="Send the link").click()
        expect(page.get_by_text("If an account has this email address")).to_be_visible()

        (mail,) = wait_until(lambda: mails_to(stack.config.data_dir / "mail", address), message="the reset mail")
        page.goto(RESET_LINK.search(plain_text(mail))["path"])
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Set the new password").click()
        expect(page).to_have_url(re.compile(r"/login$"))

        page.get_by_label("Username").fill(person.username)
        page.get_by_label("Password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Your wallets")).to_be_visible()
        page.goto("/settings")
        expect(page.get_by_text("This session")).to_be_visible()
        assert tab.csp_violations() == []
    finally:
        tab.close()
    assert refresh_status(person.client, api_session["refresh"]) == 401


def authenticator_code(secret: str, at: float) -> str:
    """What an authenticator app holding ``secret`` shows at the time ``at``."""
    totp = TOTP(b32decode(secret))
    totp.time = at
    return f"{totp.token():06d}"


def test_two_factor_is_turned_on_in_settings_and_then_needed_to_log_in(browser, gateway_url):
    person = Person.sign_up(gateway_url, prefix="twofactor")
    tab = Tab.open(browser, gateway_url)
    try:
        page = tab.page
        page.goto("/login")
        page.get_by_label("Username").fill(person.username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Your wallets")).to_be_visible()

        page.goto("/settings")
        page.get_by_label("Your password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Set up two-factor sign-in").click()
        expect(page.get_by_role("img", name="QR code of your two-factor sign-in secret")).to_be_visible()
        secret = page.locator("#two-factor-secret").inner_text()
        confirmed_at = time.time()
        page.get_by_label("Authentication code").fill(authenticator_code(secret, confirmed_at))
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
        expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(10)

        page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        page.get_by_label("Username").fill(person.username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("Two-factor sign-in is on for this account")).to_be_visible()
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        # The confirming code is spent (a replay is refused): the app's next one, one step ahead.
        page.get_by_label("Authentication code").fill(authenticator_code(secret, confirmed_at + 30))
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Your wallets")).to_be_visible()
        assert tab.csp_violations() == []
    finally:
        tab.close()
    refused = person.client.post("/auth/token", json={"username": person.username, "password": PASSWORD})
    assert (refused.status_code, refused.json()["code"]) == (401, "otp_required")


def test_sessions_are_listed_revoked_and_ended_by_a_password_change(gateway_url):
    person = Person.sign_up(gateway_url, prefix="sessions")
    client = person.client
    phone = tokens(client, person.username, agent="Phone/1.0")
    laptop = tokens(client, person.username, agent="Laptop/1.0")
    tablet = tokens(client, person.username, agent="Tablet/1.0")
    as_laptop = {"Authorization": f"Bearer {laptop['access']}"}

    listed = client.get("/auth/sessions", headers=as_laptop).json()
    assert {s["user_agent"] for s in listed if s["current"]} == {"Laptop/1.0"}
    phone_id = next(s["id"] for s in listed if s["user_agent"] == "Phone/1.0")
    assert client.delete(f"/auth/sessions/{phone_id}", headers=as_laptop).status_code == 204
    assert refresh_status(client, phone["refresh"]) == 401

    stranger = Person.sign_up(gateway_url, prefix="stranger")
    assert client.delete(f"/auth/sessions/{phone_id}", headers=stranger.headers).status_code == 404

    changed = client.post(
        "/auth/password/change", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=as_laptop
    )
    assert changed.status_code == 204, changed.text
    assert refresh_status(client, tablet["refresh"]) == 401
    assert refresh_status(client, laptop["refresh"]) == 200
