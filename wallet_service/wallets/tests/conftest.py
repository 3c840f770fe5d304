"""Fixtures for wallet_service tests: real tokens signed with the session's keys, funded wallets."""

from __future__ import annotations

import os
import time
import uuid
from decimal import Decimal
from pathlib import Path

import jwt
import pytest
from rest_framework.test import APIClient

from walletkit.testing.tokens import service_token_as
from wallets import services
from wallets.models import Wallet


def user_token(user_id: int, *, is_staff: bool = False, lifetime: int = 300) -> str:
    """An access token as the gateway signs it, with the key the test plugin generated."""
    key = (Path(os.environ["WALLET_DATA_DIR"]) / "keys" / "jwt_private.pem").read_text()
    claims = {"user_id": user_id, "is_staff": is_staff, "token_type": "access", "exp": int(time.time()) + lifetime}
    return jwt.encode(claims, key, algorithm="RS256")


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def user_client():
    return lambda user_id: client_with(user_token(user_id))


@pytest.fixture
def service_client():
    """A client holding ``caller``'s service token for this service (transaction_service, the
    reserve's caller, unless told otherwise)."""
    return lambda on_behalf_of=None, caller="transaction": client_with(
        service_token_as(caller, on_behalf_of=on_behalf_of)
    )


def wallet_funded(*, owner_id: int, amount: Decimal | str = "0", currency: str = "EUR") -> Wallet:
    """A wallet credited the way production credits one: a deposit authorized, then captured."""
    wallet = services.wallet_open(owner_id=owner_id, currency=currency, name="test")
    if Decimal(amount) > 0:
        transaction_id = uuid.uuid4()
        services.hold_reserve(
            transaction_id=transaction_id, type="DEPOSIT", from_wallet_id=None, to_wallet_id=wallet.id,
            amount=Decimal(amount), acting_user_id=owner_id,
        )  # fmt: skip
        services.hold_capture(transaction_id=transaction_id)
    wallet.refresh_from_db()
    return wallet
