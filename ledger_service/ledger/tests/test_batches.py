"""Set-based posting: the same movements decided as one batch and one by one must leave identical
journals, balances, rejections and events (the consumer's batch path is an optimisation, never a change)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from ledger.handlers import wallet_event_handle
from ledger.models import Account, JournalEntry, Posting, Rejection
from walletkit.events import EventType, envelope_build
from walletkit.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db  # the journal refuses TRUNCATE: roll back instead

WALLETS = 3
# (event type, movement type, from index, to index, amount, currency, index of the transaction or None: new)
MOVEMENTS = [
    (EventType.DEPOSIT_AUTHORIZED, "DEPOSIT", None, 0, "50", "EUR", None),
    (EventType.FUNDS_RESERVED, "TRANSFER", 0, 1, "30", "EUR", None),
    (EventType.FUNDS_RESERVED, "TRANSFER", 0, 2, "30", "EUR", None),  # overdraws after the one above: rejected
    (EventType.FUNDS_RESERVED, "WITHDRAWAL", 1, None, "10", "EUR", None),
    (EventType.FUNDS_RESERVED, "TRANSFER", 1, 1, "1", "EUR", None),  # to itself: invalid
    (EventType.DEPOSIT_AUTHORIZED, "DEPOSIT", None, 2, "5", "USD", None),  # wallet 2's account is EUR
    (EventType.FUNDS_RESERVED, "TRANSFER", 1, 2, "5", "EUR", None),
    (EventType.FUNDS_RESERVED, "TRANSFER", 0, 1, "30", "EUR", 1),  # the same transaction again: decided once
    (EventType.DEPOSIT_AUTHORIZED, "DEPOSIT", None, 1, "7", "EUR", None),
    (EventType.FUNDS_RESERVED, "TRANSFER", 1, 0, "22", "EUR", None),  # exactly what the batch left wallet 1
]


def _world() -> tuple[list[uuid.UUID], list]:
    wallets = [uuid.uuid4() for _ in range(WALLETS)]
    transaction_ids: list[uuid.UUID] = []
    envelopes = []
    for event_type, type, source, target, amount, currency, again in MOVEMENTS:
        transaction_id = transaction_ids[again] if again is not None else uuid.uuid4()
        transaction_ids.append(transaction_id)
        payload = {
            "type": type, "amount": amount, "currency": currency, "owner_id": 1,
            "from_wallet_id": wallets[source] if source is not None else None,
            "to_wallet_id": wallets[target] if target is not None else None,
        }  # fmt: skip
        envelopes.append(envelope_build(event_type=event_type, payload=payload, transaction_id=transaction_id))
    return wallets, envelopes


def _state(wallets: list[uuid.UUID], envelopes: list) -> dict:
    """Everything the decisions wrote, with this world's ids replaced by their positions."""
    transaction_ids = list(dict.fromkeys(envelope.transaction_id for envelope in envelopes))
    names = {str(wallet): f"w{i}" for i, wallet in enumerate(wallets)}
    names |= {transaction_id: f"t{i}" for i, transaction_id in enumerate(transaction_ids)}
    accounts = {account.wallet_id: account for account in Account.objects.filter(wallet_id__in=wallets)}
    entries = JournalEntry.objects.filter(transaction_id__in=transaction_ids)
    postings = Posting.objects.filter(entry__in=entries).select_related("entry", "account")
    events = OutboxEvent.objects.filter(key__in=transaction_ids).order_by("id")
    return {
        "accounts": {names[str(w)]: (a.currency, a.balance) for w, a in accounts.items()},
        "postings": sorted(
            (names[str(p.entry.transaction_id)], names.get(str(p.account.wallet_id), p.account.kind), p.amount)
            for p in postings
        ),
        "rejections": sorted(
            (names[str(r.transaction_id)], r.reason)
            for r in Rejection.objects.filter(transaction_id__in=transaction_ids)
        ),
        "events": [
            (
                event.envelope["event_type"],
                names[event.key],
                {k: names.get(str(v), v) for k, v in event.envelope["payload"].items() if k != "entry_id"},
            )
            for event in events
        ],  # fmt: skip
    }


def test_movements_decided_as_one_batch_equal_movements_decided_one_by_one():
    batched_world = _world()
    with transaction.atomic():
        wallet_event_handle.apply_all(batched_world[1])
    single_world = _world()
    for envelope in single_world[1]:
        with transaction.atomic():
            wallet_event_handle(envelope)

    batched, single = _state(*batched_world), _state(*single_world)
    assert batched == single
    # And the outcome is the right one, not just the same one.
    assert batched["accounts"] == {"w0": ("EUR", Decimal(42)), "w1": ("EUR", Decimal(0)), "w2": ("EUR", Decimal(5))}
    assert sorted(reason for _t, reason in batched["rejections"]) == [
        "currency_mismatch", "insufficient_funds", "invalid_movement"
    ]  # fmt: skip
