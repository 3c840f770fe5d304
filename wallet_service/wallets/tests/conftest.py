"""Fixtures for wallet_service tests: real tokens signed with the session's keys, funded wallets."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from walletkit.testing.clients import client_with
from walletkit.testing.clients import user_client as user_client_make
from walletkit.testing.tokens import service_token_as
from wallets import services
from wallets.models import Wallet


@pytest.fixture
def user_client():
    return user_client_make


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
