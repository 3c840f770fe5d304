"""Every read of ledger_service. Balances are computed from postings, the journal being the truth."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import connection
from django.db.models import F, OuterRef, Q, Subquery, Sum

from ledger.models import Account, JournalEntry, Posting, Rejection

POSTED = "POSTED"
REJECTED = "REJECTED"


@dataclass(frozen=True)
class Decision:
    """What the ledger decided for one transaction; it decides once and never changes its mind."""

    transaction_id: UUID
    status: str  # POSTED | REJECTED
    reason: str = ""
    entry_id: UUID | None = None


def repeatable_read() -> None:
    if not connection.in_atomic_block or connection.savepoint_ids:
        return  # inside a caller's transaction (a test's): its snapshot rules already
    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


def entry_status_get(*, transaction_id: UUID) -> Decision | None:
    entry_id = JournalEntry.objects.filter(transaction_id=transaction_id).values_list("id", flat=True).first()
    if entry_id is not None:
        return Decision(transaction_id=transaction_id, status=POSTED, entry_id=entry_id)
    reason = Rejection.objects.filter(transaction_id=transaction_id).values_list("reason", flat=True).first()
    if reason is not None:
        return Decision(transaction_id=transaction_id, status=REJECTED, reason=reason)
    return None


def account_get_for_wallet(*, wallet_id: UUID) -> Account | None:
    return Account.objects.filter(wallet_id=wallet_id).first()


def account_balance(
    *, account: Account | None = None, wallet_id: UUID | None = None, as_of: datetime | None = None
) -> Decimal:
    """The sum of the account's postings (up to ``as_of`` when given); never the cached balance."""
    postings = (
        Posting.objects.filter(account=account)
        if account is not None
        else Posting.objects.filter(account__wallet_id=wallet_id)
    )
    if as_of is not None:
        postings = postings.filter(created_at__lte=as_of)
    return postings.aggregate(total=Sum("amount"))["total"] or Decimal(0)


# A statement is one bounded read: 366 days at most (a leap year), so one request cannot make the
# ledger walk a wallet's whole life (the gateway checks the same bound on calendar days first).
STATEMENT_PERIOD_MAX = timedelta(days=366)


@dataclass(frozen=True)
class StatementSummary:
    """``opening + total_in - total_out = closing``; the period is [start, end)."""

    currency: str
    opening_balance: Decimal
    total_in: Decimal
    total_out: Decimal

    @property
    def closing_balance(self) -> Decimal:
        return self.opening_balance + self.total_in - self.total_out


def account_statement_summary(*, account: Account, start: datetime, end: datetime) -> StatementSummary:
    """The period's figures in one aggregate over the (account, created_at) index."""
    in_period = Q(created_at__gte=start, created_at__lt=end)
    figures = Posting.objects.filter(account=account, created_at__lt=end).aggregate(
        opening=Sum("amount", filter=Q(created_at__lt=start)),
        total_in=Sum("amount", filter=in_period & Q(amount__gt=0)),
        total_out=Sum("amount", filter=in_period & Q(amount__lt=0)),
    )
    return StatementSummary(
        currency=account.currency,
        opening_balance=figures["opening"] or Decimal(0),
        total_in=figures["total_in"] or Decimal(0),
        total_out=-(figures["total_out"] or Decimal(0)),
    )


def account_statement_lines(*, account: Account, start: datetime, end: datetime) -> Iterator[dict]:
    """The account's postings in [start, end), oldest first, each with the wallet on the entry's other
    side (null for the outside world or suspense). Read through a server-side cursor in chunks, so a
    year of a busy wallet is never in memory at once."""
    other_side = (
        Posting.objects.filter(entry=OuterRef("entry")).exclude(id=OuterRef("id")).values("account__wallet_id")[:1]
    )
    return (
        Posting.objects.filter(account=account, created_at__gte=start, created_at__lt=end)
        .order_by("created_at", "id")
        .values("created_at", "amount", transaction_id=F("entry__transaction_id"), type=F("entry__type"))
        .annotate(counterparty_wallet_id=Subquery(other_side))
        .iterator(chunk_size=1000)
    )
