"""The read model: who owns which wallet, and one activity entry per wallet per transaction."""

import uuid

from django.db import models


class WalletOwner(models.Model):
    """Learned from WalletOpened (or asked of wallet_service); lets accepted entries created before it
    arrived be claimed by their owner."""

    wallet_id = models.UUIDField(primary_key=True)
    owner_id = models.BigIntegerField(db_index=True)
    currency = models.CharField(max_length=3)
    name = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        db_table = "history_wallet_owner"


class EntryType(models.TextChoices):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    TRANSFER = "TRANSFER"
    REFUND = "REFUND"  # two-sided like a transfer: a debit for the refunder, a credit for the original sender


class Direction(models.TextChoices):
    CREDIT = "CREDIT"
    DEBIT = "DEBIT"


class Status(models.TextChoices):
    INITIATED = "INITIATED"
    RESERVED = "RESERVED"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


# A status only ever moves to a higher rank; SUCCESS and FAILED share the top rank, so a final
# status never changes, whatever order duplicated or late events arrive in.
STATUS_RANK: dict[str, int] = {Status.INITIATED: 0, Status.RESERVED: 1, Status.SUCCESS: 2, Status.FAILED: 2}
FINAL_RANK = 2


class HistoryEntry(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    transaction_id = models.UUIDField()
    wallet_id = models.UUIDField()
    # The wallet's owner, as the wallet service knows it; null until learned (events cross partitions
    # out of order) and for an attempt the owner must never see (see ``accepted``).
    owner_id = models.BigIntegerField(null=True)
    # The wallet service accepted the movement (a hold exists): only then is it the wallet owner's
    # whoever acted. Before that it is an attempt, shown only if the actor owns the wallet.
    accepted = models.BooleanField(default=False)
    actor_id = models.BigIntegerField(null=True)  # who made the attempt; null if no event named them yet
    type = models.CharField(max_length=10, choices=EntryType.choices)
    direction = models.CharField(max_length=6, choices=Direction.choices)
    amount = models.DecimalField(max_digits=19, decimal_places=4)
    currency = models.CharField(max_length=3, blank=True)  # "" until known (see services)
    counterparty_wallet_id = models.UUIDField(null=True)
    status = models.CharField(max_length=9, choices=Status.choices)
    status_rank = models.SmallIntegerField()
    failure_reason = models.TextField(blank=True, default="")
    occurred_at = models.DateTimeField()  # the transaction's created_at
    updated_at = models.DateTimeField(db_index=True)  # last change the owner can see (catch-up key)

    class Meta:
        db_table = "history_entry"
        constraints = [
            models.UniqueConstraint(fields=["transaction_id", "wallet_id"], name="history_entry_once_per_wallet"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="history_entry_amount_positive"),
            models.CheckConstraint(condition=models.Q(status__in=Status.values), name="history_entry_status_valid"),
            models.CheckConstraint(
                condition=models.Q(direction__in=Direction.values), name="history_entry_direction_valid"
            ),
        ]
        indexes = [
            # Keyset paging, newest first, per user and per wallet.
            models.Index(fields=["owner_id", "-occurred_at", "-id"], name="history_owner_time"),
            models.Index(fields=["wallet_id", "-occurred_at", "-id"], name="history_wallet_time"),
        ]
