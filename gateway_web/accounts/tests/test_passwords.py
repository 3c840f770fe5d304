"""Password reset by mail (read back from Django's file backend) and password change: one-use,
expiring links, no account enumeration, throttles, and the sessions each of them ends."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.mailbox import bodies, mails_in, reset_link
from conftest import PASSWORD

RESET = "/api/v1/auth/password/reset"
CONFIRM = "/api/v1/auth/password/reset/confirm"
CHANGE = "/api/v1/auth/password/change"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
NEW_PASSWORD = "a-brand-new-passphrase-42"

pytestmark = pytest.mark.django_db


def login(username: str, password: str = PASSWORD, **headers) -> dict:
    response = APIClient().post(TOKEN, {"username": username, "password": password}, format="json", **headers)
    assert response.status_code == 200, response.json()
    return response.json()


def refreshes(refresh: str) -> int:
    return APIClient().post(REFRESH, {"refresh": refresh}, format="json").status_code


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def ask_reset(client, email: str, **extra):
    return client.post(RESET, {"email": email}, format="json", **extra)


def confirm(client, uid: str, token: str, new_password: str = NEW_PASSWORD):
    return client.post(CONFIRM, {"uid": uid, "token": token, "new_password": new_password}, format="json")


# --- Reset ----------------------------------------------------------------------------------------


def test_reset_mails_a_link_in_text_and_html_that_sets_a_new_password(client, user, mailbox):
    response = ask_reset(client, "ALICE@example.com")
    assert response.status_code == 202, response.json()
    (mail,) = mails_in(mailbox)
    assert mail["To"] == "ALICE@example.com"
    parts = bodies(mail)
    assert set(parts) == {"text/plain", "text/html"}
    uid, token = reset_link(mail)
    assert f"/password-reset/{uid}/{token}" in parts["text/html"]
    assert confirm(client, uid, token).status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    login(user.username, NEW_PASSWORD)


def test_a_reset_link_works_once(client, user, mailbox):
    ask_reset(client, user.email)
    uid, token = reset_link(mails_in(mailbox)[0])
    assert confirm(client, uid, token).status_code == 204
    again = confirm(client, uid, token, new_password="yet-another-passphrase-7")
    assert again.status_code == 400
    assert again.json()["code"] == "reset_link_invalid"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_an_expired_reset_link_is_refused(client, user, mailbox, settings, monkeypatch):
    ask_reset(client, user.email)
    uid, token = reset_link(mails_in(mailbox)[0])
    later = datetime.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    response = confirm(client, uid, token)
    assert response.status_code == 400 and response.json()["code"] == "reset_link_invalid"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_password_change_invalidates_an_earlier_reset_link(client, user, mailbox):
    ask_reset(client, user.email)
    uid, token = reset_link(mails_in(mailbox)[0])
    pair = login(user.username)
    assert bearer(pair["access"]).post(
        CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    ).status_code == 204  # fmt: skip
    response = confirm(client, uid, token, new_password="yet-another-passphrase-7")
    assert response.status_code == 400 and response.json()["code"] == "reset_link_invalid"


@pytest.mark.parametrize(
    "uid, token", [("Mg", "bogus-token"), ("not-base64!", "x"), ("OTk5OTk5", "abc-def")], ids=["token", "uid", "nobody"]
)
def test_a_forged_reset_link_is_refused(client, user, uid, token):
    response = confirm(client, uid, token)
    assert response.status_code == 400 and response.json()["code"] == "reset_link_invalid"


def test_a_weak_new_password_is_refused_and_the_link_still_works(client, user, mailbox):
    ask_reset(client, user.email)
    uid, token = reset_link(mails_in(mailbox)[0])
    weak = confirm(client, uid, token, new_password="password123")
    assert weak.status_code == 400
    assert weak.json()["code"] == "invalid" and weak.json()["errors"]["new_password"]
    assert confirm(client, uid, token).status_code == 204


def test_unknown_email_gets_the_same_202_and_no_mail(client, user, mailbox):
    known = ask_reset(client, user.email)
    unknown = ask_reset(client, "nobody@example.com")
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json()) == (202, known.json())
    assert [mail["To"] for mail in mails_in(mailbox)] == [user.email]


def test_an_inactive_account_gets_no_mail(client, user_make, mailbox):
    user_make("sleepy", is_active=False)
    assert ask_reset(client, "sleepy@example.com").status_code == 202
    assert mails_in(mailbox) == []


def test_a_malformed_email_is_400(client):
    response = ask_reset(client, "not-an-email")
    assert response.status_code == 400 and response.json()["errors"]["email"]


def test_a_reset_ends_every_session_of_the_user(client, user, mailbox):
    phone, laptop = login(user.username), login(user.username)
    ask_reset(client, user.email)
    assert confirm(client, *reset_link(mails_in(mailbox)[0])).status_code == 204
    assert refreshes(phone["refresh"]) == refreshes(laptop["refresh"]) == 401
    sessions = bearer(login(user.username, NEW_PASSWORD)["access"]).get("/api/v1/auth/sessions").json()
    assert [session["current"] for session in sessions] == [True]


def test_reset_requests_are_throttled_per_address(client, user_make, settings, mailbox):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "password_reset": "2/min"}
    assert ask_reset(client, "one@example.com").status_code == 202
    assert ask_reset(client, "two@example.com").status_code == 202
    third = ask_reset(client, "three@example.com")
    assert third.status_code == 429 and third.json()["code"] == "throttled" and "Retry-After" in third
    assert ask_reset(client, "three@example.com", REMOTE_ADDR="203.0.113.9").status_code == 202


def test_reset_requests_are_throttled_per_email_whatever_the_address(client, user, settings, mailbox):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "password_reset": "2/min"}
    assert ask_reset(client, user.email, REMOTE_ADDR="203.0.113.1").status_code == 202
    assert ask_reset(client, user.email.upper(), REMOTE_ADDR="203.0.113.2").status_code == 202
    assert ask_reset(client, user.email, REMOTE_ADDR="203.0.113.3").status_code == 429
    assert len(mails_in(mailbox)) == 2


def test_an_unsendable_mail_is_still_202(client, user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    assert ask_reset(client, user.email).status_code == 202


# --- Change ---------------------------------------------------------------------------------------


def change(access: str, old: str = PASSWORD, new: str = NEW_PASSWORD):
    return bearer(access).post(CHANGE, {"old_password": old, "new_password": new}, format="json")


def test_change_needs_the_current_password(user):
    pair = login(user.username)
    response = change(pair["access"], old="not-my-password-at-all")
    assert response.status_code == 400 and response.json()["code"] == "wrong_password"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_wrong_current_passwords_count_towards_the_username_lockout(user, settings):
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 3
    pair = login(user.username)
    for _ in range(3):
        assert change(pair["access"], old="not-my-password-at-all").status_code == 400
    locked = change(pair["access"])
    assert locked.status_code == 429 and locked.json()["code"] == "locked_out"


def test_change_refuses_a_weak_new_password(user):
    response = change(login(user.username)["access"], new="password123")
    assert response.status_code == 400 and response.json()["errors"]["new_password"]


def test_change_ends_every_other_session_and_keeps_the_callers(user):
    other, mine = login(user.username), login(user.username)
    assert change(mine["access"]).status_code == 204
    assert refreshes(other["refresh"]) == 401
    assert refreshes(mine["refresh"]) == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_change_needs_a_bearer_token(client):
    response = client.post(CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert response.status_code == 401


def test_emails_are_unique_whatever_their_case_in_the_database(user_make):
    from django.db import IntegrityError, transaction

    user_make("frank", email="Frank@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        get_user_model().objects.create_user(username="frank2", email="frank@example.COM", password=PASSWORD)


def test_a_reset_also_stops_refresh_tokens_from_before_sessions(client, user, mailbox):
    legacy = RefreshToken.for_user(user)  # no session claim: only the blacklist can stop it
    ask_reset(client, user.email)
    assert confirm(client, *reset_link(mails_in(mailbox)[0])).status_code == 204
    assert refreshes(str(legacy)) == 401


def test_a_change_also_stops_other_refresh_tokens_from_before_sessions(user):
    legacy = RefreshToken.for_user(user)
    mine = login(user.username)
    assert change(mine["access"]).status_code == 204
    assert refreshes(str(legacy)) == 401
    assert refreshes(mine["refresh"]) == 200
