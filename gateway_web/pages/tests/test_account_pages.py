"""The account pages: password reset by mail (read back from the file backend), and /settings —
password change and the signed-in sessions, each revocable."""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client

from accounts.models import Session
from accounts.tests.mailbox import mails_in, reset_link
from accounts.tests.test_passwords import login, refreshes
from accounts.tests.totp import STEP, code
from conftest import PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase-42"

pytestmark = pytest.mark.django_db


def signed_in(username: str, password: str = PASSWORD) -> Client:
    browser = Client(HTTP_USER_AGENT="PageBrowser/1.0")
    response = browser.post("/login", {"username": username, "password": password})
    assert response.status_code == 302, response.content
    return browser


def test_login_page_links_to_password_reset():
    assert b'href="/password-reset"' in Client().get("/login").content


def test_reset_through_the_pages(user, mailbox):
    browser = Client()
    assert browser.get("/password-reset").status_code == 200
    sent = browser.post("/password-reset", {"email": user.email})
    assert sent.status_code == 200 and b"If an account has this email address" in sent.content
    uid, token = reset_link(mails_in(mailbox)[0])
    page = browser.get(f"/password-reset/{uid}/{token}")
    assert page.status_code == 200 and b"Choose a new password" in page.content
    weak = browser.post(f"/password-reset/{uid}/{token}", {"new_password": "password123"})
    assert weak.status_code == 400 and b"too common" in weak.content
    done = browser.post(f"/password-reset/{uid}/{token}", {"new_password": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/login"
    reused = browser.post(f"/password-reset/{uid}/{token}", {"new_password": "yet-another-passphrase-7"})
    assert reused.status_code == 400 and b"invalid, already used or expired" in reused.content
    signed_in(user.username, NEW_PASSWORD)


def test_reset_page_says_the_same_for_an_unknown_email(user, mailbox):
    known = Client().post("/password-reset", {"email": user.email}).content
    unknown = Client().post("/password-reset", {"email": "nobody@example.com"}).content
    strip = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub(b"", known) == strip.sub(b"", unknown)
    assert len(mails_in(mailbox)) == 1


def test_reset_page_is_throttled_per_email(user, mailbox, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "password_reset": "1/min"}
    assert Client(REMOTE_ADDR="203.0.113.1").post("/password-reset", {"email": user.email}).status_code == 200
    again = Client(REMOTE_ADDR="203.0.113.2").post("/password-reset", {"email": user.email})
    assert again.status_code == 429 and again["Retry-After"]


def test_settings_needs_sign_in():
    response = Client().get("/settings")
    assert response.status_code == 302 and response["Location"] == "/login?next=%2Fsettings"


def test_settings_lists_sessions_and_marks_this_one(user):
    login(user.username, HTTP_USER_AGENT="OtherDevice/3.0")
    page = signed_in(user.username).get("/settings")
    assert page.status_code == 200
    assert b"OtherDevice/3.0" in page.content and b"PageBrowser/1.0" in page.content
    assert page.content.count(b"This session") == 1


def test_settings_changes_the_password_and_signs_out_the_other_sessions(user):
    other = login(user.username)
    browser = signed_in(user.username)
    wrong = browser.post("/settings", {"old_password": "not-my-password-at-all", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 400 and b"The current password is wrong." in wrong.content
    done = browser.post("/settings", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/settings"
    assert refreshes(other["refresh"]) == 401
    assert browser.get("/settings").status_code == 200
    assert refreshes(browser.cookies[django_settings.JWT_REFRESH_COOKIE].value) == 200


def test_settings_revokes_another_session(user):
    other = login(user.username, HTTP_USER_AGENT="Stolen/1.0")
    browser = signed_in(user.username)
    session_id = re.search(
        rb'Stolen/1.0.*?action="/settings/sessions/([0-9a-f-]+)/revoke"', browser.get("/settings").content, re.S
    )[1].decode()
    response = browser.post(f"/settings/sessions/{session_id}/revoke")
    assert response.status_code == 302 and response["Location"] == "/settings"
    assert refreshes(other["refresh"]) == 401
    assert b"Stolen/1.0" not in browser.get("/settings").content


def test_settings_cannot_revoke_someone_elses_session(user, user_make):
    victim = login(user_make("victim").username)
    mallory = signed_in(user.username)
    victims = Session.objects.get(user__username="victim")
    assert mallory.post(f"/settings/sessions/{victims.id}/revoke").status_code == 404
    assert refreshes(victim["refresh"]) == 200


def test_settings_forms_need_the_csrf_token(user):
    browser = Client(enforce_csrf_checks=True)
    browser.cookies = signed_in(user.username).cookies
    assert browser.post("/settings", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code == 403


# --- Two-factor sign-in -------------------------------------------------------------------------


SECRET_ON_PAGE = re.compile(r'id="two-factor-secret">([A-Z2-7]+)<')


def test_two_factor_is_turned_on_and_off_on_the_settings_page(user, clock):
    browser = signed_in(user.username)
    page = browser.get("/settings").content.decode()
    assert "Two-factor sign-in" in page and "Set up two-factor sign-in" in page
    wrong = browser.post("/settings/two-factor/setup", {"password": "not-the-password"})
    assert wrong.status_code == 400 and b"The password is wrong." in wrong.content

    assert browser.post("/settings/two-factor/setup", {"password": PASSWORD}).status_code == 302
    page = browser.get("/settings").content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    secret = SECRET_ON_PAGE.search(page)[1]
    refused = browser.post("/settings/two-factor/confirm", {"code": code(secret, clock, steps=4)})
    assert refused.status_code == 400 and b"wrong or was already used" in refused.content
    assert SECRET_ON_PAGE.search(refused.content.decode())[1] == secret  # the QR code is still there

    on = browser.post("/settings/two-factor/confirm", {"code": code(secret, clock)})
    assert on.status_code == 200
    shown = re.findall(r"<li><code>([a-z2-7]+)</code></li>", on.content.decode())
    assert len(shown) == 10
    later = browser.get("/settings").content.decode()
    assert "Two-factor sign-in is on." in later and "10 recovery codes left" in later
    assert not any(recovery in later for recovery in shown)  # shown once

    clock.now += STEP
    assert browser.post("/settings/two-factor/disable", {"code": code(secret, clock, steps=5)}).status_code == 400
    off = browser.post("/settings/two-factor/disable", {"code": code(secret, clock)})
    assert off.status_code == 302
    assert "Set up two-factor sign-in" in browser.get("/settings").content.decode()


def test_login_page_asks_for_the_code_when_two_factor_is_on(user, clock):
    browser = signed_in(user.username)
    browser.post("/settings/two-factor/setup", {"password": PASSWORD})
    secret = SECRET_ON_PAGE.search(browser.get("/settings").content.decode())[1]
    assert browser.post("/settings/two-factor/confirm", {"code": code(secret, clock)}).status_code == 200
    clock.now += STEP

    credentials = {"username": user.username, "password": PASSWORD}
    asked = Client().post("/login", credentials)
    assert asked.status_code == 400 and b"Two-factor sign-in is on for this account" in asked.content
    wrong = Client().post("/login", {**credentials, "otp": code(secret, clock, steps=5)})
    assert wrong.status_code == 400 and b"wrong or was already used" in wrong.content
    done = Client().post("/login", {**credentials, "otp": code(secret, clock)})
    assert done.status_code == 302 and done["Location"] == "/"
    assert django_settings.JWT_ACCESS_COOKIE in done.cookies
