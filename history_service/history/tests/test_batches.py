"""Set-based history: the same events recorded as one batch and one by one must leave identical
entries — owners, statuses, visibility (the batch path never changes who sees what)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import transaction

from history.handlers import entries_record_handle, ledger_event_handle, transaction_event_handle, wallet_event_handle
from history.models import HistoryEntry
from history.tests.conftest import (
    funds_reserved,
    hold_captured,
    hold_released,
    ledger_rejected,
    movement,
    status_changed,
    wallet_opened,
)
from walletkit.events import EventType

pytestmark = pytest.mark.django_db(transaction=True)
ALICE, BOB, MALLORY = 1, 2, 3
TABLES = {
    EventType.LEDGER_REJECTED: ledger_event_handle,
    EventType.TRANSACTION_STATUS_CHANGED: transaction_event_handle,
}


def _world() -> tuple[dict[str, uuid.UUID], list, list]:
    """Alice's and Bob's wallets (Bob's WalletOpened is late), and the events of five transactions."""
    ids = {name: uuid.uuid4() for name in ("alice_wallet", "bob_wallet", "t0", "t1", "t2", "t3", "t4")}
    alice, bob = ids["alice_wallet"], ids["bob_wallet"]
    pay = movement("TRANSFER", "5", source=alice, target=bob)
    deposit = movement("DEPOSIT", "20", target=alice)
    stolen = movement("TRANSFER", "9", source=bob, target=alice)  # Mallory tries Bob's wallet: refused
    created = datetime(2026, 11, 1, tzinfo=UTC)
    before = [wallet_opened(alice, ALICE)]
    events = [
        status_changed(ids["t0"], deposit, status="INITIATED", user_ids=[ALICE], created_at=created),
        funds_reserved(ids["t0"], deposit, owner_id=ALICE),
        hold_captured(ids["t0"], deposit, owner_id=ALICE),
        status_changed(ids["t0"], deposit, status="SUCCESS", user_ids=[ALICE], created_at=created),
        funds_reserved(ids["t1"], pay, owner_id=ALICE, to_owner_id=BOB),
        status_changed(ids["t1"], pay, status="INITIATED", user_ids=[ALICE], created_at=created),
        hold_captured(ids["t1"], pay, owner_id=ALICE, to_owner_id=BOB),
        funds_reserved(ids["t1"], pay, owner_id=ALICE, to_owner_id=BOB),  # late news: SUCCESS stays
        status_changed(ids["t2"], stolen, status="FAILED", user_ids=[MALLORY], failure_reason="wallet_not_found"),
        funds_reserved(ids["t3"], pay, owner_id=ALICE, to_owner_id=BOB),
        ledger_rejected(ids["t3"], pay, reason="insufficient_funds"),
        hold_released(ids["t3"], pay, reason="insufficient_funds", owner_id=ALICE, to_owner_id=BOB),
        status_changed(ids["t4"], pay, status="INITIATED", user_ids=[ALICE], created_at=created),
        status_changed(ids["t4"], pay, status="FAILED", user_ids=[ALICE], failure_reason="expired", reserved=False),
    ]
    return ids, before, events


def _state(ids: dict[str, uuid.UUID]) -> list[tuple]:
    names = {value: name for name, value in ids.items()}
    names |= {None: None}
    rows = HistoryEntry.objects.filter(transaction_id__in=[ids[f"t{i}"] for i in range(5)])
    return sorted(
        (names[e.transaction_id], names[e.wallet_id], e.owner_id, e.accepted, e.actor_id, e.type, e.direction,
         e.amount, e.currency, names[e.counterparty_wallet_id], e.status, e.failure_reason, e.occurred_at.year)
        for e in rows
    )  # fmt: skip


def _table(envelope):
    return TABLES.get(envelope.event_type, wallet_event_handle)


def test_events_recorded_as_one_batch_equal_events_recorded_one_by_one():
    batched_ids, before, events = _world()
    for envelope in before:
        wallet_event_handle(envelope)
    with transaction.atomic():
        entries_record_handle(events)  # the handler every movement event's table shares
    wallet_event_handle(wallet_opened(batched_ids["bob_wallet"], BOB))

    single_ids, before, events = _world()
    for envelope in [*before, *events, wallet_opened(single_ids["bob_wallet"], BOB)]:
        with transaction.atomic():
            _table(envelope)(envelope)

    batched = _state(batched_ids)
    assert batched == _state(single_ids)
    # And the outcome is the right one, not just the same one: Mallory's attempt is in nobody's history.
    owners = {(t, wallet): (owner, status) for t, wallet, owner, *_rest, status, _reason, _year in batched}
    assert owners[("t1", "bob_wallet")] == (BOB, "SUCCESS")
    assert owners[("t2", "bob_wallet")] == (None, "FAILED")
    assert owners[("t3", "alice_wallet")] == (ALICE, "FAILED")
    assert owners[("t4", "alice_wallet")] == (ALICE, "FAILED")
