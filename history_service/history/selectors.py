"""Every read of the read model: a caller's entries, newest first, paged by an opaque keyset cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Q

from history.models import HistoryEntry, WalletOwner
from walletkit.cursors import cursor_decode, cursor_encode


@dataclass(frozen=True)
class HistoryFilters:
    status: str | None = None
    type: str | None = None
    since: datetime | None = None  # occurred_at >= since
    until: datetime | None = None  # occurred_at < until
    changed_since: datetime | None = None  # updated_at >= changed_since: websocket catch-up


def wallet_is_owned_by(*, wallet_id: UUID, owner_id: int) -> bool:
    """An entry's owner is always its wallet's owner by the wallet service's word (services.py)."""
    return (
        WalletOwner.objects.filter(wallet_id=wallet_id, owner_id=owner_id).exists()
        or HistoryEntry.objects.filter(wallet_id=wallet_id, owner_id=owner_id).exists()
    )


def wallet_is_known(*, wallet_id: UUID) -> bool:
    return WalletOwner.objects.filter(wallet_id=wallet_id).exists()


def history_entry_page(
    *, owner_id: int, filters: HistoryFilters, limit: int, cursor: str | None = None, wallet_id: UUID | None = None
) -> tuple[list[HistoryEntry], str | None]:
    """One page newest first by (occurred_at, id), and the cursor of the next page (None at the end).

    Keyset, not offset: an entry inserted while a client pages never shifts or repeats a page.
    """
    entries = HistoryEntry.objects.filter(owner_id=owner_id)
    if wallet_id is not None:
        entries = entries.filter(wallet_id=wallet_id)
    entries = _filtered(entries, filters)
    if cursor:
        occurred_at, entry_id = cursor_decode(cursor)
        entries = entries.filter(Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, id__lt=entry_id))
    page = list(entries.order_by("-occurred_at", "-id")[: limit + 1])
    if len(page) <= limit:
        return page, None
    page = page[:limit]
    return page, cursor_encode(page[-1].occurred_at, page[-1].id)


def _filtered(entries, filters: HistoryFilters):
    if filters.status:
        entries = entries.filter(status=filters.status)
    if filters.type:
        entries = entries.filter(type=filters.type)
    if filters.since:
        entries = entries.filter(occurred_at__gte=filters.since)
    if filters.until:
        entries = entries.filter(occurred_at__lt=filters.until)
    if filters.changed_since:
        entries = entries.filter(updated_at__gte=filters.changed_since)
    return entries
