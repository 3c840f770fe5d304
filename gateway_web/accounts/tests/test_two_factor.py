"""Two-factor sign-in through the API: turning it on with a code computed from the secret, login
with a TOTP or a recovery code, replays and drift, turning it off, and the lockouts wrong codes
count towards. The TOTP clock is frozen (``clock``, accounts.tests.totp) so that a code is exactly
one step off when a test says so, whatever the wall clock does meanwhile."""

from __future__ import annotations

import base64
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.totp import STEP, code
from accounts.two_factor import two_factor_code_accepted
from conftest import PASSWORD, access_token_for

TOKEN = "/api/v1/auth/token"
STATUS = "/api/v1/auth/2fa"
SETUP = "/api/v1/auth/2fa/setup"
CONFIRM = "/api/v1/auth/2fa/confirm"
DISABLE = "/api/v1/auth/2fa/disable"
THREADS = 8


def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return client


def login(username="alice", password=PASSWORD, otp=None, **headers):
    body = {"username": username, "password": password} | ({"otp": otp} if otp is not None else {})
    return APIClient().post(TOKEN, body, format="json", **headers)


def enable(user, clock) -> tuple[str, list[str]]:
    """Turns two-factor sign-in on for ``user``; the secret and the recovery codes."""
    client = bearer(user)
    secret = client.post(SETUP, {"password": PASSWORD}, format="json").json()["secret"]
    confirmed = client.post(CONFIRM, {"code": code(secret, clock)}, format="json")
    assert confirmed.status_code == 200, confirmed.json()
    clock.now += STEP  # the confirming code is spent: later tests use the next step's
    return secret, confirmed.json()["recovery_codes"]


pytestmark = pytest.mark.django_db


# --- Turning it on --------------------------------------------------------------------------------


def test_setup_gives_a_secret_uri_and_qr_code_and_a_generated_code_turns_it_on(user, clock):
    client = bearer(user)
    assert client.get(STATUS).json() == {"enabled": False, "recovery_codes_left": 0}
    setup = client.post(SETUP, {"password": PASSWORD}, format="json")
    assert setup.status_code == 200, setup.json()
    body = setup.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/Wallet%3Aalice?")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert body["qr_code"].startswith("data:image/svg+xml;base64,")
    assert b"<svg" in base64.b64decode(body["qr_code"].split(",", 1)[1])
    assert client.get(STATUS).json()["enabled"] is False  # not before a code confirms it

    confirmed = client.post(CONFIRM, {"code": code(body["secret"], clock)}, format="json")
    assert confirmed.status_code == 200, confirmed.json()
    recovery = confirmed.json()["recovery_codes"]
    assert confirmed.json()["enabled"] is True
    assert len(set(recovery)) == 10
    assert client.get(STATUS).json() == {"enabled": True, "recovery_codes_left": 10}


def test_setup_needs_the_password(user):
    refused = bearer(user).post(SETUP, {"password": "not-the-password"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "wrong_password")
    assert bearer(user).post(CONFIRM, {"code": "123456"}, format="json").json()["code"] == "two_factor_not_set_up"


def test_a_wrong_confirmation_code_does_not_turn_it_on(user, clock):
    client = bearer(user)
    secret = client.post(SETUP, {"password": PASSWORD}, format="json").json()["secret"]
    wrong = client.post(CONFIRM, {"code": code(secret, clock, steps=5)}, format="json")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "otp_invalid")
    assert client.get(STATUS).json()["enabled"] is False
    assert login().status_code == 200  # login still needs the password only
    assert client.post(CONFIRM, {"code": code(secret, clock)}, format="json").status_code == 200


def test_setup_again_while_on_is_a_conflict(user, clock):
    enable(user, clock)
    again = bearer(user).post(SETUP, {"password": PASSWORD}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "two_factor_enabled")


# --- Login ------------------------------------------------------------------------------------------


def test_login_needs_the_code_once_it_is_on(user, clock):
    secret, _ = enable(user, clock)
    asked = login()
    assert (asked.status_code, asked.json()["code"]) == (401, "otp_required")
    assert "access" not in asked.json()
    # A wrong password is told as before, code or not: only the right password gets "otp_required".
    assert login(password="wrong-password-123").json()["code"] != "otp_required"
    assert login(password="wrong-password-123", otp=code(secret, clock)).status_code == 401
    signed = login(otp=code(secret, clock))
    assert signed.status_code == 200 and {"access", "refresh"} <= signed.json().keys()


def test_a_wrong_code_is_refused(user, clock):
    secret, _ = enable(user, clock)
    refused = login(otp=code(secret, clock, steps=3))
    assert (refused.status_code, refused.json()["code"]) == (401, "otp_invalid")
    assert login(otp="not-a-code").json()["code"] == "otp_invalid"


