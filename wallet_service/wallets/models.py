"""Wallets and holds: a snapshot of the ledger that answers "can this user spend this much now?"."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

MONEY = {"max_digits": 19, "decimal_places": 4}


class Wallet(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner_id = models.BigIntegerField(db_index=True)
    name = models.CharField(max_length=100, blank=True, default="")
    currency = models.CharField(max_length=3)
    balance = models.DecimalField(**MONEY, default=Decimal(0))
    held = models.DecimalField(**MONEY, default=Decimal(0))
    # Bumped with every change of balance or held, so a reader can tell two snapshots apart.
    version = models.PositiveIntegerField(default=0)
    # Spending limits on outgoing movements (withdrawals, transfers, refunds) per UTC day and month,
    # checked in the reserve under this row's lock; null: no limit.
    daily_out_limit = models.DecimalField(**MONEY, null=True, blank=True)
    monthly_out_limit = models.DecimalField(**MONEY, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "wallet"
        constraints = [
            # The last line of defence: whatever the code does, the database never stores a wallet
            # that is overdrawn or holds more than it has.
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_not_negative"),
            models.CheckConstraint(condition=Q(held__gte=0), name="wallet_held_not_negative"),
            models.CheckConstraint(condition=Q(held__lte=F("balance")), name="wallet_held_within_balance"),
            models.CheckConstraint(
                condition=Q(daily_out_limit__isnull=True) | Q(daily_out_limit__gt=0), name="wallet_daily_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(monthly_out_limit__isnull=True) | Q(monthly_out_limit__gt=0),
                name="wallet_monthly_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.currency} {self.balance}"

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


class Hold(models.Model):
    """Money set aside for one transaction until the ledger says yes (capture) or no (release).

    For a deposit nothing is set aside: the hold only records that the owner authorized it.

    A VOIDED row is a tombstone, not a hold: the sweeper decided the transaction expired before any
    reserve landed (services.hold_void). It sits in the same unique index on ``transaction_id``, so a
    reserve arriving later finds it and is refused; it names no wallet and sets nothing aside.
    """

    class Type(models.TextChoices):
        DEPOSIT = "DEPOSIT"
        WITHDRAWAL = "WITHDRAWAL"
        TRANSFER = "TRANSFER"
        REFUND = "REFUND"  # a transfer back to a transfer's sender (transaction_service checks the bound)

    class Status(models.TextChoices):
        RESERVED = "RESERVED"
        CAPTURED = "CAPTURED"
        RELEASED = "RELEASED"
        VOIDED = "VOIDED"

    transaction_id = models.UUIDField(unique=True)
    type = models.CharField(max_length=10, choices=Type.choices)
    from_wallet = models.ForeignKey(Wallet, null=True, on_delete=models.PROTECT, related_name="outgoing_holds")
    to_wallet = models.ForeignKey(Wallet, null=True, on_delete=models.PROTECT, related_name="incoming_holds")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    owner_id = models.BigIntegerField()  # the acting user who authorized the movement
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RESERVED)
    reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "wallet_hold"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(
                condition=(
                    Q(status="VOIDED", from_wallet__isnull=True, to_wallet__isnull=True)
                    | Q(type="DEPOSIT", from_wallet__isnull=True, to_wallet__isnull=False)
                    | Q(type="WITHDRAWAL", from_wallet__isnull=False, to_wallet__isnull=True)
                    | (
                        Q(type__in=["TRANSFER", "REFUND"], from_wallet__isnull=False, to_wallet__isnull=False)
                        & ~Q(from_wallet=F("to_wallet"))
                    )
                ),
                name="hold_wallets_match_type",
            ),
        ]
        indexes = [
            # The spending limits' SUM of a wallet's outgoing holds since the start of the UTC month:
            # one range scan of this wallet's recent holds, under the reserve's row lock.
            models.Index(
                fields=["from_wallet", "created_at"],
                include=["amount", "status"],
                name="hold_outgoing_by_time",
                condition=Q(from_wallet__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.transaction_id} {self.status}"

    @property
    def sets_funds_aside(self) -> bool:
        return self.type != self.Type.DEPOSIT


class WalletResync(models.Model):
    """Staff set a wallet's balance to the ledger's figure: the wallet-side audit of that repair."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="resyncs")
    balance_before = models.DecimalField(**MONEY)
    balance_after = models.DecimalField(**MONEY)
    version_before = models.PositiveIntegerField()
    version_after = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    actor = models.CharField(max_length=100)  # who asked, as the ledger's staff API authenticated them
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "wallet_resync"

    def __str__(self) -> str:
        return f"{self.wallet_id} {self.balance_before} -> {self.balance_after}"
