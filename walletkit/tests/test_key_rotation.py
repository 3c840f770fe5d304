"""Key rotation without logging anyone out (decision 0015): tokens name their key (``kid``), a
public-key setting may hold the current and the previous key, and key files are re-read when they
change — no restart. The end-to-end rotation under load is tests/test_key_rotation.py."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test.utils import override_settings
from rest_framework.test import APIClient

from walletkit.auth import key_id, service_token_issue, service_token_verify, user_token_verify


def key_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(*keys) -> bytes:
    return b"".join(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        for key in keys
    )


def replace(path: Path, content: bytes) -> None:
    """As an operator should: write aside, then rename over (never a half-written key file)."""
    path.with_suffix(".new").write_bytes(content)
    os.replace(path.with_suffix(".new"), path)


def user_token(key, *, kid: str | None) -> str:
    claims = {"user_id": 7, "token_type": "access", "exp": int(time.time()) + 60}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid} if kid else None)


def test_a_user_token_of_the_current_or_the_previous_key_is_accepted_until_the_previous_is_removed(tmp_path):
    old, new = key_pair(), key_pair()
    bundle = tmp_path / "jwt_public.pem"
    replace(bundle, public_pem(old))
    old_token = user_token(old, kid=key_id(old.public_key()))

    with override_settings(JWT_PUBLIC_KEY=str(bundle)):
        assert user_token_verify(old_token).id == 7
        replace(bundle, public_pem(new, old))  # step 1: every verifier trusts both
        assert user_token_verify(user_token(new, kid=key_id(new.public_key()))).id == 7
        assert user_token_verify(old_token).id == 7
        replace(bundle, public_pem(new))  # step 3: the old key's tokens have expired
        with pytest.raises(jwt.InvalidTokenError, match="does not trust"):
            user_token_verify(old_token)


def test_a_token_without_kid_from_before_is_tried_with_every_trusted_key(tmp_path):
    old, new = key_pair(), key_pair()
    bundle = tmp_path / "jwt_public.pem"
    replace(bundle, public_pem(new, old))

    with override_settings(JWT_PUBLIC_KEY=str(bundle)):
        assert user_token_verify(user_token(old, kid=None)).id == 7
        with pytest.raises(jwt.InvalidSignatureError):
            user_token_verify(user_token(key_pair(), kid=None))


def test_a_forged_kid_does_not_choose_a_key_that_did_not_sign(tmp_path):
    trusted, forger = key_pair(), key_pair()
    bundle = tmp_path / "jwt_public.pem"
    replace(bundle, public_pem(trusted))

    with override_settings(JWT_PUBLIC_KEY=str(bundle)), pytest.raises(jwt.InvalidSignatureError):
        user_token_verify(user_token(forger, kid=key_id(trusted.public_key())))


def test_service_tokens_carry_the_kid_of_the_signing_key_and_rotate_without_restart(tmp_path, settings):
    old, new = key_pair(), key_pair()
    private, public = tmp_path / "service_private.pem", tmp_path / "service_public.pem"
    replace(private, private_pem(old))
    replace(public, public_pem(old))
    settings.SERVICE_JWT_PRIVATE_KEY = str(private)
    settings.SERVICE_JWT_PUBLIC_KEYS = {**settings.SERVICE_JWT_PUBLIC_KEYS, settings.SERVICE_NAME: str(public)}
    before = service_token_issue(audience=settings.SERVICE_NAME)

    replace(public, public_pem(old, new))
    replace(private, private_pem(new))
    after = service_token_issue(audience=settings.SERVICE_NAME)

    assert jwt.get_unverified_header(before)["kid"] == key_id(old.public_key())
    assert jwt.get_unverified_header(after)["kid"] == key_id(new.public_key())
    for token in (before, after):
        assert service_token_verify(token, caller=settings.SERVICE_NAME).service == settings.SERVICE_NAME


def test_a_key_file_caught_half_written_keeps_the_last_good_keys(tmp_path):
    key = key_pair()
    bundle = tmp_path / "jwt_public.pem"
    replace(bundle, public_pem(key))
    token = user_token(key, kid=key_id(key.public_key()))

    with override_settings(JWT_PUBLIC_KEY=str(bundle)):
        assert user_token_verify(token).id == 7
        bundle.write_bytes(public_pem(key)[:100])  # an in-place edit, caught halfway

        assert user_token_verify(token).id == 7


@pytest.mark.django_db
@pytest.mark.parametrize("kid", [{"nested": 1}, ["a"], 7])
def test_a_kid_that_is_not_a_string_is_a_clear_401_not_a_crash(kid):
    # PyJWT will not sign such a header; an attacker does not need it to.
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
    claims = {"user_id": 7, "token_type": "access", "exp": int(time.time()) + 60}
    token = f"{part({'alg': 'RS256', 'typ': 'JWT', 'kid': kid})}.{part(claims)}.c2lnbmF0dXJl"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.post("/internal/outbox/republish", {"key": "k"}, format="json")

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
