import uuid

from django.db import models
from django.db.models import Q


class TransactionType(models.TextChoices):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    TRANSFER = "TRANSFER"
    REFUND = "REFUND"  # back from a SUCCESS transfer's receiver to its sender; refund_of names that transfer


class TransactionStatus(models.TextChoices):
    INITIATED = "INITIATED"
    RESERVED = "RESERVED"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


# A status only moves up this rank; SUCCESS and FAILED are both final and never move.
STATUS_RANK = {
    TransactionStatus.INITIATED: 0,
    TransactionStatus.RESERVED: 1,
    TransactionStatus.SUCCESS: 2,
    TransactionStatus.FAILED: 2,
}
OPEN_STATUSES = (TransactionStatus.INITIATED, TransactionStatus.RESERVED)


class Transaction(models.Model):
    """One money movement's saga. Its id is the key every service uses for it (hold, journal entry, events)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=10, choices=TransactionType.choices)
    status = models.CharField(max_length=10, choices=TransactionStatus.choices, default=TransactionStatus.INITIATED)
    failure_reason = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (null on the wire)
    amount = models.DecimalField(max_digits=19, decimal_places=4)
    currency = models.CharField(max_length=3, null=True, blank=True)  # noqa: DJ001 (unknown until the wallet answers)
    from_wallet_id = models.UUIDField(null=True, blank=True)
    to_wallet_id = models.UUIDField(null=True, blank=True)
    owner_id = models.BigIntegerField()
    counterparty_owner_id = models.BigIntegerField(null=True, blank=True)
    # A REFUND's original transfer. The refunds of one transfer that are not FAILED add up to at most
    # its amount: checked under the original's row lock when a refund is created (transaction_refund_initiate).
    refund_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    # NULL when released (the wallet was never reached), so the client may use the key again.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 (NULLs never collide)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The saga's timeline: when the wallet reserved and when the ledger posted (null until then).
    reserved_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    # The sweeper's lease and backoff: a row is due when next_check_at has passed.
    next_check_at = models.DateTimeField()
    sweep_attempts = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "transaction"
        constraints = [
            models.UniqueConstraint(fields=["owner_id", "idempotency_key"], name="transaction_owner_key_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="transaction_amount_positive"),
            models.CheckConstraint(
                condition=(
                    Q(type=TransactionType.DEPOSIT, from_wallet_id__isnull=True, to_wallet_id__isnull=False)
                    | Q(type=TransactionType.WITHDRAWAL, from_wallet_id__isnull=False, to_wallet_id__isnull=True)
                    | (
                        Q(type=TransactionType.TRANSFER, from_wallet_id__isnull=False, to_wallet_id__isnull=False)
                        & ~Q(from_wallet_id=models.F("to_wallet_id"))
                    )
                    | (
                        Q(type=TransactionType.REFUND, from_wallet_id__isnull=False, to_wallet_id__isnull=False)
                        & ~Q(from_wallet_id=models.F("to_wallet_id"))
                    )
                ),
                name="transaction_wallets_match_type",
            ),
            models.CheckConstraint(
                condition=Q(type=TransactionType.REFUND, refund_of__isnull=False)
                | (~Q(type=TransactionType.REFUND) & Q(refund_of__isnull=True)),
                name="transaction_refund_names_its_original",
            ),
        ]
        indexes = [
            models.Index(fields=["owner_id", "-created_at", "-id"], name="transaction_owner_recent"),
            models.Index(fields=["counterparty_owner_id", "-created_at", "-id"], name="transaction_cpty_recent"),
            # Incremental reconciliation's window: what changed since its watermark (decision 0020).
            models.Index(fields=["updated_at", "id"], name="transaction_changed"),
            models.Index(
                fields=["next_check_at"],
                name="transaction_sweep_due",
                condition=Q(status__in=["INITIATED", "RESERVED"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status not in OPEN_STATUSES

    @property
    def user_ids(self) -> list[int]:
        """Every user with a side in it, each once."""
        ids = [self.owner_id]
        if self.counterparty_owner_id is not None and self.counterparty_owner_id != self.owner_id:
            ids.append(self.counterparty_owner_id)
        return ids


class TransactionAnomaly(models.Model):
    """A contradiction between services (e.g. posted by the ledger, but already FAILED here), for reconciliation."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="anomalies")
    kind = models.CharField(max_length=64)
    detail = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "transaction_anomaly"
        constraints = [models.UniqueConstraint(fields=["transaction", "kind"], name="transaction_anomaly_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.transaction_id}"