def test_a_code_is_accepted_once(user, clock):
    secret, _ = enable(user, clock)
    same = code(secret, clock)
    assert login(otp=same).status_code == 200
    replayed = login(otp=same)
    assert (replayed.status_code, replayed.json()["code"]) == (401, "otp_invalid")
    clock.now += STEP
    assert login(otp=code(secret, clock)).status_code == 200


def test_codes_one_step_off_are_accepted_two_are_not(user, clock):
    secret, _ = enable(user, clock)
    assert login(otp=code(secret, clock, steps=2)).status_code == 401
    assert login(otp=code(secret, clock, steps=-2)).status_code == 401
    assert login(otp=code(secret, clock, steps=1)).status_code == 200
    # An earlier step than the last accepted one is a replay, even inside the drift window.
    clock.now += STEP
    assert login(otp=code(secret, clock, steps=-1)).status_code == 401


def test_a_recovery_code_signs_in_once(user, clock):
    _, recovery = enable(user, clock)
    assert login(otp=recovery[0]).status_code == 200
    again = login(otp=recovery[0])
    assert (again.status_code, again.json()["code"]) == (401, "otp_invalid")
    assert login(otp=f" {recovery[1].upper()} ").status_code == 200  # as typed: any case, spaces
    assert bearer(user).get(STATUS).json()["recovery_codes_left"] == 8


@pytest.mark.django_db(transaction=True)
def test_one_code_used_many_times_at_once_is_accepted_once(user, clock):
    # django-otp reads the recovery code (or last_t) and then writes it: without the row lock every
    # one of these threads, on its own database connection, would see the code still unused.
    secret, recovery = enable(user, clock)
    for used in (recovery[0], code(secret, clock)):
        start = threading.Barrier(THREADS)
        accepted = []

        def check(used=used, start=start, accepted=accepted):
            try:
                start.wait(timeout=10)
                accepted.append(two_factor_code_accepted(user_id=user.id, code=used))
            finally:
                connection.close()

        threads = [threading.Thread(target=check) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(accepted) == [False] * (THREADS - 1) + [True], used


# --- Turning it off ---------------------------------------------------------------------------------


def test_disable_needs_a_right_code(user, clock):
    secret, _ = enable(user, clock)
    client = bearer(user)
    wrong = client.post(DISABLE, {"code": code(secret, clock, steps=4)}, format="json")
    assert (wrong.status_code, wrong.json()["code"]) == (400, "otp_invalid")
    assert client.get(STATUS).json()["enabled"] is True
    assert client.post(DISABLE, {"code": code(secret, clock)}, format="json").status_code == 204
    assert client.get(STATUS).json() == {"enabled": False, "recovery_codes_left": 0}
    assert login().status_code == 200
    off = client.post(DISABLE, {"code": code(secret, clock)}, format="json")
    assert off.json()["code"] == "two_factor_not_enabled"


def test_disable_with_a_recovery_code(user, clock):
    _, recovery = enable(user, clock)
    assert bearer(user).post(DISABLE, {"code": recovery[3]}, format="json").status_code == 204
    assert login().status_code == 200


# --- Lockouts ---------------------------------------------------------------------------------------


def test_wrong_codes_lock_the_username_out_whatever_the_address(user, clock, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 3
    secret, _ = enable(user, clock)
    for n in range(3):
        wrong = login(otp=code(secret, clock, steps=5), HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        assert wrong.json()["code"] == "otp_invalid"
    locked = login(otp=code(secret, clock), HTTP_X_FORWARDED_FOR="198.51.100.50")
    assert (locked.status_code, locked.json()["code"]) == (429, "locked_out")


def test_wrong_codes_from_one_address_trip_the_address_lockout(user, clock):
    secret, _ = enable(user, clock)
    for _ in range(5):
        assert login(otp=code(secret, clock, steps=5)).status_code in (401, 429)
    locked = login(otp=code(secret, clock))
    assert (locked.status_code, locked.json()["code"]) == (429, "locked_out")


def test_wrong_codes_to_disable_count_towards_the_lockout(user, clock, settings):
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 3
    secret, _ = enable(user, clock)
    client = bearer(user)
    for _ in range(3):
        assert client.post(DISABLE, {"code": code(secret, clock, steps=5)}, format="json").status_code == 400
    locked = client.post(DISABLE, {"code": code(secret, clock)}, format="json")
    assert (locked.status_code, locked.json()["code"]) == (429, "locked_out")
    assert client.get(STATUS).json()["enabled"] is True
    assert login(otp=code(secret, clock)).json()["code"] == "locked_out"
