"""Every write of the read model, and the live push that follows a committed status change.

The entries are a projection of one source, TransactionStatusChanged (decision 0018); WalletOpened only
says whose wallet is whose. Two consumers write here: history-transaction-events (the entries) and
history-wallet-events (the owners).

Locks (PostgreSQL transaction-scoped advisory locks, always taken in this order):
1. the transaction's lock, exclusive — only the transaction-events consumer writes a transaction's
   entries (wallet-events no longer does: it only records owners, under 2), and a transaction's
   events share one partition; two of its processes can still hold one partition for a moment (a
   rebalance: the old member finishing a batch the new one fetched again). The inbox INSERT already
   makes the second wait for the same events; this lock keeps the read-then-upsert of a
   transaction's entries serial without relying on that order (it rides in the same statement as 2);
2. each involved wallet's lock, shared, in key order — ``wallet_owner_record`` (the wallet-events
   consumer) takes it exclusive, so an entry inserted without its owner (WalletOpened not seen yet)
   is either committed before the backfill runs (and claimed, if the owner may see it) or inserted
   after it (and sees the owner).

Whose entry it is (threat model T30–T31): an entry's owner is always its wallet's owner, as the
wallet service knows it (WalletOwner, or the receiver transaction_service learned from the wallet —
the second of the event's ``user_ids``) — never guessed from who acted. The owner sees it once the
wallet service accepted the movement (the transaction reached RESERVED: a hold exists); before that
it is an attempt, which only an actor who owns the wallet sees: someone else's refused attempt
leaves no trace.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from history.models import FINAL_RANK, STATUS_RANK, Direction, EntryType, HistoryEntry, Status, WalletOwner
from history.push import group_send_all
from walletkit.channels import PAYMENT_REQUEST, TRANSACTION_STATUS, user_group_name
from walletkit.db import rows_update
from walletkit.http import service_request

logger = logging.getLogger(__name__)

# This thread's status pushes waiting for their database transaction to commit (_push_after_commit).
_pushes = threading.local()
_TRANSACTION_LOCKS = 1
_WALLET_LOCKS = 2


@dataclass(frozen=True)
class Movement:
    """What a transaction moves, as its status changes describe it."""

    transaction_id: UUID
    type: str
    amount: Decimal
    currency: str | None  # a transaction refused before its reservation may carry none
    from_wallet_id: UUID | None
    to_wallet_id: UUID | None

    def sides(self) -> list[tuple[UUID, str, UUID | None]]:
        """(wallet, direction, counterparty): one entry per wallet the money leaves or enters."""
        if self.type == EntryType.DEPOSIT:
            return [(self.to_wallet_id, Direction.CREDIT, None)]
        if self.type == EntryType.WITHDRAWAL:
            return [(self.from_wallet_id, Direction.DEBIT, None)]
        return [
            (self.from_wallet_id, Direction.DEBIT, self.to_wallet_id),
            (self.to_wallet_id, Direction.CREDIT, self.from_wallet_id),
        ]

    @property
    def wallet_ids(self) -> list[UUID]:
        return [wallet_id for wallet_id, _, _ in self.sides()]

    @property
    def acting_wallet_id(self) -> UUID | None:
        """The wallet the actor must own for the wallet service to accept: the one credited by a
        deposit, the one debited otherwise."""
        return self.to_wallet_id if self.type == EntryType.DEPOSIT else self.from_wallet_id


@transaction.atomic(savepoint=False)  # inside a consumer's batch transaction: no savepoint of its own
def wallet_owner_record(*, wallet_id: UUID, owner_id: int, currency: str, name: str = "") -> WalletOwner:
    """Idempotent; gives the owner every entry of this wallet it may see — accepted ones, and its own
    attempts — written before the wallet was known (or attributed to anyone else)."""
    _advisory_lock((_WALLET_LOCKS, [wallet_id], False))
    owner, _ = WalletOwner.objects.update_or_create(
        wallet_id=wallet_id, defaults={"owner_id": owner_id, "currency": currency, "name": name}
    )
    # updated_at moves too: the entries just became visible to the owner, so catch-up must return them.
    # (exclude() keeps the NULL owners: NOT (owner_id = x) alone would drop them.)
    visible = Q(accepted=True) | Q(actor_id=owner_id)
    HistoryEntry.objects.filter(visible, wallet_id=wallet_id).exclude(owner_id=owner_id).update(
        owner_id=owner_id, updated_at=timezone.now()
    )
    # Both sides of a transaction share one currency; rows of this wallet's transactions only
    # change under this wallet's lock, so touching the counterparty's row here cannot deadlock.
    unknown = HistoryEntry.objects.filter(wallet_id=wallet_id, currency="").values("transaction_id")
    HistoryEntry.objects.filter(transaction_id__in=unknown, currency="").update(currency=currency)
    return owner


def wallet_owner_learn(*, wallet_id: UUID) -> int | None:
    """Ask wallet_service whose wallet this is, for a wallet whose WalletOpened has not arrived yet
    (a brand-new wallet's history is read before the event crosses the broker). Records the answer
    as WalletOpened would. None if the wallet does not exist. Raises ServiceUnavailable."""
    response = service_request("GET", "wallet", f"/wallets/{wallet_id}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    wallet = response.json()
    wallet_owner_record(
        wallet_id=wallet_id, owner_id=int(wallet["owner_id"]), currency=wallet["currency"], name=wallet.get("name", "")
    )
    return int(wallet["owner_id"])


@dataclass(frozen=True)
class EntryNews:
    """What one TransactionStatusChanged says about a movement's entries (see history_entries_record)."""

    movement: Movement
    status: str
    accepted: bool
    created_at: datetime
    failure_reason: str
    user_ids: list[int]  # the actor first, then the receiver the wallet service named (once it did)
    transaction_view: dict[str, Any]  # the public transaction shape, pushed as it is

    @property
    def actor_id(self) -> int:
        return self.user_ids[0]

    def named_owners(self) -> dict[UUID, int]:
        """The owners an accepted transaction implies: the wallet service let the actor use the acting
        wallet, so it is theirs; a transfer's receiver only once named (a lone user id may just mean the
        receiver is not known yet — never assume it is the actor)."""
        owners = {self.movement.acting_wallet_id: self.actor_id}
        if self.movement.type in (EntryType.TRANSFER, EntryType.REFUND) and len(self.user_ids) > 1:
            owners[self.movement.to_wallet_id] = self.user_ids[1]
        return owners


@transaction.atomic(savepoint=False)  # inside a consumer's batch transaction: no savepoint of its own
def history_entries_record(*, news: Sequence[EntryNews]) -> list[list[HistoryEntry]]:
    """Upsert the entries each movement has so far, set-based: the batch's locks, owners and
    existing entries read in three statements, each piece of news applied in order in memory,
    then one INSERT and one UPDATE. The status only moves up in rank, so a duplicate or late event
    changes nothing; each real change is pushed to the users after commit.

    ``accepted``: the wallet service holds the movement. Then every side gets its entry, owned by
    the owners the event names (the wallet service's word; WalletOwner wins), unknown ones claimed by
    WalletOpened later. Before that it is only the actor's attempt: the acting side's entry alone, seen
    only if the actor owns that wallet (known now, or once WalletOpened says so), and pushed to the
    actor alone.
    """
    transaction_ids = {item.movement.transaction_id for item in news}
    wallet_ids = {wallet_id for item in news for wallet_id in item.movement.wallet_ids}
    _advisory_lock((_TRANSACTION_LOCKS, transaction_ids, False), (_WALLET_LOCKS, wallet_ids, True))
    known = {wallet.wallet_id: wallet for wallet in WalletOwner.objects.filter(wallet_id__in=wallet_ids)}
    state = _Entries(HistoryEntry.objects.filter(transaction_id__in=transaction_ids))
    recorded = [_news_apply(item, known, state) for item in news]
    state.write()
    return recorded


class _Entries:
    """A batch's entries in memory: those read at the start, those made and changed since."""

    def __init__(self, existing: Iterable[HistoryEntry]) -> None:
        self.now = timezone.now()
        self.by_key = {(entry.transaction_id, entry.wallet_id): entry for entry in existing}
        self.created: list[HistoryEntry] = []
        self._created_ids: set[UUID] = set()
        self.changed: dict[UUID, set[str]] = {}  # id of an entry read at the start → fields changed

    def add(self, entry: HistoryEntry) -> None:
        self.by_key[(entry.transaction_id, entry.wallet_id)] = entry
        self.created.append(entry)
        self._created_ids.add(entry.pk)  # the id is set when the entry is made, before its INSERT

    def touched(self, entry: HistoryEntry, fields: list[str]) -> None:
        if fields and entry.pk not in self._created_ids:  # a new entry is inserted as it ends up
            self.changed.setdefault(entry.pk, set()).update(fields)

    def write(self) -> None:
        HistoryEntry.objects.bulk_create(self.created)
        if self.changed:
            rows = [entry for entry in self.by_key.values() if entry.pk in self.changed]
            rows_update(rows, sorted(set().union(*self.changed.values())))


def _news_apply(item: EntryNews, known: dict[UUID, WalletOwner], state: _Entries) -> list[HistoryEntry]:
    movement = item.movement
    wallets = [known[wallet_id] for wallet_id in movement.wallet_ids if wallet_id in known]
    known_owners = {wallet.wallet_id: wallet.owner_id for wallet in wallets}
    if item.accepted:
        sides = movement.sides()
        owners = {**item.named_owners(), **known_owners}  # WalletOwner wins
    else:
        sides = [side for side in movement.sides() if side[0] == movement.acting_wallet_id]
        acting_owner = known_owners.get(movement.acting_wallet_id)
        owners = {movement.acting_wallet_id: acting_owner} if acting_owner == item.actor_id else {}
    currency = movement.currency or next((wallet.currency for wallet in wallets), "")
    entries, status_changed = [], False
    for wallet_id, direction, counterparty in sides:
        entry = state.by_key.get((movement.transaction_id, wallet_id))
        if entry is None:
            entry = HistoryEntry(
                transaction_id=movement.transaction_id, wallet_id=wallet_id, owner_id=owners.get(wallet_id),
                accepted=item.accepted, actor_id=item.actor_id, type=movement.type, direction=direction,
                amount=movement.amount, currency=currency, counterparty_wallet_id=counterparty, status=item.status,
                status_rank=STATUS_RANK[item.status],
                failure_reason=item.failure_reason if item.status == Status.FAILED else "",
                occurred_at=item.created_at, updated_at=state.now,
            )  # fmt: skip
            state.add(entry)
            status_changed = True
        else:
            fields = _entry_update(
                entry, status=item.status, failure_reason=item.failure_reason, created_at=item.created_at,
                accepted=item.accepted, actor_id=item.actor_id, owner_id=owners.get(wallet_id), currency=currency,
                now=state.now,
            )  # fmt: skip
            state.touched(entry, fields)
            status_changed |= "status" in fields
        entries.append(entry)
    if status_changed:
        if item.accepted:  # the transaction's users (its actor, the receiver the wallet named) and the owners
            users = set(item.user_ids) | {entry.owner_id for entry in entries if entry.owner_id is not None}
        else:
            users = {item.actor_id}
        _push_after_commit(users, item.transaction_view)
    return entries


def _entry_update(
    entry: HistoryEntry, *, status: str, failure_reason: str, created_at: datetime, accepted: bool,
    actor_id: int, owner_id: int | None, currency: str, now: datetime,
) -> list[str]:  # fmt: skip
    """Apply what this event adds to an existing entry, in memory; returns the fields changed."""
    changed_fields: list[str] = []
    status_moved = entry.status_rank < FINAL_RANK and STATUS_RANK[status] > entry.status_rank
    if status_moved:
        entry.status, entry.status_rank = status, STATUS_RANK[status]
        if status == Status.FAILED:
            entry.failure_reason = failure_reason
        changed_fields += ["status", "status_rank", "failure_reason"]
    if entry.occurred_at != created_at:
        entry.occurred_at = created_at
        changed_fields.append("occurred_at")
    if not entry.currency and currency:
        entry.currency = currency
        changed_fields.append("currency")
    if accepted and not entry.accepted:
        entry.accepted = True
        changed_fields.append("accepted")
    if entry.actor_id is None:
        entry.actor_id = actor_id
        changed_fields.append("actor_id")
    # Every owner given here is the wallet service's word: it replaces whatever an earlier release guessed.
    if owner_id is not None and entry.owner_id != owner_id:
        entry.owner_id = owner_id
        changed_fields.append("owner_id")
    if status_moved or "owner_id" in changed_fields:
        entry.updated_at = now
        changed_fields.append("updated_at")
    return changed_fields


def _push_after_commit(user_ids: Iterable[int], view: dict[str, Any]) -> None:
    """Queue the status change for each user until the database transaction commits — a consumer's
    batch is one transaction, so each (user, transaction) gets its latest status once per batch, and
    the batch's pushes go out together. A status only moves up, so the last one queued is the latest.
    A rolled-back transaction drops its queue (Django forgets its on_commit callbacks; so do we)."""
    queued = getattr(_pushes, "queued", None)
    if queued is None or not any(func is _pushes_send for _ids, func, _robust in connection.run_on_commit):
        queued = _pushes.queued = {}
        transaction.on_commit(_pushes_send, robust=True)
    for user_id in user_ids:
        queued[(user_id, view["id"])] = view


def payment_request_push(*, user_ids: list[int], payment_request: dict[str, Any]) -> None:
    """Relay a payment request's change to both people's websockets once the consumer's batch commits.
    Nothing is stored here: the request lives in transaction_service, and a client that missed a push
    reads it again there (GET /payment-requests). Best effort, like the status pushes."""
    sends = [
        (user_group_name(user_id), {"type": PAYMENT_REQUEST, "payment_request": payment_request})
        for user_id in dict.fromkeys(user_ids)
    ]
    transaction.on_commit(lambda: group_send_all(sends), robust=True)


def _pushes_send() -> None:
    """Best effort — a client that missed a push catches up with ``/activity?changed_since=``."""
    queued, _pushes.queued = getattr(_pushes, "queued", None) or {}, None
    group_send_all(
        [(user_group_name(user_id), {"type": TRANSACTION_STATUS, "transaction": view})
         for (user_id, _transaction_id), view in queued.items()]
    )  # fmt: skip


def _advisory_lock(*locks: tuple[int, Iterable[UUID], bool]) -> None:
    """Take ``(namespace, ids, shared)`` locks in the order given, keys ascending within each, in ONE
    statement (its select list is evaluated left to right): a round trip per lock was most of what
    an event that changes nothing cost."""
    calls, params = [], []
    for namespace, ids, shared in locks:
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        for key in sorted({int.from_bytes(value.bytes[:4], "big", signed=True) for value in ids}):
            calls.append(f"{function}(%s, %s)")
            params += [namespace, key]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(calls)}", params)
