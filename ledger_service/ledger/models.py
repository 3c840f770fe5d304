"""The double-entry journal: the source of truth for every amount in the system.

Journal tables are append-only, enforced by triggers in the database (migration 0002), so
not even a bug or a psql session can rewrite history: a correction is a new entry.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

MONEY = {"max_digits": 19, "decimal_places": 4}


class MovementType(models.TextChoices):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    TRANSFER = "TRANSFER"
    REFUND = "REFUND"  # a transfer back to a transfer's sender: posted exactly like a transfer
    # Staff's correction (reconciliation): between a wallet account and its currency's SUSPENSE account.
    ADJUSTMENT = "ADJUSTMENT"


class Account(models.Model):
    """A wallet's account, the one EXTERNAL account per currency standing for the outside world, or the
    one SUSPENSE (equity) account per currency that staff's adjusting entries post against."""

    class Kind(models.TextChoices):
        WALLET = "WALLET"
        EXTERNAL = "EXTERNAL"
        SUSPENSE = "SUSPENSE"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    wallet_id = models.UUIDField(null=True, unique=True)
    currency = models.CharField(max_length=3)
    # A cache of the sum of this account's postings, updated under the account's row lock and
    # used for the overdraft check. The postings are the truth (selectors.account_balance).
    balance = models.DecimalField(**MONEY, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_account"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="WALLET", wallet_id__isnull=False)
                | Q(kind__in=["EXTERNAL", "SUSPENSE"], wallet_id__isnull=True),
                name="account_wallet_id_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["currency"], condition=Q(kind="EXTERNAL"), name="one_external_per_currency"
            ),
            models.UniqueConstraint(
                fields=["currency"], condition=Q(kind="SUSPENSE"), name="one_suspense_per_currency"
            ),
            # The outside world's account goes negative as money comes in, suspense either way; a wallet never does.
            models.CheckConstraint(
                condition=Q(kind__in=["EXTERNAL", "SUSPENSE"]) | Q(balance__gte=0), name="wallet_account_not_overdrawn"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.wallet_id or self.currency}"


class JournalEntry(models.Model):
    """One entry per transaction: the ledger's "yes". Its postings sum to zero per currency."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    transaction_id = models.UUIDField(unique=True)
    type = models.CharField(max_length=10, choices=MovementType.choices)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_journal_entry"
        # Incremental reconciliation reads the entries created since its watermark (decision 0020).
        indexes = [models.Index(fields=["created_at"], name="journal_entry_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.transaction_id}"


class Posting(models.Model):
    """A signed amount on one account: positive raises the account's balance."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_posting"
        # Balance at a time and statements: a range of one account's postings by time (decision 0012;
        # the query plans on a million postings are in docs/benchmark.md).
        indexes = [models.Index(fields=["account", "created_at"], name="posting_account_time")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_not_zero")]


class Rejection(models.Model):
    """The ledger's "no", recorded once: a later FundsReserved for the transaction is refused."""

    transaction_id = models.UUIDField(unique=True)
    reason = models.CharField(max_length=100)
    type = models.CharField(max_length=10)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    from_wallet_id = models.UUIDField(null=True)
    to_wallet_id = models.UUIDField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_rejection"

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.reason}"
