"""Statements and balance-at-a-time, as the gateway reads them (docs/internal-api.md)."""

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger import services
from ledger.tests.conftest import client_with, deposit, transfer, user_token
from walletkit.testing.tokens import service_token_as

pytestmark = pytest.mark.django_db

A, B = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
def gateway():
    return client_with(service_token_as("gateway"))


def withdraw(wallet_id, amount: str):
    return services.entry_post(
        transaction_id=uuid.uuid4(), type="WITHDRAWAL", from_wallet_id=wallet_id, to_wallet_id=None,
        amount=Decimal(amount), currency="EUR",
    )  # fmt: skip


def statement(client, wallet_id, start, end):
    response = client.get(f"/accounts/{wallet_id}/statement", {"from": start.isoformat(), "to": end.isoformat()})
    assert response.status_code == 200, response.content
    assert response.streaming  # never built in memory
    rows = [json.loads(row) for row in b"".join(response.streaming_content).splitlines()]
    return rows[0], rows[1:-1], rows[-1]


def test_statement_cuts_the_period_and_adds_up(gateway):
    deposit(A, "10")
    start = timezone.now()
    outgoing = transfer(A, B, "3")
    incoming = transfer(B, A, "1.5")
    deposit(A, "5")
    end = timezone.now()
    withdraw(A, "2")  # after the period

    summary, lines, trailer = statement(gateway, A, start, end)

    assert summary == {
        "currency": "EUR", "opening_balance": "10.0000", "total_in": "6.5000", "total_out": "3.0000",
        "closing_balance": "13.5000",
    }  # fmt: skip
    assert [(line["type"], line["amount"], line["counterparty_wallet_id"]) for line in lines] == [
        ("TRANSFER", "-3.0000", str(B)), ("TRANSFER", "1.5000", str(B)), ("DEPOSIT", "5.0000", None),
    ]  # fmt: skip
    assert [line["transaction_id"] for line in lines[:2]] == [
        str(outgoing.transaction_id),
        str(incoming.transaction_id),
    ]
    assert trailer == {"end": True, "count": 3}
    opening_plus_lines = Decimal(summary["opening_balance"]) + sum(Decimal(line["amount"]) for line in lines)
    at_end = gateway.get(f"/accounts/{A}/balance", {"as_of": end.isoformat()}).json()["balance"]
    assert opening_plus_lines == Decimal(summary["closing_balance"]) == Decimal(at_end)


def test_statement_of_a_wallet_without_movements_is_empty(gateway):
    now = timezone.now()
    summary, lines, trailer = statement(gateway, uuid.uuid4(), now - timedelta(days=1), now)
    assert (summary["opening_balance"], summary["closing_balance"], lines, trailer["count"]) == (
        "0.0000", "0.0000", [], 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ("2026-01-01T00:00:00Z", "2027-01-03T00:00:00Z", "period_too_long"),
        ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", "invalid"),
        ("yesterday", "2026-01-01T00:00:00Z", "invalid"),
    ],
)
def test_statement_refuses_a_bad_period(gateway, start, end, code):
    response = gateway.get(f"/accounts/{A}/statement", {"from": start, "to": end})
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_statement_is_for_the_gateway_only():
    now = timezone.now().isoformat()
    for client in (client_with(user_token(1)), client_with(user_token(1, is_staff=True)), client_with(
        service_token_as("history"))):  # fmt: skip
        assert client.get(f"/accounts/{A}/statement", {"from": now, "to": now}).status_code == 403


def test_the_gateway_reads_a_balance_at_a_time(gateway):
    deposit(A, "4")
    between = timezone.now()
    deposit(A, "1")
    assert gateway.get(f"/accounts/{A}/balance", {"as_of": between.isoformat()}).json()["balance"] == "4.0000"
    assert client_with(service_token_as("history")).get(f"/accounts/{A}/balance").status_code == 403
