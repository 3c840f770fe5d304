import uuid
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from ledger import services
from ledger.models import Account, JournalEntry, Posting, Rejection
from ledger.tests.conftest import deposit

pytestmark = pytest.mark.django_db


def raw(sql: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # Settle the commit-time triggers of the setup first (the test transaction never commits;
        # TRUNCATE refuses to run with trigger events pending).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_posting SET amount = amount * 2",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_journal_entry SET type = 'WITHDRAWAL'",
        "DELETE FROM ledger_journal_entry",
        "TRUNCATE ledger_posting CASCADE",
    ],
)
def test_journal_refuses_rewriting_history(sql):
    decision = deposit(uuid.uuid4(), "10")
    with pytest.raises(DatabaseError, match="append-only"):
        raw(sql)
    assert Posting.objects.filter(entry_id=decision.entry_id).count() == 2
    amounts = Posting.objects.filter(entry_id=decision.entry_id).values_list("amount", flat=True)
    assert sorted(amounts) == [Decimal("-10"), Decimal("10")]


def test_rejections_cannot_be_updated_or_deleted():
    transaction_id = uuid.uuid4()
    services.entry_expire(
        transaction_id=transaction_id, reason="expired", type="DEPOSIT", from_wallet_id=None,
        to_wallet_id=uuid.uuid4(), amount=Decimal("1"), currency="EUR",
    )  # fmt: skip
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE ledger_rejection SET reason = 'posted'")
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM ledger_rejection")
    assert Rejection.objects.get(transaction_id=transaction_id).reason == "expired"


def test_an_unbalanced_entry_cannot_commit():
    wallet = Account.objects.create(kind="WALLET", wallet_id=uuid.uuid4(), currency="EUR")
    external = Account.objects.create(kind="EXTERNAL", currency="EUR")
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        now = timezone.now()
        entry = JournalEntry.objects.create(transaction_id=uuid.uuid4(), type="DEPOSIT", created_at=now)
        Posting.objects.create(entry=entry, account=external, amount=Decimal("-10"), currency="EUR", created_at=now)
        Posting.objects.create(entry=entry, account=wallet, amount=Decimal("9.9999"), currency="EUR", created_at=now)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_an_entry_without_postings_cannot_commit():
    with pytest.raises(IntegrityError, match="fewer than two postings"), transaction.atomic():
        JournalEntry.objects.create(transaction_id=uuid.uuid4(), type="DEPOSIT", created_at=timezone.now())
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_posting_in_another_currency_than_its_account_cannot_commit():
    wallet = Account.objects.create(kind="WALLET", wallet_id=uuid.uuid4(), currency="EUR")
    external = Account.objects.create(kind="EXTERNAL", currency="EUR")
    with pytest.raises(IntegrityError, match="another currency"), transaction.atomic():
        now = timezone.now()
        entry = JournalEntry.objects.create(transaction_id=uuid.uuid4(), type="DEPOSIT", created_at=now)
        Posting.objects.create(entry=entry, account=external, amount=Decimal("-1"), currency="USD", created_at=now)
        Posting.objects.create(entry=entry, account=wallet, amount=Decimal("1"), currency="USD", created_at=now)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_wallet_account_cannot_be_overdrawn_even_directly():
    account = Account.objects.create(kind="WALLET", wallet_id=uuid.uuid4(), currency="EUR")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(id=account.id).update(balance=Decimal("-0.0001"))


def test_one_external_account_per_currency():
    Account.objects.create(kind="EXTERNAL", currency="EUR")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind="EXTERNAL", currency="EUR")
