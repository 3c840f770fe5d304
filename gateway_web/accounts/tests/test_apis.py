"""Sign-up, tokens, rotation, logout, lockout and the token checks every request goes through."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

from conftest import PASSWORD, access_token_for

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"
WALLET = {"id": "6b7a1d0e-2f4e-4c61-9b0a-1c2d3e4f5a6b", "owner_id": 0, "name": "Main", "currency": "USD"}

pytestmark = pytest.mark.django_db


def _users() -> int:
    return get_user_model().objects.count()


@pytest.fixture
def wallet_service(downstream):
    downstream.answer("POST", "/wallets", 201, WALLET)
    return downstream


def register(client, username="bob", email="bob@example.com", password=PASSWORD):
    return client.post(REGISTER, {"username": username, "email": email, "password": password}, format="json")


def test_register_creates_user_and_opens_default_wallet_for_them(client, wallet_service, settings):
    settings.DEFAULT_CURRENCY = "EUR"
    response = register(client)
    assert response.status_code == 201, response.json()
    user = get_user_model().objects.get(username="bob")
    assert response.json() == {"id": user.id, "username": "bob", "email": "bob@example.com", "is_staff": False}
    assert user.check_password(PASSWORD)
    (call,) = wallet_service.requests
    assert (call.method, call.path, call.body) == ("POST", "/wallets", {"currency": "EUR", "name": "Main"})
    assert int(call.claims["user_id"]) == user.id


@pytest.mark.parametrize(
    "password",
    ["short-pw1", "password123", "12345678901234", "bob-example-com"],
    ids=["too-short", "common", "numeric", "similar-to-email"],
)
def test_register_refuses_weak_password_and_creates_nothing(client, wallet_service, password):
    response = register(client, password=password)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]["password"]
    assert _users() == 0
    assert wallet_service.requests == []


def test_register_refuses_taken_username_whatever_its_case(client, wallet_service, user_make):
    user_make("Bob", email="first@example.com")
    response = register(client, username="bOB", email="second@example.com")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username"}
    assert _users() == 1


def test_register_refuses_taken_email_whatever_its_case(client, wallet_service, user_make):
    user_make("carol", email="Shared@Example.com")
    response = register(client, username="dave", email="shared@example.COM")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"email"}
    assert _users() == 1


def test_database_refuses_case_variant_username_even_without_the_check(user_make):
    from django.db import IntegrityError, transaction

    user_make("erin")
    with pytest.raises(IntegrityError), transaction.atomic():
        user_make("ERIN", email="other@example.com")


def test_register_refuses_missing_and_malformed_fields(client, wallet_service):
    response = client.post(REGISTER, {"username": "a b", "email": "not-an-email"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username", "email", "password"}


def test_register_fails_503_and_leaves_no_user_when_wallet_service_is_down(client, settings, closed_port_url):
    settings.SERVICE_URLS = {**settings.SERVICE_URLS, "wallet": closed_port_url}
    response = register(client)
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert _users() == 0


def test_register_fails_503_and_leaves_no_user_when_wallet_service_errors(client, downstream):
    downstream.answer("POST", "/wallets", 500, b"<h1>boom</h1>")
    response = register(client)
    assert response.status_code == 503
    assert _users() == 0


def _token_pair(client, username="alice", password=PASSWORD, **headers):
    return client.post(TOKEN, {"username": username, "password": password}, format="json", **headers)


def _claims(token: str) -> dict:
    return jwt.decode(token, open(django_settings.JWT_PUBLIC_KEY).read(), algorithms=["RS256"])


def test_token_pair_is_rs256_with_user_and_staff_claims(client, user_make):
    staff = user_make("alice", is_staff=True)
    response = _token_pair(client)
    assert response.status_code == 200
    pair = response.json()
    assert jwt.get_unverified_header(pair["access"])["alg"] == "RS256"
    access = _claims(pair["access"])
    assert (int(access["user_id"]), access["token_type"], access["is_staff"]) == (staff.id, "access", True)
    assert _claims(pair["refresh"])["token_type"] == "refresh"


def test_token_refused_for_wrong_password(client, user):
    response = _token_pair(client, password="wrong-password-123")
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_refresh_rotates_and_the_used_refresh_token_stops_working(client, user):
    first = _token_pair(client).json()
    rotated = client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh"] != first["refresh"]
    assert int(_claims(second["access"])["user_id"]) == user.id
    reused = client.post(REFRESH, {"refresh": first["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_not_valid"
    assert client.post(REFRESH, {"refresh": second["refresh"]}, format="json").status_code == 200


def test_refresh_refuses_an_access_token(client, user):
    pair = _token_pair(client).json()
    assert client.post(REFRESH, {"refresh": pair["access"]}, format="json").status_code == 401


def test_logout_blacklists_the_refresh_token(client, user):
    pair = _token_pair(client).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 204
    client.credentials()
    response = client.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 401


def test_logout_requires_a_bearer_token(client, user):
    pair = _token_pair(client).json()
    response = client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200


def test_logout_refuses_to_revoke_another_users_refresh_token(client, user_make):
    user_make("alice")
    mallory = user_make("mallory")
    victim = _token_pair(client).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(mallory)}")
    assert client.post(LOGOUT, {"refresh": victim["refresh"]}, format="json").status_code == 401
    client.credentials()
    assert client.post(REFRESH, {"refresh": victim["refresh"]}, format="json").status_code == 200


def test_me_returns_the_caller(authed, user):
    response = authed.get(ME)
    assert response.status_code == 200
    assert response.json() == {"id": user.id, "username": "alice", "email": "alice@example.com", "is_staff": False}


def test_me_without_token_is_401_json(client):
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_login_locks_out_after_five_failures_even_with_the_right_password(client, user_make):
    user_make("alice")
    user_make("bob")
    for _ in range(5):
        assert _token_pair(client, password="wrong-password-123").status_code in (401, 429)
    locked = _token_pair(client)
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    # The lockout is per username + address: another account from the same address still logs in.
    assert _token_pair(client, username="bob").status_code == 200


def test_four_failures_do_not_lock_out(client, user):
    for _ in range(4):
        assert _token_pair(client, password="wrong-password-123").status_code == 401
    assert _token_pair(client).status_code == 200


def test_auth_endpoints_are_throttled(client, user, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "auth": "3/min"}
    statuses = [_token_pair(client).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = _token_pair(client)
    assert response.json()["code"] == "throttled"
    assert "Retry-After" in response


def test_a_new_x_forwarded_for_per_guess_does_not_escape_the_lockout(client, user):
    # Measured (issue 14): 30 guesses, each with another X-Forwarded-For, all 401, then the right
    # password 200 — the header came from the client itself, not from a trusted proxy.
    statuses = [
        _token_pair(client, password=f"wrong-{n}", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(6)
    ]
    assert statuses[:4] == [401] * 4 and statuses[-1] == 429, statuses
    locked = _token_pair(client, HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert (locked.status_code, locked.json()["code"]) == (429, "locked_out")


@pytest.mark.parametrize("path", [REGISTER, TOKEN, REFRESH])
def test_auth_throttles_key_on_the_peer_not_on_x_forwarded_for(client, settings, path):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "auth": "3/min"}
    statuses = [
        client.post(path, {}, format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(4)
    ]
    assert statuses == [400, 400, 400, 429]


def test_one_username_locks_out_whatever_address_the_guesses_come_from(client, user_make, settings):
    # Behind a trusted proxy every guess really comes from another address: axes (username + IP)
    # never trips, the per-username limit does.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 8
    user_make("alice")
    user_make("bob")
    statuses = [
        _token_pair(client, password="wrong-password-123", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(8)
    ]
    assert statuses == [401] * 8
    locked = _token_pair(client, HTTP_X_FORWARDED_FOR="198.51.100.200")
    assert (locked.status_code, locked.json()["code"]) == (429, "locked_out")
    assert "access" not in locked.json()
    # Only that username: another account from the same addresses still logs in.
    assert _token_pair(client, username="bob", HTTP_X_FORWARDED_FOR="198.51.100.200").status_code == 200


def test_guesses_refused_by_the_address_lockout_do_not_count_for_the_username(client, user, settings):
    # One address alone must not lock a stranger's account: once axes refuses it, no password is
    # checked and nothing more counts towards the per-username limit.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 8
    for _ in range(12):
        _token_pair(client, password="wrong-password-123", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert _token_pair(client, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 200


def test_refresh_puts_the_current_staff_flag_in_the_new_access_token(client, user_make):
    olga = user_make("olga", is_staff=True)
    pair = _token_pair(client, username="olga").json()
    olga.is_staff = False
    olga.save()
    demoted = client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()
    assert _claims(demoted["access"])["is_staff"] is False
    olga.is_staff = True
    olga.save()
    promoted = client.post(REFRESH, {"refresh": demoted["refresh"]}, format="json").json()
    assert _claims(promoted["access"])["is_staff"] is True


def test_refresh_is_refused_once_the_account_is_deactivated(client, user):
    pair = _token_pair(client).json()
    user.is_active = False
    user.save()
    response = client.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "token_not_valid")


# --- Tokens the gateway must refuse -------------------------------------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims_for(user, **overrides) -> dict:
    now = int(time.time())
    return {"token_type": "access", "user_id": user.id, "is_staff": True, "jti": "x", "iat": now,
            "exp": now + 300, **overrides}  # fmt: skip


def _refused(client, token: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get(ME)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"


def test_alg_none_token_is_refused(client, user):
    _refused(client, f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims_for(user))}.")


def test_hs256_token_signed_with_the_public_key_is_refused(client, user):
    public_pem = open(django_settings.JWT_PUBLIC_KEY).read().encode()
    header = _b64({"alg": "HS256", "typ": "JWT"})
    body = _b64(_claims_for(user))
    import hashlib
    import hmac

    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    _refused(client, f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}")


def test_token_signed_by_another_key_is_refused(client, user):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _refused(client, jwt.encode(_claims_for(user), pem, algorithm="RS256"))


def test_token_with_tampered_claims_is_refused(client, user):
    header, _body, signature = access_token_for(user).split(".")
    _refused(client, f"{header}.{_b64(_claims_for(user, is_staff=True))}.{signature}")


def test_expired_token_is_refused(client, user):
    private_pem = open(django_settings.JWT_PRIVATE_KEY).read()
    now = int(time.time())
    _refused(client, jwt.encode(_claims_for(user, iat=now - 700, exp=now - 60), private_pem, algorithm="RS256"))


def test_refresh_token_is_not_accepted_as_access(client, user):
    pair = _token_pair(client).json()
    _refused(client, pair["refresh"])


def test_service_token_is_not_accepted_by_the_public_api(client, user):
    from walletkit.auth import service_token_issue

    _refused(client, service_token_issue(audience="gateway", on_behalf_of=user.id))


def test_a_valid_token_is_accepted(client, user):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    assert client.get(ME).status_code == 200
