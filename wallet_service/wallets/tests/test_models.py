from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from wallets.models import Hold, Wallet

pytestmark = pytest.mark.django_db


def test_database_refuses_a_negative_balance():
    wallet = Wallet.objects.create(owner_id=1, currency="EUR")
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(id=wallet.id).update(balance=Decimal("-0.0001"))
    wallet.refresh_from_db()
    assert wallet.balance == 0


def test_database_refuses_holding_more_than_the_balance():
    wallet = Wallet.objects.create(owner_id=1, currency="EUR", balance=Decimal("10"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(id=wallet.id).update(held=Decimal("10.0001"))


def test_database_refuses_a_negative_held():
    wallet = Wallet.objects.create(owner_id=1, currency="EUR", balance=Decimal("10"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(id=wallet.id).update(held=Decimal("-1"))


def test_database_refuses_a_transfer_hold_to_its_own_wallet():
    wallet = Wallet.objects.create(owner_id=1, currency="EUR", balance=Decimal("10"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Hold.objects.create(
            transaction_id="00000000-0000-0000-0000-000000000001", type="TRANSFER", from_wallet=wallet,
            to_wallet=wallet, amount=Decimal("1"), currency="EUR", owner_id=1,
        )  # fmt: skip


def test_available_is_balance_minus_held():
    assert Wallet(balance=Decimal("10.5"), held=Decimal("3.25")).available == Decimal("7.25")
