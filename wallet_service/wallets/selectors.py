"""Every read of wallet_service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from django.db import connection, transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from wallets.models import Hold, Wallet


def wallet_list_for_owner(*, owner_id: int) -> QuerySet[Wallet]:
    return Wallet.objects.filter(owner_id=owner_id).order_by("created_at", "id")


def wallet_get(*, wallet_id: UUID, owner_id: int | None) -> Wallet | None:
    """``owner_id=None`` is an internal service looking up any wallet; otherwise only the owner's."""
    wallets = Wallet.objects.filter(id=wallet_id)
    if owner_id is not None:
        wallets = wallets.filter(owner_id=owner_id)
    return wallets.first()


@dataclass(frozen=True)
class OutgoingUsed:
    daily: Decimal
    monthly: Decimal


def wallet_outgoing_used(*, wallet_id: UUID, now: datetime | None = None) -> OutgoingUsed:
    """What the spending limits count: outgoing holds RESERVED or CAPTURED since the start of the UTC day
    and month, by the time they were reserved. A released hold (refused, failed, expired) stops counting.

    One aggregate over the index ``hold_outgoing_by_time`` (this wallet's holds of this month only).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = day_start.replace(day=1)
    sums = Hold.objects.filter(
        from_wallet_id=wallet_id,
        created_at__gte=month_start,
        status__in=(Hold.Status.RESERVED, Hold.Status.CAPTURED),
    ).aggregate(
        daily=Coalesce(Sum("amount", filter=Q(created_at__gte=day_start)), Decimal(0)),
        monthly=Coalesce(Sum("amount"), Decimal(0)),
    )
    return OutgoingUsed(daily=sums["daily"], monthly=sums["monthly"])


def hold_get(*, transaction_id: UUID) -> Hold | None:
    return Hold.objects.select_related("from_wallet", "to_wallet").filter(transaction_id=transaction_id).first()


@dataclass(frozen=True)
class ReconciliationPage:
    """Wallets and the holds touching them, read in ONE database snapshot so balance, held and
    hold statuses agree with each other (a capture commits all three together)."""

    wallets: list[dict]
    holds: list[dict]
    next: str | None


def reconciliation_wallet_page(*, after: UUID | None, limit: int, captured_since: datetime) -> ReconciliationPage:
    """Keyset page of wallets by id, each with ``reserved`` (the sum of its RESERVED outgoing holds),
    plus every hold touching them that is RESERVED or was CAPTURED at or after ``captured_since``."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # inside a caller's transaction (a test's) its snapshot rules already
            with connection.cursor() as cursor:
                # Every read below sees the same snapshot; read-only, so it never blocks a writer.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        wallets = Wallet.objects.order_by("id")
        if after is not None:
            wallets = wallets.filter(id__gt=after)
        reserved = (
            Hold.objects.filter(from_wallet=OuterRef("id"), status=Hold.Status.RESERVED)
            .exclude(type=Hold.Type.DEPOSIT)
            .values("from_wallet")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        page = list(
            wallets.annotate(reserved=Coalesce(Subquery(reserved), Decimal(0))).values(
                "id", "owner_id", "currency", "balance", "held", "version", "reserved"
            )[: limit + 1]
        )
        page, more = page[:limit], len(page) > limit
        ids = [row["id"] for row in page]
        holds = list(
            Hold.objects.filter(Q(from_wallet_id__in=ids) | Q(to_wallet_id__in=ids))
            .filter(Q(status=Hold.Status.RESERVED) | Q(status=Hold.Status.CAPTURED, updated_at__gte=captured_since))
            .order_by("id")
            .values("transaction_id", "type", "status", "amount", "currency", "from_wallet_id", "to_wallet_id",
                    "created_at", "updated_at")
        )  # fmt: skip
    return ReconciliationPage(wallets=page, holds=holds, next=str(ids[-1]) if more else None)
