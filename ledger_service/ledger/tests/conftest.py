"""Fixtures for ledger_service tests: real tokens signed with the session's keys, movement helpers."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from ledger import services
from walletkit.outbox.models import OutboxEvent
from walletkit.testing.clients import client_with
from walletkit.testing.tokens import service_token_as, user_token


@pytest.fixture
def service_client() -> APIClient:
    """transaction_service's sweeper, the one caller of the entry endpoints."""
    return client_with(service_token_as("transaction"))


@pytest.fixture
def staff_client() -> APIClient:
    return client_with(user_token(1, is_staff=True))


def deposit(wallet_id: uuid.UUID, amount: str, *, currency: str = "EUR", transaction_id: uuid.UUID | None = None):
    return services.entry_post(
        transaction_id=transaction_id or uuid.uuid4(), type="DEPOSIT", from_wallet_id=None, to_wallet_id=wallet_id,
        amount=Decimal(amount), currency=currency,
    )  # fmt: skip


def transfer(from_wallet_id, to_wallet_id, amount: str, *, currency: str = "EUR", transaction_id=None):
    return services.entry_post(
        transaction_id=transaction_id or uuid.uuid4(), type="TRANSFER", from_wallet_id=from_wallet_id,
        to_wallet_id=to_wallet_id, amount=Decimal(amount), currency=currency,
    )  # fmt: skip


def events_for(transaction_id) -> list[dict]:
    return [row.envelope for row in OutboxEvent.objects.filter(key=str(transaction_id)).order_by("id")]
