"""Reads. A user sees a transaction only if they own a side of it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils import timezone

from transactions.models import OPEN_STATUSES, Transaction, TransactionAnomaly
from walletkit.cursors import cursor_decode, cursor_encode
from walletkit.money import amount_format


def transaction_shape(tx: Transaction) -> dict[str, Any]:
    """The Transaction of API.md, exactly; also the payload of TransactionStatusChanged."""
    return {
        "id": str(tx.id),
        "type": tx.type,
        "status": tx.status,
        "amount": amount_format(tx.amount),
        "currency": tx.currency,
        "from_wallet_id": str(tx.from_wallet_id) if tx.from_wallet_id else None,
        "to_wallet_id": str(tx.to_wallet_id) if tx.to_wallet_id else None,
        "failure_reason": tx.failure_reason,
        "created_at": _iso(tx.created_at),
        "updated_at": _iso(tx.updated_at),
        "reserved_at": _iso(tx.reserved_at),
        "posted_at": _iso(tx.posted_at),
        "refund_of": str(tx.refund_of_id) if tx.refund_of_id else None,
    }


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _visible_to(user_id: int) -> QuerySet[Transaction]:
    return Transaction.objects.filter(Q(owner_id=user_id) | Q(counterparty_owner_id=user_id))


def transaction_get_for_user(*, transaction_id: UUID, user_id: int) -> Transaction | None:
    return _visible_to(user_id).filter(id=transaction_id).first()


def transaction_refunds_of(*, transaction_id: UUID) -> list[Transaction]:
    """A transfer's refunds, oldest first (both sides of the transfer see them)."""
    return list(Transaction.objects.filter(refund_of_id=transaction_id).order_by("created_at", "id"))


def transaction_list_for_user(
    *, user_id: int, wallet_id: UUID | None = None, status: str | None = None, cursor: str | None = None, limit: int
) -> tuple[list[Transaction], str | None]:
    """Newest first, keyset-paged on (created_at, id) so a page never skips or repeats a row under inserts.

    What a user sees is what they sent and what they received: two index ranges (transaction_owner_recent,
    transaction_cpty_recent), each cut at the page's size, merged. One OR of the two made PostgreSQL
    read every row of the user and sort them all — a seq scan at a million rows (docs/benchmark.md).
    """

    def newest(rows: QuerySet[Transaction]) -> QuerySet[Transaction]:
        if wallet_id is not None:
            rows = rows.filter(Q(from_wallet_id=wallet_id) | Q(to_wallet_id=wallet_id))
        if status is not None:
            rows = rows.filter(status=status)
        if cursor:
            created_at, tx_id = cursor_decode(cursor)
            # created_at <= the cursor's time bounds the index range; the OR only breaks the tie.
            rows = rows.filter(created_at__lte=created_at).filter(
                Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=tx_id)
            )
        return rows.order_by("-created_at", "-id")[: limit + 1]

    sent = newest(Transaction.objects.filter(owner_id=user_id))
    # A transfer between one's own wallets is both: listed once, as sent.
    received = newest(Transaction.objects.filter(counterparty_owner_id=user_id).exclude(owner_id=user_id))
    page = list(sent.union(received, all=True).order_by("-created_at", "-id")[: limit + 1])
    next_cursor = cursor_encode(page[limit - 1].created_at, page[limit - 1].id) if len(page) > limit else None
    return page[:limit], next_cursor


# --- reconciliation (internal) ----------------------------------------------------------------

RECONCILIATION_FIELDS = ("id", "type", "status", "amount", "currency", "from_wallet_id", "to_wallet_id", "created_at")


def reconciliation_transaction_page(
    *, status: str | None, after: UUID | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Keyset page by id (not time: ids never tie), so a full scan never skips or repeats a row."""
    rows = Transaction.objects.order_by("id")
    if status is not None:
        rows = rows.filter(status=status)
    if after is not None:
        rows = rows.filter(id__gt=after)
    page = list(rows.values(*RECONCILIATION_FIELDS)[: limit + 1])
    more = len(page) > limit
    return page[:limit], str(page[limit - 1]["id"]) if more else None


def reconciliation_transaction_changed_page(
    *, changed_since: datetime, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Transactions of any status whose row changed at or after ``changed_since``: incremental
    reconciliation's window. Keyset on (updated_at, id), an index range (``transaction_changed``)
    whatever the table's size. A row changed while the pages are read moves ahead of the cursor and may
    be returned twice (callers keep the last); one committed after its page was read is in the next
    window, which starts before this one's reader did. Raises InvalidCursor."""
    rows = Transaction.objects.filter(updated_at__gte=changed_since).order_by("updated_at", "id")
    if after is not None:
        moment, last_id = cursor_decode(after)
        # updated_at >= moment is the index's range; the OR only drops the cursor's own ties.
        rows = rows.filter(updated_at__gte=moment).filter(Q(updated_at__gt=moment) | Q(id__gt=last_id))
    page = list(rows.values(*RECONCILIATION_FIELDS, "updated_at")[: limit + 1])
    last = page[limit - 1] if len(page) > limit else None
    return page[:limit], cursor_encode(last["updated_at"], last["id"]) if last else None


def reconciliation_transactions_by_id(*, ids: list[UUID]) -> list[dict[str, Any]]:
    return list(Transaction.objects.filter(id__in=ids).order_by("id").values(*RECONCILIATION_FIELDS))


def saga_stuck_list(*, older_than: timedelta, limit: int) -> list[dict[str, Any]]:
    """Sagas still open past the point where the sweeper should have ended them."""
    cutoff = timezone.now() - older_than
    rows = Transaction.objects.filter(status__in=OPEN_STATUSES, created_at__lt=cutoff).order_by("created_at", "id")
    return list(rows.values(*RECONCILIATION_FIELDS, "updated_at", "sweep_attempts")[:limit])


def anomaly_page(*, after: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    rows = TransactionAnomaly.objects.order_by("id")
    if after is not None:
        rows = rows.filter(id__gt=after)
    page = list(rows.values("id", "transaction_id", "kind", "detail", "created_at")[: limit + 1])
    more = len(page) > limit
    return page[:limit], page[limit - 1]["id"] if more else None


def transaction_open_count() -> int:
    """Sagas not finished yet (INITIATED or RESERVED): an index-only count on the sweeper's partial index."""
    return Transaction.objects.filter(status__in=OPEN_STATUSES).count()
