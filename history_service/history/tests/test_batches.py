"""Set-based history: the same events recorded as one batch and one by one must leave identical
entries — owners, statuses, visibility — and leave every user with the same last pushed status of each
transaction, pushed to the same people (the batch path never changes who sees or hears what)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import transaction

from history import services
from history.handlers import transaction_event_handle, wallet_event_handle
from history.models import HistoryEntry
from history.tests.conftest import movement, status_changed, wallet_opened

pytestmark = pytest.mark.django_db(transaction=True)
ALICE, BOB, MALLORY = 1, 2, 3
TRANSACTIONS = [f"t{i}" for i in range(5)]


def _world() -> tuple[dict[str, uuid.UUID], list, list]:
    """Alice's and Bob's wallets (Bob's WalletOpened is late), and the status changes of five transactions,
    with a republished copy and late news among them."""
    ids = {name: uuid.uuid4() for name in ("alice_wallet", "bob_wallet", *TRANSACTIONS)}
    alice, bob = ids["alice_wallet"], ids["bob_wallet"]
    pay = movement("TRANSFER", "5", source=alice, target=bob)
    deposit = movement("DEPOSIT", "20", target=alice)
    stolen = movement("TRANSFER", "9", source=bob, target=alice)  # Mallory tries Bob's wallet: refused
    created = datetime(2026, 11, 1, tzinfo=UTC)
    before = [wallet_opened(alice, ALICE)]
    events = [
        status_changed(ids["t0"], deposit, status="RESERVED", user_ids=[ALICE], created_at=created),
        status_changed(ids["t0"], deposit, status="SUCCESS", user_ids=[ALICE], created_at=created),
        status_changed(ids["t1"], pay, status="RESERVED", user_ids=[ALICE], created_at=created),  # Bob not named yet
        status_changed(ids["t1"], pay, status="SUCCESS", user_ids=[ALICE, BOB], created_at=created),
        status_changed(ids["t1"], pay, status="SUCCESS", user_ids=[ALICE, BOB], created_at=created),  # a copy
        status_changed(ids["t1"], pay, status="RESERVED", user_ids=[ALICE, BOB], created_at=created),  # late news
        status_changed(ids["t2"], stolen, status="FAILED", user_ids=[MALLORY], failure_reason="wallet_not_found"),
        status_changed(ids["t3"], pay, status="RESERVED", user_ids=[ALICE, BOB], created_at=created),
        status_changed(
            ids["t3"],
            pay,
            status="FAILED",
            user_ids=[ALICE, BOB],
            failure_reason="insufficient_funds",
            reserved=True,
            created_at=created,
        ),  # fmt: skip
        status_changed(ids["t4"], pay, status="INITIATED", user_ids=[ALICE], created_at=created),
        status_changed(ids["t4"], pay, status="FAILED", user_ids=[ALICE], failure_reason="expired", reserved=False),
    ]
    return ids, before, events


def _state(ids: dict[str, uuid.UUID]) -> list[tuple]:
    names = {value: name for name, value in ids.items()}
    names |= {None: None}
    rows = HistoryEntry.objects.filter(transaction_id__in=[ids[name] for name in TRANSACTIONS])
    return sorted(
        (names[e.transaction_id], names[e.wallet_id], e.owner_id, e.accepted, e.actor_id, e.type, e.direction,
         e.amount, e.currency, names[e.counterparty_wallet_id], e.status, e.failure_reason, e.occurred_at.year)
        for e in rows
    )  # fmt: skip


@pytest.fixture
def pushes(monkeypatch) -> list[tuple[str, dict]]:
    """Every (group, message) history sends once its transaction commits (still sent for real)."""
    sent: list[tuple[str, dict]] = []
    real_send = services.group_send_all

    def record(sends: list[tuple[str, dict]]) -> None:
        sent.extend(sends)
        real_send(sends)

    monkeypatch.setattr(services, "group_send_all", record)
    return sent


def _last_pushed(sent: list[tuple[str, dict]], ids: dict[str, uuid.UUID]) -> dict[tuple[str, str], str]:
    """(group, transaction name) → the last status pushed there: what each user's screen ends up showing."""
    names = {str(value): name for name, value in ids.items()}
    return {
        (group, names[message["transaction"]["id"]]): message["transaction"]["status"]
        for group, message in sent
        if message["transaction"]["id"] in names
    }


def test_events_recorded_as_one_batch_equal_events_recorded_one_by_one(pushes):
    batched_ids, before, events = _world()
    for envelope in before:
        wallet_event_handle(envelope)
    with transaction.atomic():  # one consumer batch: one run of one type, one call of the batched handler
        transaction_event_handle.apply_all(events)
    wallet_event_handle(wallet_opened(batched_ids["bob_wallet"], BOB))
    batched_pushes, sent_in_batch = _last_pushed(pushes, batched_ids), len(pushes)

    single_ids, before, events = _world()
    for envelope in [*before, *events, wallet_opened(single_ids["bob_wallet"], BOB)]:
        with transaction.atomic():
            (wallet_event_handle if envelope.event_type == "WalletOpened" else transaction_event_handle)(envelope)

    batched = _state(batched_ids)
    assert batched == _state(single_ids)
    assert batched_pushes == _last_pushed(pushes[sent_in_batch:], single_ids)
    # And the outcome is the right one, not just the same one: Mallory's attempt is in nobody's history
    # and pushed to her alone; each user's last push of a transaction is its final status, once per batch.
    owners = {(t, wallet): (owner, status) for t, wallet, owner, *_rest, status, _reason, _year in batched}
    assert owners[("t1", "bob_wallet")] == (BOB, "SUCCESS")
    assert owners[("t2", "bob_wallet")] == (None, "FAILED")
    assert owners[("t3", "alice_wallet")] == (ALICE, "FAILED")
    assert owners[("t4", "alice_wallet")] == (ALICE, "FAILED")
    assert batched_pushes == {
        ("user_1", "t0"): "SUCCESS", ("user_1", "t1"): "SUCCESS", ("user_2", "t1"): "SUCCESS",
        ("user_3", "t2"): "FAILED", ("user_1", "t3"): "FAILED", ("user_2", "t3"): "FAILED", ("user_1", "t4"): "FAILED",
    }  # fmt: skip
    assert sent_in_batch == len(batched_pushes)  # each (user, transaction) once in the batch
