"""Every write of wallet_service. Money moves only here, each movement in one database transaction."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from walletkit.db import rows_update
from walletkit.errors import DomainError
from walletkit.events import PAYLOADS, Envelope, EventType, Topic, WalletOpened, envelope_build
from walletkit.money import amount_format, currency_parse
from walletkit.outbox.services import outbox_event_create, outbox_events_create
from wallets.models import Hold, Wallet, WalletResync
from wallets.selectors import wallet_outgoing_used

logger = logging.getLogger(__name__)


def _wallet_not_found() -> DomainError:
    # The same answer for "missing" and "someone else's": never reveal that another user's wallet exists.
    return DomainError("Wallet not found.", code="wallet_not_found")


@transaction.atomic
def wallet_open(*, owner_id: int, currency: str, name: str = "") -> Wallet:
    """The ledger learns of the wallet from ``WalletOpened``, committed with the row."""
    wallet = Wallet.objects.create(owner_id=owner_id, currency=currency_parse(currency), name=name)
    envelope = envelope_build(
        payload=WalletOpened(wallet_id=wallet.id, owner_id=owner_id, currency=wallet.currency, name=name)
    )
    outbox_event_create(topic=Topic.WALLET_EVENTS, key=str(wallet.id), envelope=envelope)
    return wallet


def _again_if_a_unique_race_was_lost(atomic_service):
    """Run a whole atomic service once more when it lost a unique index to a concurrent writer: its
    transaction rolled back, and the second run finds the winner's row at its first lookup. For races
    that almost never happen — cheaper than a savepoint on every call."""

    @functools.wraps(atomic_service)
    def service(**kwargs):
        try:
            return atomic_service(**kwargs)
        except IntegrityError:
            return atomic_service(**kwargs)

    return service


@_again_if_a_unique_race_was_lost
@transaction.atomic
def hold_reserve(
    *,
    transaction_id: UUID,
    type: str,
    from_wallet_id: UUID | None,
    to_wallet_id: UUID | None,
    amount: Decimal,
    acting_user_id: int,
    currency: str | None = None,
) -> tuple[Hold, bool]:
    """One hold per transaction id: a retry returns the existing hold and writes nothing.

    Returns ``(hold, created)``. Withdrawals and transfers set ``amount`` aside on the sender
    (``available >= amount`` checked under the sender's row lock); a deposit only records that
    the acting user owns the wallet it credits. A concurrent first try of the same transaction (or
    the sweeper's VOIDED tombstone) that wins the holds' unique index makes this run roll back and
    run again, returning the winner's hold.
    """
    _movement_check(type=type, from_wallet_id=from_wallet_id, to_wallet_id=to_wallet_id, amount=amount)
    earlier = functools.partial(_earlier_try, transaction_id, type=type, amount=amount, acting_user_id=acting_user_id)
    sender = receiver = None
    if type == Hold.Type.DEPOSIT:
        if answer := earlier():
            return answer
        receiver = _owned_wallet(to_wallet_id, acting_user_id, lock=False)
    else:
        # The sender's row lock serializes every reserve against this wallet: two concurrent
        # reserves cannot both see the same `available`. An earlier try is looked up under it (one
        # read per reserve): a retry that queued behind its own first try (which timed out at the
        # caller but committed) must get that hold back, not a refusal for the funds it set aside.
        try:
            sender = _owned_wallet(from_wallet_id, acting_user_id, lock=True)
        except DomainError:
            if answer := earlier():  # the id reused by someone else: 409, as for any other mismatch
                return answer
            raise
        if answer := earlier():
            return answer
        if type in (Hold.Type.TRANSFER, Hold.Type.REFUND):
            receiver = Wallet.objects.filter(id=to_wallet_id).first()
            if receiver is None:
                raise _wallet_not_found()
    hold_currency = (sender or receiver).currency
    if receiver and receiver.currency != hold_currency and receiver.owner_id != acting_user_id:
        # Someone else's wallet in another currency is answered like a missing one: a payer must not
        # learn that a stranger's wallet id exists, nor its currency (threat model T28).
        raise _wallet_not_found()
    if (receiver and receiver.currency != hold_currency) or (currency and currency.upper() != hold_currency):
        raise DomainError(
            "The wallets' currencies differ.",
            code="currency_mismatch",
        )
    if sender is not None and sender.available < amount:
        raise DomainError(
            "Insufficient funds.",
            code="insufficient_funds",
            available=amount_format(sender.available),  # read under the lock: what could be paid now
        )
    if sender is not None:
        _limits_check(sender, amount)

    hold = Hold.objects.create(
        transaction_id=transaction_id, type=type, from_wallet=sender, to_wallet=receiver,
        amount=amount, currency=hold_currency, owner_id=acting_user_id,
    )  # fmt: skip
    if sender is not None:
        sender.held += amount
        sender.version += 1
        sender.save(update_fields=["held", "version", "updated_at"])
    event_type = EventType.DEPOSIT_AUTHORIZED if type == Hold.Type.DEPOSIT else EventType.FUNDS_RESERVED
    _hold_event_write(hold, event_type)
    return hold, True


def _earlier_try(transaction_id: UUID, *, type: str, amount: Decimal, acting_user_id: int) -> tuple[Hold, bool] | None:
    """The answer to a reserve of a transaction id that already has a hold (or a VOIDED tombstone)."""
    existing = Hold.objects.filter(transaction_id=transaction_id).first()
    if existing is None:
        return None
    return _hold_retry(existing, type=type, amount=amount, acting_user_id=acting_user_id), False


def _limits_check(sender: Wallet, amount: Decimal) -> None:
    """Refuse ``limit_exceeded`` if this reserve would take the day's or the month's outgoing past a limit.

    Runs under the sender's row lock, which every reserve and every release of this wallet's holds
    takes: the holds summed here are exactly those committed before us, and no concurrent reserve can
    pass on the same headroom. A wallet without limits pays nothing (no query).
    """
    if sender.daily_out_limit is None and sender.monthly_out_limit is None:
        return
    used = wallet_outgoing_used(wallet_id=sender.id)
    remaining = min(
        limit - spent
        for limit, spent in ((sender.daily_out_limit, used.daily), (sender.monthly_out_limit, used.monthly))
        if limit is not None
    )
    if amount > remaining:
        left = amount_format(max(remaining, Decimal(0)))
        raise DomainError(
            f"This would exceed the wallet's spending limit: {left} {sender.currency} remains.",
            code="limit_exceeded",
            remaining=left,
        )


@transaction.atomic
def wallet_limits_set(
    *, wallet_id: UUID, owner_id: int, daily_out: Decimal | None, monthly_out: Decimal | None
) -> Wallet:
    """Owner only. Under the row lock, so a reserve sees either the old limits or the new, never half.

    A lower limit does not undo what is already reserved; it only refuses what would pass it from now on.
    """
    wallet = _owned_wallet(wallet_id, owner_id, lock=True)
    wallet.daily_out_limit, wallet.monthly_out_limit = daily_out, monthly_out
    wallet.save(update_fields=["daily_out_limit", "monthly_out_limit", "updated_at"])
    return wallet


@transaction.atomic
def hold_void(*, transaction_id: UUID, type: str, amount: Decimal, acting_user_id: int) -> tuple[Hold, bool]:
    """The sweeper's expiry, decided here once: this transaction id will never reserve.

    Returns ``(tombstone, True)``, or ``(hold, False)`` when a reserve got there first. The tombstone
    is a VOIDED row in the holds' unique index on ``transaction_id``, so that index alone decides
    between the void and a reserve still on its way (queued on the sender's row lock, say): whichever
    inserts first wins, the other finds the winner (hold_reserve refuses a tombstone as ``expired``).
    It takes no wallet lock, so it never waits for the reserves queued on one (docs/decisions/0008).
    """
    existing = Hold.objects.filter(transaction_id=transaction_id).first()
    if existing is not None:
        return existing, False
    try:
        # A savepoint: if a reserve's uncommitted hold holds the index entry, this insert waits for
        # it and fails once it commits; the reserve won and its hold is the answer.
        with transaction.atomic():
            tombstone = Hold.objects.create(
                transaction_id=transaction_id, type=type, amount=amount, currency="", owner_id=acting_user_id,
                status=Hold.Status.VOIDED, reason="expired",
            )  # fmt: skip
    except IntegrityError:
        return Hold.objects.get(transaction_id=transaction_id), False
    logger.info("transaction voided before any reserve", extra={"transaction_id": str(transaction_id)})
    return tombstone, True


def hold_capture(*, transaction_id: UUID) -> Hold | None:
    """The ledger posted the movement: apply it to the snapshot, exactly once."""
    return next(iter(holds_capture(transaction_ids=[transaction_id])), None)


def hold_release(*, transaction_id: UUID, reason: str) -> Hold | None:
    """The ledger said no: give the set-aside money back to ``available``, exactly once."""
    return next(iter(holds_release(reasons={transaction_id: reason})), None)


@transaction.atomic(savepoint=False)  # inside a consumer's batch transaction: no savepoint of its own
def holds_capture(
    *, transaction_ids: Sequence[UUID], correlation_ids: Mapping[UUID, str | None] = MappingProxyType({})
) -> list[Hold]:
    """The ledger posted these movements: apply each to the snapshot, exactly once, set-based — a
    handful of statements for the batch instead of seven per movement. Returns the holds captured now
    (a hold already settled, or missing, is logged and skipped: duplicates and contradictions)."""
    holds = _holds_to_settle(transaction_ids, wanted=Hold.Status.CAPTURED)
    wallets = _wallets_lock(holds)
    for hold in holds:
        if hold.from_wallet_id:
            sender = wallets[hold.from_wallet_id]
            sender.balance -= hold.amount
            sender.held -= hold.amount
            sender.version += 1
        if hold.to_wallet_id:
            receiver = wallets[hold.to_wallet_id]
            receiver.balance += hold.amount
            receiver.version += 1
        hold.status = Hold.Status.CAPTURED
    _settled_write(holds, wallets, EventType.HOLD_CAPTURED, correlation_ids)
    return holds


@transaction.atomic(savepoint=False)  # inside a consumer's batch transaction: no savepoint of its own
def holds_release(
    *, reasons: Mapping[UUID, str], correlation_ids: Mapping[UUID, str | None] = MappingProxyType({})
) -> list[Hold]:
    """The ledger said no to these movements (transaction id → reason): give the set-aside money
    back to ``available``, exactly once each, set-based like holds_capture."""
    holds = _holds_to_settle(list(reasons), wanted=Hold.Status.RELEASED)
    wallets = _wallets_lock([hold for hold in holds if hold.sets_funds_aside])
    for hold in holds:
        if hold.sets_funds_aside:
            sender = wallets[hold.from_wallet_id]
            sender.held -= hold.amount
            sender.version += 1
        hold.status = Hold.Status.RELEASED
        hold.reason = reasons[hold.transaction_id][:200]
    _settled_write(holds, wallets, EventType.HOLD_RELEASED, correlation_ids)
    return holds


def _holds_to_settle(transaction_ids: Sequence[UUID], *, wanted: str) -> list[Hold]:
    """Lock the transactions' holds (one statement, ascending id) and keep the RESERVED ones, in the
    order asked. Holds are locked before wallets, always: the same order as every other settlement."""
    locked = Hold.objects.select_for_update(no_key=True).filter(transaction_id__in=transaction_ids).order_by("id")
    by_transaction = {hold.transaction_id: hold for hold in locked}
    holds = []
    for transaction_id in dict.fromkeys(transaction_ids):
        hold = by_transaction.get(transaction_id)
        if hold is None:
            logger.warning(
                "the ledger decided a transaction with no hold",
                extra={"transaction_id": str(transaction_id), "ledger_says": wanted},
            )
        elif hold.status != Hold.Status.RESERVED:
            _hold_settled_log(hold, wanted=wanted)
        else:
            holds.append(hold)
    return holds


def _settled_write(
    holds: list[Hold], wallets: dict[UUID, Wallet], event_type: EventType, correlation_ids: Mapping[UUID, str | None]
) -> None:
    """One UPDATE for the wallets, one for the holds, one INSERT for their events."""
    if not holds:
        return
    now = timezone.now()
    for row in (*wallets.values(), *holds):
        row.updated_at = now
    rows_update(list(wallets.values()), ["balance", "held", "version", "updated_at"])
    rows_update(holds, ["status", "reason", "updated_at"])
    outbox_events_create(
        [
            (
                Topic.WALLET_EVENTS,
                str(hold.transaction_id),
                _hold_event(hold, event_type, correlation_ids.get(hold.transaction_id)),
            )
            for hold in holds
        ]
    )


def _movement_check(*, type: str, from_wallet_id: UUID | None, to_wallet_id: UUID | None, amount: Decimal) -> None:
    problem = None
    if type not in Hold.Type.values:
        problem = f"Unknown type {type!r}."
    elif amount <= 0:
        problem = "Amount must be greater than zero."
    elif type == Hold.Type.DEPOSIT and (to_wallet_id is None or from_wallet_id is not None):
        problem = "A deposit has a to_wallet_id and no from_wallet_id."
    elif type == Hold.Type.WITHDRAWAL and (from_wallet_id is None or to_wallet_id is not None):
        problem = "A withdrawal has a from_wallet_id and no to_wallet_id."
    elif type in (Hold.Type.TRANSFER, Hold.Type.REFUND) and (from_wallet_id is None or to_wallet_id is None):
        problem = "A transfer has both a from_wallet_id and a to_wallet_id."
    elif type in (Hold.Type.TRANSFER, Hold.Type.REFUND) and from_wallet_id == to_wallet_id:
        problem = "A transfer cannot go to the wallet it comes from."
    if problem:
        raise DomainError(problem, code="invalid_movement")


def _hold_retry(hold: Hold, *, type: str, amount: Decimal, acting_user_id: int) -> Hold:
    """A retry must be the same request; anything else reusing the id is a caller's bug, refused loudly.

    A tombstone (hold_void) means the transaction already ended FAILED ``expired``: refuse with that.
    This runs at each of the reserve's three looks (first lookup, under the sender's lock, after
    losing the unique index), so a void that commits at any moment before the reserve's insert wins.
    """
    if hold.status == Hold.Status.VOIDED:
        raise DomainError(
            "The transaction expired before its funds were reserved.",
            code="expired",
        )
    if hold.type != type or hold.amount != amount or hold.owner_id != acting_user_id:
        raise DomainError(
            "This transaction id already has a different hold.",
            code="transaction_id_conflict",
        )
    return hold


def _owned_wallet(wallet_id: UUID | None, owner_id: int, *, lock: bool) -> Wallet:
    wallets = Wallet.objects.select_for_update(no_key=True) if lock else Wallet.objects.all()
    wallet = wallets.filter(id=wallet_id, owner_id=owner_id).first()
    if wallet is None:
        raise _wallet_not_found()
    return wallet


def _wallets_lock(holds: Sequence[Hold]) -> dict[UUID, Wallet]:
    """Lock every wallet the holds touch, in one statement, always in ascending id order.

    ORDER BY puts PostgreSQL's row locking after the sort, so the locks are taken in id order.
    Every settlement locks in that one order, so A→B and B→A settling at once wait
    for each other instead of deadlocking. (Reserves lock only the sender, after no other wallet.)

    Every balance lock is FOR NO KEY UPDATE (``no_key=True``): a hold's foreign keys are checked
    at COMMIT with FOR KEY SHARE, which FOR UPDATE would block — a reserve holding its sender
    would wait for a capture batch holding the receiver, and deadlock once the batch needs that
    sender.
    """
    ids = {wallet_id for hold in holds for wallet_id in (hold.from_wallet_id, hold.to_wallet_id) if wallet_id}
    if not ids:
        return {}
    locked = Wallet.objects.select_for_update(no_key=True).filter(id__in=ids).order_by("id")
    wallets = {wallet.id: wallet for wallet in locked}
    # The holds' events name both owners: take them from these rows, not a query per side.
    for hold in holds:
        if hold.from_wallet_id:
            hold.from_wallet = wallets[hold.from_wallet_id]
        if hold.to_wallet_id:
            hold.to_wallet = wallets[hold.to_wallet_id]
    return wallets


def _wallet_save(wallet: Wallet) -> None:
    wallet.version += 1
    wallet.save(update_fields=["balance", "held", "version", "updated_at"])


def _hold_settled_log(hold: Hold, *, wanted: str) -> None:
    if hold.status != wanted:
        # The ledger decides once; two different answers for one transaction mean a bug upstream.
        logger.error(
            "ledger contradicts a settled hold; money not moved",
            extra={"transaction_id": str(hold.transaction_id), "status": hold.status, "ledger_says": wanted},
        )


def _hold_event_write(hold: Hold, event_type: EventType) -> None:
    outbox_event_create(topic=Topic.WALLET_EVENTS, key=str(hold.transaction_id), envelope=_hold_event(hold, event_type))


def _hold_event(hold: Hold, event_type: EventType, correlation_id: str | None = None) -> Envelope:
    movement = {
        "type": hold.type, "amount": hold.amount, "currency": hold.currency,
        "from_wallet_id": hold.from_wallet_id, "to_wallet_id": hold.to_wallet_id, "owner_id": hold.owner_id,
        "from_owner_id": hold.from_wallet.owner_id if hold.from_wallet_id else None,
        "to_owner_id": hold.to_wallet.owner_id if hold.to_wallet_id else None,
    }  # fmt: skip
    if event_type == EventType.HOLD_RELEASED:
        movement["reason"] = hold.reason
    payload = PAYLOADS[event_type](**movement)
    return envelope_build(payload=payload, transaction_id=hold.transaction_id, correlation_id=correlation_id)


@transaction.atomic
def wallet_resync(*, wallet_id: UUID, balance: Decimal, expected_version: int, reason: str, actor: str) -> Wallet:
    """Set the snapshot's balance to the ledger's figure (a staff repair), audited in WalletResync.

    ``expected_version`` is the version the ledger computed its figure against: if a capture or a
    reserve changed the wallet since, the figure is stale and nothing is written (409).
    """
    wallet = Wallet.objects.select_for_update(no_key=True).filter(id=wallet_id).first()
    if wallet is None:
        raise _wallet_not_found()
    if wallet.version != expected_version:
        raise DomainError(
            "The wallet changed since the ledger's figure was computed; reconcile again.",
            code="version_conflict",
        )
    if balance < 0 or balance < wallet.held:
        raise DomainError(
            "The balance would be below what the wallet holds.",
            code="balance_below_held",
        )
    before, version_before = wallet.balance, wallet.version
    wallet.balance = balance
    _wallet_save(wallet)
    WalletResync.objects.create(
        wallet=wallet, balance_before=before, balance_after=balance, version_before=version_before,
        version_after=wallet.version, reason=reason[:500], actor=actor[:100],
    )  # fmt: skip
    logger.warning(
        "wallet resynced from the ledger",
        extra={"wallet_id": str(wallet_id), "before": str(before), "after": str(balance), "actor": actor},
    )
    return wallet
