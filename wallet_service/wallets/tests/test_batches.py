"""Set-based settlement: the same ledger decisions applied as one batch and one by one must leave
identical balances, holds and events (the consumer's batch path is an optimisation, never a change)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from walletkit.events import EventType, envelope_build
from walletkit.outbox.models import OutboxEvent
from wallets import services
from wallets.handlers import ledger_event_handle
from wallets.models import Hold, Wallet
from wallets.tests.conftest import wallet_funded

pytestmark = pytest.mark.django_db(transaction=True)

FUNDS = ("100", "50", "0", "30")
# (type, from index, to index, amount) — reserved before the ledger's decisions arrive.
MOVEMENTS = [
    ("TRANSFER", 0, 1, "10"),
    ("TRANSFER", 1, 0, "5"),
    ("WITHDRAWAL", 3, None, "7"),
    ("DEPOSIT", None, 2, "20"),
    ("TRANSFER", 0, 2, "15"),
    ("TRANSFER", 1, 3, "3"),
]
# The ledger's decisions, in arrival order: duplicates, a contradiction and an unknown transaction too.
DECISIONS = [
    (EventType.LEDGER_POSTED, 0),
    (EventType.LEDGER_POSTED, 1),
    (EventType.LEDGER_POSTED, 2),
    (EventType.LEDGER_REJECTED, 3),
    (EventType.LEDGER_POSTED, 4),
    (EventType.LEDGER_POSTED, 0),  # a second decision for a settled hold: nothing moves
    (EventType.LEDGER_REJECTED, 5),
    (EventType.LEDGER_POSTED, 5),  # contradicts the rejection: logged, nothing moves
    (EventType.LEDGER_POSTED, None),  # a transaction this wallet service never held
]


def _world() -> tuple[list[Wallet], list[uuid.UUID]]:
    wallets = [wallet_funded(owner_id=10 + i, amount=funds) for i, funds in enumerate(FUNDS)]
    transaction_ids = []
    for type, source, target, amount in MOVEMENTS:
        transaction_id = uuid.uuid4()
        owner = wallets[target if type == "DEPOSIT" else source].owner_id
        services.hold_reserve(
            transaction_id=transaction_id, type=type, amount=Decimal(amount), acting_user_id=owner,
            from_wallet_id=wallets[source].id if source is not None else None,
            to_wallet_id=wallets[target].id if target is not None else None,
        )  # fmt: skip
        transaction_ids.append(transaction_id)
    return wallets, transaction_ids


def _decisions(transaction_ids: list[uuid.UUID]) -> list:
    envelopes = []
    for event_type, index in DECISIONS:
        transaction_id = transaction_ids[index] if index is not None else uuid.uuid4()
        payload = {"type": "TRANSFER", "amount": "1", "currency": "EUR", "from_wallet_id": None, "to_wallet_id": None}
        posted = event_type == EventType.LEDGER_POSTED
        payload |= {"entry_id": uuid.uuid4()} if posted else {"reason": "insufficient_funds"}
        envelopes.append(envelope_build(event_type=event_type, payload=payload, transaction_id=transaction_id))
    return envelopes


def _state(wallets: list[Wallet], transaction_ids: list[uuid.UUID]) -> dict:
    """Everything the settlements wrote, with this world's ids replaced by their positions."""
    names = {str(wallet.id): f"w{i}" for i, wallet in enumerate(wallets)}
    names |= {str(wallet.owner_id): f"u{i}" for i, wallet in enumerate(wallets)}
    names |= {str(transaction_id): f"t{i}" for i, transaction_id in enumerate(transaction_ids)}
    rows = {wallet.id: wallet for wallet in Wallet.objects.filter(id__in=[w.id for w in wallets])}
    holds = {hold.transaction_id: hold for hold in Hold.objects.filter(transaction_id__in=transaction_ids)}
    events = OutboxEvent.objects.filter(key__in=[str(t) for t in transaction_ids]).order_by("id")
    return {
        "wallets": [(rows[w.id].balance, rows[w.id].held, rows[w.id].version) for w in wallets],
        "holds": [(holds[t].status, holds[t].reason) for t in transaction_ids],
        "events": [
            (
                event.envelope["event_type"],
                names[event.key],
                {field: names.get(str(value), value) for field, value in event.envelope["payload"].items()},
            )
            for event in events
        ],  # fmt: skip
    }


def test_decisions_applied_as_one_batch_equal_decisions_applied_one_by_one():
    batched_world = _world()
    with transaction.atomic():
        ledger_event_handle.apply_all(_decisions(batched_world[1]))
    single_world = _world()
    for envelope in _decisions(single_world[1]):
        with transaction.atomic():
            ledger_event_handle(envelope)

    batched, single = _state(*batched_world), _state(*single_world)
    assert batched == single
    # And the outcome is the right one, not just the same one.
    assert [balance for balance, _held, _version in batched["wallets"]] == [
        Decimal("80"), Decimal("55"), Decimal("15"), Decimal("23")
    ]  # fmt: skip
    assert all(held == 0 for _balance, held, _version in batched["wallets"])
    assert [status for status, _reason in batched["holds"]] == [
        "CAPTURED", "CAPTURED", "CAPTURED", "RELEASED", "CAPTURED", "RELEASED"
    ]  # fmt: skip
