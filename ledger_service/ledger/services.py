"""Every write of ledger_service: the journal only grows, one decision per transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from ledger.models import Account, JournalEntry, MovementType, Posting, Rejection
from ledger.selectors import POSTED, REJECTED, Decision, entry_status_get
from walletkit.db import rows_update
from walletkit.events import PAYLOADS, Envelope, EventType, Topic, envelope_build
from walletkit.money import InvalidAmount, InvalidCurrency, amount_parse, currency_parse
from walletkit.outbox.services import outbox_events_create

logger = logging.getLogger(__name__)

INSUFFICIENT_FUNDS = "insufficient_funds"
CURRENCY_MISMATCH = "currency_mismatch"
INVALID_MOVEMENT = "invalid_movement"


@dataclass(frozen=True)
class Movement:
    """Money asked to move for one transaction, as the wallet service reserved it."""

    transaction_id: UUID
    type: str
    amount: Decimal
    currency: str
    from_wallet_id: UUID | None
    to_wallet_id: UUID | None
    # Passed through to the ledger's events (owner ids, for the read model); never stored.
    extra: dict = field(default_factory=dict)
    correlation_id: str | None = None  # the cause's, carried on by the decision's event

    def payload(self) -> dict:
        return self.extra | {
            "type": self.type, "amount": self.amount, "currency": self.currency,
            "from_wallet_id": self.from_wallet_id, "to_wallet_id": self.to_wallet_id,
        }  # fmt: skip


@transaction.atomic
def account_open(*, wallet_id: UUID, currency: str) -> Account:
    """Idempotent: the account may already exist, made on demand by an earlier movement event."""
    account = accounts_ensure(wallet_ids=[wallet_id], currency=currency)[wallet_id]
    if account.currency != currency:
        logger.error(
            "wallet opened in another currency than its ledger account",
            extra={"wallet_id": str(wallet_id), "account_currency": account.currency, "currency": currency},
        )
    return account


def entry_post(
    *,
    transaction_id: UUID,
    type: str,
    from_wallet_id: UUID | None,
    to_wallet_id: UUID | None,
    amount: Decimal,
    currency: str,
    extra: dict | None = None,
) -> Decision:
    """Post the movement, or reject it; either way exactly once per transaction id."""
    movement = Movement(transaction_id, type, amount, currency, from_wallet_id, to_wallet_id, extra or {})
    return entries_post(movements=[movement])[0]


@transaction.atomic(savepoint=False)  # inside a consumer's batch transaction: no savepoint of its own
def entries_post(*, movements: Sequence[Movement]) -> list[Decision]:
    """Post or reject each movement, exactly once per transaction id, set-based: the batch's locks and
    reads take a few statements, then each movement is decided in order against running balances
    under those locks (the overdraft check sees every earlier posting of the batch), and the
    decisions are written in one statement per table. Returns a decision per movement, in order."""
    _transactions_lock([movement.transaction_id for movement in movements])
    decisions = _decisions_get([movement.transaction_id for movement in movements])
    fresh, seen = [], set(decisions)
    for movement in movements:  # the first movement of each undecided transaction, in arrival order
        if movement.transaction_id not in seen:
            seen.add(movement.transaction_id)
            fresh.append(movement)
    problems = {movement.transaction_id: _movement_problem(movement) for movement in fresh}
    sides = _accounts_for([movement for movement in fresh if problems[movement.transaction_id] is None])
    accounts = accounts_lock(sorted({account_id for pair in sides.values() for account_id in pair}))
    batch = _Writes()
    for movement in fresh:
        decisions[movement.transaction_id] = _decide(
            movement, problems[movement.transaction_id], sides, accounts, batch
        )
    batch.write(accounts)
    return [decisions[movement.transaction_id] for movement in movements]


def _decide(
    movement: Movement,
    problem: str | None,
    sides: dict[UUID, tuple[UUID, UUID]],
    accounts: dict[UUID, Account],
    batch: _Writes,
) -> Decision:
    if problem:
        return batch.reject(movement, reason=problem)
    debit, credit = (accounts[account_id] for account_id in sides[movement.transaction_id])
    if debit.currency != movement.currency or credit.currency != movement.currency:
        return batch.reject(movement, reason=CURRENCY_MISMATCH)
    if debit.kind == Account.Kind.WALLET and debit.balance < movement.amount:
        return batch.reject(movement, reason=INSUFFICIENT_FUNDS)
    return batch.post(movement, debit=debit, credit=credit)


@transaction.atomic(savepoint=False)  # inside a consumer's batch transaction: no savepoint of its own
def entry_expire(
    *,
    transaction_id: UUID,
    reason: str,
    type: str,
    from_wallet_id: UUID | None,
    to_wallet_id: UUID | None,
    amount: Decimal,
    currency: str,
    extra: dict | None = None,
) -> Decision:
    """The sweeper gives up on a transaction: a posted one stays posted, otherwise it is rejected for good."""
    _transaction_lock(transaction_id)
    decided = entry_status_get(transaction_id=transaction_id)
    if decided is not None:
        return decided
    movement = Movement(transaction_id, type, amount, currency, from_wallet_id, to_wallet_id, extra or {})
    return _reject(movement, reason=reason)


def _transaction_lock(transaction_id: UUID) -> None:
    _transactions_lock([transaction_id])


def _transactions_lock(transaction_ids: Sequence[UUID]) -> None:
    """Serialize every decision about one transaction (FundsReserved vs the sweeper's expire).

    Without it both could find "no decision yet" and write an entry AND a rejection. The
    transaction-scoped advisory locks are taken before any account lock, always, and in ascending
    key order in one statement (its select list is evaluated left to right), so two batches wait
    for each other instead of deadlocking.
    """
    keys = sorted({int.from_bytes(transaction_id.bytes[:8], "big", signed=True) for transaction_id in transaction_ids})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(['pg_advisory_xact_lock(%s)'] * len(keys))}", keys)


def _decisions_get(transaction_ids: Sequence[UUID]) -> dict[UUID, Decision]:
    """The decisions already taken for these transactions (two statements for the batch)."""
    decided = {
        transaction_id: Decision(transaction_id=transaction_id, status=POSTED, entry_id=entry_id)
        for transaction_id, entry_id in JournalEntry.objects.filter(transaction_id__in=transaction_ids).values_list(
            "transaction_id", "id"
        )
    }
    rejected = Rejection.objects.filter(transaction_id__in=set(transaction_ids) - decided.keys())
    for transaction_id, reason in rejected.values_list("transaction_id", "reason"):
        decided[transaction_id] = Decision(transaction_id=transaction_id, status=REJECTED, reason=reason)
    return decided


def _movement_problem(movement: Movement) -> str | None:
    try:
        amount_parse(str(movement.amount))
        currency_parse(movement.currency)
    except (InvalidAmount, InvalidCurrency):
        return INVALID_MOVEMENT
    wallets = (movement.from_wallet_id is not None, movement.to_wallet_id is not None)
    expected = {
        MovementType.DEPOSIT: (False, True),
        MovementType.WITHDRAWAL: (True, False),
        MovementType.TRANSFER: (True, True),
        MovementType.REFUND: (True, True),
    }.get(movement.type)
    if expected != wallets or (movement.type in WALLET_TO_WALLET and movement.from_wallet_id == movement.to_wallet_id):
        return INVALID_MOVEMENT
    return None


WALLET_TO_WALLET = (MovementType.TRANSFER, MovementType.REFUND)


def _accounts_for(movements: Sequence[Movement]) -> dict[UUID, tuple[UUID, UUID]]:
    """transaction id → (account debited, account credited): deposits come from outside, withdrawals
    go outside. A wallet's account missing yet is made in the currency of its first movement."""
    currency_of: dict[UUID, str] = {}
    for movement in movements:
        for wallet_id in (movement.from_wallet_id, movement.to_wallet_id):
            if wallet_id:
                currency_of.setdefault(wallet_id, movement.currency)
    wallet_accounts: dict[UUID, Account] = {}
    for currency in dict.fromkeys(currency_of.values()):
        wanted = [wallet_id for wallet_id, of in currency_of.items() if of == currency]
        wallet_accounts |= accounts_ensure(wallet_ids=wanted, currency=currency)
    externals = {movement.currency: None for movement in movements if movement.type not in WALLET_TO_WALLET}
    for currency in externals:
        externals[currency] = system_account_get(kind=Account.Kind.EXTERNAL, currency=currency).id
    sides = {}
    for movement in movements:
        if movement.type in WALLET_TO_WALLET:
            pair = wallet_accounts[movement.from_wallet_id].id, wallet_accounts[movement.to_wallet_id].id
        elif movement.type == MovementType.DEPOSIT:
            pair = externals[movement.currency], wallet_accounts[movement.to_wallet_id].id
        else:
            pair = wallet_accounts[movement.from_wallet_id].id, externals[movement.currency]
        sides[movement.transaction_id] = pair
    return sides


def accounts_ensure(*, wallet_ids: list[UUID], currency: str) -> dict[UUID, Account]:
    """Wallet accounts, created on demand: a movement may arrive before its WalletOpened.

    Missing ones are inserted in one statement in wallet-id order with ON CONFLICT DO NOTHING,
    so two first movements creating the same two accounts wait for each other in one order
    instead of deadlocking, and the loser simply reads the winner's row.
    """
    found = {account.wallet_id: account for account in Account.objects.filter(wallet_id__in=wallet_ids)}
    missing = sorted(set(wallet_ids) - found.keys())
    if missing:
        Account.objects.bulk_create(
            [Account(kind=Account.Kind.WALLET, wallet_id=wallet_id, currency=currency) for wallet_id in missing],
            ignore_conflicts=True,
        )
        found.update({account.wallet_id: account for account in Account.objects.filter(wallet_id__in=missing)})
    return found


def system_account_get(*, kind: str, currency: str) -> Account:
    """The one EXTERNAL (money from and to outside) or SUSPENSE (staff adjustments) account per
    currency, created on first use (ON CONFLICT DO NOTHING: two first uses read the one winner)."""
    account = Account.objects.filter(kind=kind, currency=currency).first()
    if account is None:
        Account.objects.bulk_create([Account(kind=kind, currency=currency)], ignore_conflicts=True)
        account = Account.objects.get(kind=kind, currency=currency)
    return account


def accounts_lock(account_ids: list[UUID]) -> dict[UUID, Account]:
    """Row-lock the accounts in ascending id order (ORDER BY runs before PostgreSQL's row locking).

    One order for every posting, so A→B and B→A posted at once queue instead of deadlocking.
    The lock also makes the overdraft check and the balance-cache update one atomic step.
    """
    return {a.id: a for a in Account.objects.select_for_update(no_key=True).filter(id__in=account_ids).order_by("id")}


class _Writes:
    """A batch's decisions, collected while deciding and written in one statement per table."""

    def __init__(self) -> None:
        self.now = timezone.now()
        self.entries: list[JournalEntry] = []
        self.postings: list[Posting] = []
        self.rejections: list[Rejection] = []
        self.events: list[tuple[Topic, str, Envelope]] = []
        self.touched: set[UUID] = set()

    def post(self, movement: Movement, *, debit: Account, credit: Account) -> Decision:
        entry = JournalEntry(transaction_id=movement.transaction_id, type=movement.type, created_at=self.now)
        self.entries.append(entry)
        self.postings += [
            Posting(
                entry=entry, account=debit, amount=-movement.amount, currency=movement.currency, created_at=self.now
            ),
            Posting(
                entry=entry, account=credit, amount=movement.amount, currency=movement.currency, created_at=self.now
            ),
        ]
        debit.balance -= movement.amount
        credit.balance += movement.amount
        self.touched |= {debit.id, credit.id}
        self._event(movement, EventType.LEDGER_POSTED, entry_id=entry.id)
        return Decision(transaction_id=movement.transaction_id, status=POSTED, entry_id=entry.id)

    def reject(self, movement: Movement, *, reason: str) -> Decision:
        self.rejections.append(_rejection(movement, reason=reason))
        self._event(movement, EventType.LEDGER_REJECTED, reason=reason)
        return Decision(transaction_id=movement.transaction_id, status=REJECTED, reason=reason)

    def write(self, accounts: dict[UUID, Account]) -> None:
        JournalEntry.objects.bulk_create(self.entries)
        Posting.objects.bulk_create(self.postings)
        rows_update([accounts[account_id] for account_id in sorted(self.touched)], ["balance"])
        Rejection.objects.bulk_create(self.rejections)
        if self.events:
            outbox_events_create(self.events)

    def _event(self, movement: Movement, event_type: EventType, **fields) -> None:
        self.events.append((Topic.LEDGER_EVENTS, str(movement.transaction_id), _event(movement, event_type, **fields)))


def _reject(movement: Movement, *, reason: str) -> Decision:
    """One rejection outside a batch (the sweeper's expiry)."""
    batch = _Writes()
    decision = batch.reject(movement, reason=reason)
    batch.write({})
    return decision


def _rejection(movement: Movement, *, reason: str) -> Rejection:
    return Rejection(
        transaction_id=movement.transaction_id, reason=reason[:100], type=movement.type[:10],
        # A malformed amount is not stored (NUMERIC(19,4) would round or overflow it); the event carries it.
        amount=movement.amount if _fits(movement.amount) else Decimal(0),
        currency=movement.currency[:3], from_wallet_id=movement.from_wallet_id, to_wallet_id=movement.to_wallet_id,
    )  # fmt: skip


def _fits(amount: Decimal) -> bool:
    return amount.is_finite() and abs(amount) < Decimal(10) ** 15 and amount.as_tuple().exponent >= -4


def _event(movement: Movement, event_type: EventType, **fields) -> Envelope:
    return envelope_build(
        payload=PAYLOADS[event_type](**movement.payload(), **fields), transaction_id=movement.transaction_id,
        correlation_id=movement.correlation_id,
    )  # fmt: skip
