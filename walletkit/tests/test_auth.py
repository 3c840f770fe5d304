"""Service tokens are scoped by caller and callee (decision 0003): the audience is the one service
the token is for, the `svc` claim is proven by that service's own key, and each internal endpoint
names the callers it serves."""

from __future__ import annotations

import jwt
import pytest
from rest_framework.test import APIClient

from walletkit.testing.tokens import service_token_as

pytestmark = pytest.mark.django_db

REPUBLISH = "/internal/outbox/republish"  # the sweeper's: transaction_service only
DEAD_LETTERS = "/internal/dead-letters"  # reconciliation's: ledger_service only
CALLERS = ("gateway", "transaction", "wallet", "ledger", "history")


def republish(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post(REPUBLISH, {"key": "no-such-key"}, format="json")


def dead_letters(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(DEAD_LETTERS)


def test_the_allowed_caller_with_its_own_key_addressed_to_this_service_is_served():
    assert republish(service_token_as("transaction")).json() == {"republished": 0}
    assert dead_letters(service_token_as("ledger")).status_code == 200


def test_a_token_addressed_to_another_service_or_to_every_service_is_401():
    for audience in ("wallet", "internal"):
        response = republish(service_token_as("transaction", audience=audience))
        assert (response.status_code, response.json()["code"]) == (401, "invalid_token"), audience


def test_a_caller_not_on_the_endpoints_list_is_403():
    for caller in CALLERS:
        if caller != "transaction":
            assert republish(service_token_as(caller)).status_code == 403, caller
        if caller != "ledger":
            assert dead_letters(service_token_as(caller)).status_code == 403, caller


def test_another_services_key_cannot_sign_as_transaction():
    for signer in ("gateway", "wallet", "ledger", "history"):
        response = republish(service_token_as("transaction", signed_by=signer))
        assert response.status_code == 401, signer


def test_an_unknown_caller_is_401_even_signed_by_a_real_service_key():
    assert republish(service_token_as("attacker", signed_by="gateway")).status_code == 401


def test_a_caller_list_naming_no_service_is_refused_when_declared():
    from walletkit.auth import internal_callers

    with pytest.raises(ValueError, match="trasnaction"):
        internal_callers("trasnaction")


def test_an_issued_token_names_caller_and_callee_and_is_reused_per_callee_and_user(settings):
    from walletkit.auth import service_token_get

    settings.SERVICE_NAME = "transaction"
    settings.SERVICE_JWT_PRIVATE_KEY = str(settings.KEYS_DIR / "service_transaction_private.pem")
    token = service_token_get(audience="wallet", on_behalf_of=7)
    public_key = (settings.KEYS_DIR / "service_transaction_public.pem").read_text()
    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience="wallet")
    assert (claims["svc"], claims["aud"], claims["user_id"]) == ("transaction", "wallet", 7)
    assert claims["exp"] - claims["iat"] == 60
    assert service_token_get(audience="wallet", on_behalf_of=7) == token
    assert service_token_get(audience="wallet", on_behalf_of=8) != token
    assert service_token_get(audience="ledger", on_behalf_of=7) != token


def test_the_keys_the_stack_generates_are_the_keys_the_settings_know(settings):
    from walletkit.devstack import keys
    from walletkit.devstack.stack import SERVICES

    names = {name for name, _ in SERVICES.values()}
    assert set(keys.SERVICE_NAMES) == set(settings.SERVICE_JWT_PUBLIC_KEYS) == names
