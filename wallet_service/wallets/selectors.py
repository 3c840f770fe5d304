"""Every read of wallet_service."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from wallets.models import Hold, Wallet


def wallet_list_for_owner(*, owner_id: int) -> QuerySet[Wallet]:
    return Wallet.objects.filter(owner_id=owner_id).order_by("created_at", "id")


def wallet_get(*, wallet_id: UUID, owner_id: int | None) -> Wallet | None:
    """``owner_id=None`` is an internal service looking up any wallet; otherwise only the owner's."""
    wallets = Wallet.objects.filter(id=wallet_id)
    if owner_id is not None:
        wallets = wallets.filter(owner_id=owner_id)
    return wallets.first()


def hold_get(*, transaction_id: UUID) -> Hold | None:
    return Hold.objects.select_related("from_wallet", "to_wallet").filter(transaction_id=transaction_id).first()
