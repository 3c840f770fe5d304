"""Drives sagas that stopped moving (a lost reply, a worker down) to an end.

Each round leases the due open transactions (transaction_sweep_claim), then asks the wallet and the
ledger what they know — outside any database transaction — and records it through the same services
the request path and the ledger consumer use. Nothing stays INITIATED or RESERVED forever: past
HOLD_EXPIRY the wallet (void) or the ledger (expire) decides the end.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from transactions import clients
from transactions.clients import ReserveOutcome, ReserveVerdict
from transactions.models import Transaction, TransactionStatus
from transactions.services import (
    transaction_reserve_outcome_apply,
    transaction_response_store,
    transaction_status_advance,
    transaction_sweep_claim,
    transaction_sweep_reschedule,
)
from walletkit.http import ServiceUnavailable
from walletkit.money import amount_format

logger = logging.getLogger(__name__)


def sweeper_round(*, limit: int = 100) -> int:
    """One pass over the due sagas; returns how many it looked at."""
    due = transaction_sweep_claim(limit=limit)
    for tx in due:
        try:
            saga_drive(tx)
        except ServiceUnavailable as exc:
            logger.warning(
                "saga not driven: service unavailable", extra={"transaction_id": str(tx.id), "error": str(exc)}
            )
        except Exception:
            logger.exception("saga not driven", extra={"transaction_id": str(tx.id)})
        transaction_sweep_reschedule(transaction_id=tx.id, attempts=tx.sweep_attempts)
    return len(due)


def _expired(tx: Transaction) -> bool:
    return timezone.now() - tx.created_at >= timedelta(seconds=settings.HOLD_EXPIRY)


def saga_drive(tx: Transaction) -> None:
    if tx.status == TransactionStatus.INITIATED:
        _initiated_drive(tx)
    elif tx.status == TransactionStatus.RESERVED:
        _reserved_drive(tx)
    if tx.response_status is None:
        transaction_response_store(transaction_id=tx.id)


def _initiated_drive(tx: Transaction) -> None:
    if _expired(tx):
        # Never reserve this late, and never fail on "no hold yet": a reserve queued at the wallet (a
        # timed-out try, waiting on the sender's row lock) could still make one.
        _void_then_apply(tx, refusal=None)
        return
    outcome = clients.hold_reserve(
        transaction_id=tx.id, owner_id=tx.owner_id, type=tx.type, from_wallet_id=tx.from_wallet_id,
        to_wallet_id=tx.to_wallet_id, amount=tx.amount,
    )  # fmt: skip
    # Unreachable or unknown: a later round asks again (the request thread alone may fail it as unreachable).
    if outcome.verdict == ReserveVerdict.RESERVED:
        transaction_reserve_outcome_apply(transaction_id=tx.id, outcome=outcome)
    elif outcome.verdict in (ReserveVerdict.REFUSED, ReserveVerdict.NOT_FOUND):
        # A saga the sweeper drives had an earlier try whose fate is unknown (the request thread's, a
        # past round's): it may still wait at the wallet and land after this refusal. The refusal is
        # final only once the void makes it so.
        _void_then_apply(tx, refusal=outcome)


def _void_then_apply(tx: Transaction, *, refusal: ReserveOutcome | None) -> None:
    """FAILED only on the wallet's VOIDED tombstone, which no later reserve of this id can pass; if a
    reserve made its hold first, that hold wins. The unique index decides, once (decision 0008)."""
    hold = clients.hold_void(transaction_id=tx.id, owner_id=tx.owner_id, type=tx.type, amount=tx.amount)
    if hold.get("status") != "VOIDED":
        outcome = ReserveOutcome(ReserveVerdict.RESERVED, body=hold)
    else:
        outcome = refusal or ReserveOutcome(ReserveVerdict.REFUSED, code="expired")
    transaction_reserve_outcome_apply(transaction_id=tx.id, outcome=outcome)


def _reserved_drive(tx: Transaction) -> None:
    """The wallet's hold says whether the money moved; the ledger's decision says whether it will."""
    hold = clients.hold_get(transaction_id=tx.id)
    if hold is not None and hold.get("status") in ("CAPTURED", "RELEASED"):
        # The wallet finished but its news did not reach us (nor perhaps history): send it again, then record it.
        clients.outbox_republish(service="wallet", key=tx.id)
        _hold_outcome_apply(tx, hold)
        return
    entry = clients.entry_get(transaction_id=tx.id)
    if entry is None and _expired(tx):
        entry = clients.entry_expire(
            transaction_id=tx.id,
            payload={
                "reason": "expired",
                "type": tx.type,
                "amount": amount_format(tx.amount),
                "currency": tx.currency,
                "from_wallet_id": str(tx.from_wallet_id) if tx.from_wallet_id else None,
                "to_wallet_id": str(tx.to_wallet_id) if tx.to_wallet_id else None,
            },
        )
    if entry is None:
        # The ledger never saw FundsReserved/DepositAuthorized: have the wallet send it again.
        clients.outbox_republish(service="wallet", key=tx.id)
        return
    # The ledger decided but the wallet has not applied it: its event went missing, send it again.
    # SUCCESS waits for the wallet's capture (decision 0005); a rejection ends the saga now.
    clients.outbox_republish(service="ledger", key=tx.id)
    if entry.get("status") == "REJECTED":
        transaction_status_advance(
            transaction_id=tx.id, status=TransactionStatus.FAILED, reason=entry.get("reason") or "ledger_rejected"
        )
    elif entry.get("status") != "POSTED":
        raise ServiceUnavailable(f"ledger gave no decision for {tx.id}: {entry!r}")


def _hold_outcome_apply(tx: Transaction, hold: dict) -> None:
    if hold["status"] == "CAPTURED":
        transaction_status_advance(transaction_id=tx.id, status=TransactionStatus.SUCCESS)
    else:
        transaction_status_advance(
            transaction_id=tx.id, status=TransactionStatus.FAILED, reason=hold.get("reason") or "released"
        )
