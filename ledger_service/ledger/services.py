"""Every write of ledger_service: the journal only grows, one decision per transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from django.db import connection, transaction
from django.utils import timezone

from ledger.models import Account, JournalEntry, MovementType, Posting, Rejection
from ledger.selectors import POSTED, REJECTED, Decision, entry_status_get
from walletkit.events import EventType, Topic, envelope_build
from walletkit.money import InvalidAmount, InvalidCurrency, amount_parse, currency_parse
from walletkit.outbox.services import outbox_event_create

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

    def payload(self) -> dict:
        return self.extra | {
            "type": self.type, "amount": self.amount, "currency": self.currency,
            "from_wallet_id": self.from_wallet_id, "to_wallet_id": self.to_wallet_id,
        }  # fmt: skip


@transaction.atomic
def account_open(*, wallet_id: UUID, currency: str) -> Account:
    """Idempotent: the account may already exist, made on demand by an earlier movement event."""
    account = _accounts_ensure(wallet_ids=[wallet_id], currency=currency)[wallet_id]
    if account.currency != currency:
        logger.error(
            "wallet opened in another currency than its ledger account",
            extra={"wallet_id": str(wallet_id), "account_currency": account.currency, "currency": currency},
        )
    return account


@transaction.atomic(savepoint=False)  # inside a consumer's batch transaction: no savepoint of its own
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
    _transaction_lock(transaction_id)
    decided = entry_status_get(transaction_id=transaction_id)
    if decided is not None:
        return decided
    problem = _movement_problem(movement)
    if problem:
        return _reject(movement, reason=problem)

    debit_id, credit_id = _accounts_for(movement)
    accounts = _accounts_lock([debit_id, credit_id])
    debit, credit = accounts[debit_id], accounts[credit_id]
    if debit.currency != movement.currency or credit.currency != movement.currency:
        return _reject(movement, reason=CURRENCY_MISMATCH)
    if debit.kind == Account.Kind.WALLET and debit.balance < movement.amount:
        return _reject(movement, reason=INSUFFICIENT_FUNDS)
    return _post(movement, debit=debit, credit=credit)


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
    """Serialize every decision about one transaction (FundsReserved vs the sweeper's expire).

    Without it both could find "no decision yet" and write an entry AND a rejection. The
    transaction-scoped advisory lock is taken before any account lock, always.
    """
    key = int.from_bytes(transaction_id.bytes[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


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


def _accounts_for(movement: Movement) -> tuple[UUID, UUID]:
    """(account debited, account credited): deposits come from outside, withdrawals go outside."""
    wallet_accounts = _accounts_ensure(
        wallet_ids=[w for w in (movement.from_wallet_id, movement.to_wallet_id) if w], currency=movement.currency
    )
    if movement.type in WALLET_TO_WALLET:
        return wallet_accounts[movement.from_wallet_id].id, wallet_accounts[movement.to_wallet_id].id
    external = _external_account(movement.currency)
    if movement.type == MovementType.DEPOSIT:
        return external.id, wallet_accounts[movement.to_wallet_id].id
    return wallet_accounts[movement.from_wallet_id].id, external.id


def _accounts_ensure(*, wallet_ids: list[UUID], currency: str) -> dict[UUID, Account]:
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


def _external_account(currency: str) -> Account:
    account = Account.objects.filter(kind=Account.Kind.EXTERNAL, currency=currency).first()
    if account is None:
        Account.objects.bulk_create([Account(kind=Account.Kind.EXTERNAL, currency=currency)], ignore_conflicts=True)
        account = Account.objects.get(kind=Account.Kind.EXTERNAL, currency=currency)
    return account


def _accounts_lock(account_ids: list[UUID]) -> dict[UUID, Account]:
    """Row-lock the accounts in ascending id order (ORDER BY runs before PostgreSQL's row locking).

    One order for every posting, so A→B and B→A posted at once queue instead of deadlocking.
    The lock also makes the overdraft check and the balance-cache update one atomic step.
    """
    return {a.id: a for a in Account.objects.select_for_update(no_key=True).filter(id__in=account_ids).order_by("id")}


def _post(movement: Movement, *, debit: Account, credit: Account) -> Decision:
    now = timezone.now()
    entry = JournalEntry.objects.create(transaction_id=movement.transaction_id, type=movement.type, created_at=now)
    Posting.objects.bulk_create(
        [
            Posting(entry=entry, account=debit, amount=-movement.amount, currency=movement.currency, created_at=now),
            Posting(entry=entry, account=credit, amount=movement.amount, currency=movement.currency, created_at=now),
        ]
    )
    debit.balance -= movement.amount
    credit.balance += movement.amount
    debit.save(update_fields=["balance"])
    credit.save(update_fields=["balance"])
    _event_write(movement, EventType.LEDGER_POSTED, entry_id=entry.id)
    return Decision(transaction_id=movement.transaction_id, status=POSTED, entry_id=entry.id)


def _reject(movement: Movement, *, reason: str) -> Decision:
    Rejection.objects.create(
        transaction_id=movement.transaction_id, reason=reason[:100], type=movement.type[:10],
        # A malformed amount is not stored (NUMERIC(19,4) would round or overflow it); the event carries it.
        amount=movement.amount if _fits(movement.amount) else Decimal(0),
        currency=movement.currency[:3], from_wallet_id=movement.from_wallet_id, to_wallet_id=movement.to_wallet_id,
    )  # fmt: skip
    _event_write(movement, EventType.LEDGER_REJECTED, reason=reason)
    return Decision(transaction_id=movement.transaction_id, status=REJECTED, reason=reason)


def _fits(amount: Decimal) -> bool:
    return amount.is_finite() and abs(amount) < Decimal(10) ** 15 and amount.as_tuple().exponent >= -4


def _event_write(movement: Movement, event_type: EventType, **fields) -> None:
    envelope = envelope_build(
        event_type=event_type, payload=movement.payload() | fields, transaction_id=movement.transaction_id
    )
    outbox_event_create(topic=Topic.LEDGER_EVENTS, key=str(movement.transaction_id), envelope=envelope)
