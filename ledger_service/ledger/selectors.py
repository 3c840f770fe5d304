"""Every read of ledger_service. Balances are computed from postings, the journal being the truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db.models import Sum

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
