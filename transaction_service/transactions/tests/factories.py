from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from transactions.models import Transaction, TransactionStatus, TransactionType


class TransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transaction

    type = TransactionType.TRANSFER
    status = TransactionStatus.INITIATED
    amount = Decimal("10.0000")
    currency = "USD"
    from_wallet_id = factory.LazyFunction(uuid.uuid4)
    to_wallet_id = factory.LazyFunction(uuid.uuid4)
    owner_id = 1
    counterparty_owner_id = 2
    idempotency_key = factory.Sequence(lambda n: f"key-{n}")
    request_fingerprint = "0" * 64
    response_status = 202
    response_body = factory.LazyFunction(dict)
    next_check_at = factory.LazyFunction(lambda: timezone.now() + timedelta(seconds=10))


def age(tx: Transaction, *, seconds: float) -> Transaction:
    """Make a saga look ``seconds`` old and due for the sweeper."""
    past = timezone.now() - timedelta(seconds=seconds)
    Transaction.objects.filter(id=tx.id).update(created_at=past, next_check_at=past)
    tx.refresh_from_db()
    return tx
