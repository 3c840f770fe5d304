"""Set-based status advance: the same saga news applied as one batch and one by one must leave
identical transactions, anomalies and status-change events (the batch path never changes an outcome)."""

from __future__ import annotations

import pytest
from django.db import transaction

from transactions.handlers import ledger_event_handle, saga_news_handle, wallet_event_handle
from transactions.models import Transaction, TransactionAnomaly
from transactions.tests.factories import TransactionFactory
from transactions.tests.test_handlers import ledger_event, wallet_event
from walletkit.events import EventType
from walletkit.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

STARTS = ["INITIATED", "RESERVED", "INITIATED", "RESERVED", "FAILED"]
# (transaction index, event), in arrival order: one saga whole, duplicates, late news, a contradiction.
NEWS = [
    (0, EventType.LEDGER_POSTED),
    (1, EventType.HOLD_CAPTURED),
    (0, EventType.HOLD_CAPTURED),
    (0, EventType.LEDGER_POSTED),  # late: SUCCESS stays
    (2, EventType.LEDGER_REJECTED),
    (2, EventType.HOLD_RELEASED),  # FAILED already: the first reason stays
    (3, EventType.HOLD_RELEASED),
    (1, EventType.HOLD_CAPTURED),  # a copy
    (4, EventType.LEDGER_POSTED),  # a hold for a FAILED transaction: an anomaly
]
HANDLERS = {
    EventType.LEDGER_POSTED: ledger_event_handle, EventType.LEDGER_REJECTED: ledger_event_handle,
    EventType.HOLD_CAPTURED: wallet_event_handle, EventType.HOLD_RELEASED: wallet_event_handle,
}  # fmt: skip


def _world() -> tuple[list[Transaction], list]:
    rows = [TransactionFactory(status=status, currency=None, counterparty_owner_id=None) for status in STARTS]
    return rows, [(HANDLERS[kind], _event(rows[index], kind)) for index, kind in NEWS]


def _event(tx: Transaction, kind: EventType):
    make = ledger_event if kind in (EventType.LEDGER_POSTED, EventType.LEDGER_REJECTED) else wallet_event
    extra = {"reason": "insufficient_funds"} if kind == EventType.LEDGER_REJECTED else {}
    return make(tx, kind, to_owner_id=77, **extra)


def _state(rows: list[Transaction]) -> dict:
    names = {str(tx.id): f"t{i}" for i, tx in enumerate(rows)}
    fresh = {tx.id: tx for tx in Transaction.objects.filter(id__in=[tx.id for tx in rows])}
    events = OutboxEvent.objects.filter(key__in=names, envelope__event_type="TransactionStatusChanged").order_by("id")
    return {
        "rows": [
            (
                fresh[tx.id].status,
                fresh[tx.id].failure_reason,
                fresh[tx.id].currency,
                fresh[tx.id].counterparty_owner_id,
                fresh[tx.id].posted_at is not None,
            )
            for tx in rows
        ],  # fmt: skip
        "anomalies": sorted(
            (names[str(a.transaction_id)], a.kind) for a in TransactionAnomaly.objects.filter(transaction__in=rows)
        ),
        "events": [(names[e.key], e.envelope["payload"]["transaction"]["status"]) for e in events],
    }


def test_news_applied_as_one_batch_equals_news_applied_one_by_one():
    batched_rows, batched_news = _world()
    with transaction.atomic():
        saga_news_handle([envelope for _handler, envelope in batched_news])  # the handler both tables share
    single_rows, single_news = _world()
    for handler, envelope in single_news:
        with transaction.atomic():
            handler(envelope)

    batched = _state(batched_rows)
    assert batched == _state(single_rows)
    # And the outcome is the right one, not just the same one.
    assert [row[:2] for row in batched["rows"]] == [
        ("SUCCESS", None), ("SUCCESS", None), ("FAILED", "insufficient_funds"), ("FAILED", "insufficient_funds"),
        ("FAILED", None),
    ]  # fmt: skip
    assert batched["anomalies"] == [("t4", "reserved_after_failed")]
