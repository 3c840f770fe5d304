"""Every write of the saga coordinator. Status changes go through transaction_status_advance only."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from transactions import clients
from transactions.clients import ReserveOutcome, ReserveVerdict
from transactions.models import (
    OPEN_STATUSES,
    STATUS_RANK,
    Transaction,
    TransactionAnomaly,
    TransactionStatus,
    TransactionType,
)
from transactions.selectors import transaction_open_count, transaction_shape
from walletkit.db import rows_update
from walletkit.events import Envelope, Topic, TransactionStatusChanged, envelope_build
from walletkit.money import InvalidAmount, InvalidCurrency, amount_format, amount_parse, currency_parse
from walletkit.outbox.services import outbox_events_create

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX = 255
OPEN_SAGAS_RECOUNT_SECONDS = 0.25  # how stale this process's count of open sagas may be
OVERLOADED_RETRY_AFTER_SECONDS = 1
SWEEP_LEASE_SECONDS = 60  # longer than one saga's worst-case round of HTTP calls
SWEEP_BACKOFF_MAX_SECONDS = 60
Response = tuple[int, dict[str, Any]]


class InvalidRequest(Exception):
    def __init__(self, body: dict[str, Any]):
        super().__init__(body.get("detail"))
        self.body = body


@dataclass(frozen=True)
class TransactionRequest:
    type: str
    from_wallet_id: UUID | None
    to_wallet_id: UUID | None
    amount: Decimal
    idempotency_key: str
    refund_of: UUID | None = None

    @property
    def fingerprint(self) -> str:
        """Equal for requests that mean the same movement ("10" and "10.0000" are one amount)."""
        canonical = {
            "type": self.type,
            "from_wallet_id": str(self.from_wallet_id) if self.from_wallet_id else None,
            "to_wallet_id": str(self.to_wallet_id) if self.to_wallet_id else None,
            "amount": amount_format(self.amount),
        }
        if self.refund_of is not None:  # only then: the fingerprints stored before refunds stay valid
            canonical["refund_of"] = str(self.refund_of)
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


# --- validation -------------------------------------------------------------------------------

_WALLETS_BY_TYPE = {
    TransactionType.DEPOSIT: {"to_wallet_id"},
    TransactionType.WITHDRAWAL: {"from_wallet_id"},
    TransactionType.TRANSFER: {"from_wallet_id", "to_wallet_id"},
}


def _invalid_fields(errors: dict[str, str]) -> InvalidRequest:
    return InvalidRequest(
        {"code": "invalid", "detail": "Some fields are invalid.", "errors": {k: [v] for k, v in errors.items()}}
    )


def _wallet_id_parse(value: object) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise ValueError("Must be a wallet id (UUID).") from None


def transaction_request_validate(
    *, type: object, from_wallet_id: object, to_wallet_id: object, amount: object, idempotency_key: object
) -> TransactionRequest:
    """Raises InvalidRequest (a 400 body) for anything a retry with the same input could not fix."""
    errors: dict[str, str] = {}
    if type not in _WALLETS_BY_TYPE:  # a REFUND is made only by transaction_refund_initiate
        errors["type"] = f"Must be one of {', '.join(_WALLETS_BY_TYPE)}."
    try:
        parsed_amount = amount_parse(amount)
    except InvalidAmount as exc:
        errors["amount"] = str(exc)
    wallets: dict[str, UUID | None] = {"from_wallet_id": None, "to_wallet_id": None}
    for name, value in (("from_wallet_id", from_wallet_id), ("to_wallet_id", to_wallet_id)):
        wanted = name in _WALLETS_BY_TYPE.get(type, {name})
        if value is None or value == "":
            if wanted:
                errors[name] = f"Required for a {str(type).lower()}."
            continue
        if not wanted:
            errors[name] = f"Not allowed for a {str(type).lower()}."
            continue
        try:
            wallets[name] = _wallet_id_parse(value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise _invalid_fields(errors)
    if wallets["from_wallet_id"] is not None and wallets["from_wallet_id"] == wallets["to_wallet_id"]:
        raise InvalidRequest({"code": "same_wallet", "detail": "A transfer needs two different wallets."})
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise InvalidRequest({"code": "idempotency_key_required", "detail": "Send an Idempotency-Key."})
    if len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        raise _invalid_fields({"idempotency_key": f"At most {IDEMPOTENCY_KEY_MAX} characters."})
    return TransactionRequest(type=type, amount=parsed_amount, idempotency_key=idempotency_key, **wallets)


# --- the saga's start -------------------------------------------------------------------------


def transaction_initiate(
    *,
    owner_id: int,
    type: str,
    from_wallet_id: UUID | str | None,
    to_wallet_id: UUID | str | None,
    amount: object,
    idempotency_key: str | None,
) -> Response:
    """Create (once per owner + key) and reserve synchronously; returns the response to send, the first one
    again on a replay.

    Not atomic as a whole on purpose: the wallet call happens between two short database transactions so
    no row lock is held across the network. The wallet is idempotent on the transaction id, and the sweeper
    finishes whatever a crash between the two leaves behind.
    """
    try:
        request = transaction_request_validate(
            type=type, from_wallet_id=from_wallet_id, to_wallet_id=to_wallet_id, amount=amount,
            idempotency_key=idempotency_key,
        )  # fmt: skip
    except InvalidRequest as exc:
        return 400, exc.body
    if sagas_overloaded():
        existing = Transaction.objects.filter(owner_id=owner_id, idempotency_key=request.idempotency_key).first()
        if existing is None:
            return _overloaded()
        return _replay(existing, fingerprint=request.fingerprint)  # a replay is answered whatever the load
    tx, created = _transaction_create_once(owner_id=owner_id, request=request)
    if not created:
        return _replay(tx, fingerprint=request.fingerprint)
    return _reserve_and_answer(tx)


def transaction_refund_initiate(
    *, owner_id: int, original_id: UUID, amount: object, idempotency_key: object
) -> Response:
    """A REFUND of a SUCCESS transfer the caller received, back to its sender's wallet, through the same saga.

    The bound (refunds not FAILED add up to at most the original) is checked and the refund created in one
    transaction under the original's row lock, so concurrent refunds of one transfer queue there and each
    sees the ones committed before it. A refund that fails later stops counting.
    """
    original = Transaction.objects.filter(id=original_id, counterparty_owner_id=owner_id).first()
    if original is None or original.type != TransactionType.TRANSFER:
        # Not received by the caller (a sender, a stranger, a deposit): nothing to refund here.
        return 404, {"code": "not_found", "detail": "No transfer received by you has this id."}
    try:
        request = transaction_request_validate(
            type=TransactionType.TRANSFER, from_wallet_id=original.to_wallet_id, to_wallet_id=original.from_wallet_id,
            amount=amount, idempotency_key=idempotency_key,
        )  # fmt: skip
    except InvalidRequest as exc:
        return 400, exc.body
    request = TransactionRequest(
        type=TransactionType.REFUND, from_wallet_id=request.from_wallet_id, to_wallet_id=request.to_wallet_id,
        amount=request.amount, idempotency_key=request.idempotency_key, refund_of=original.id,
    )  # fmt: skip
    existing = Transaction.objects.filter(owner_id=owner_id, idempotency_key=request.idempotency_key).first()
    if existing is not None:
        return _replay(existing, fingerprint=request.fingerprint)
    if sagas_overloaded():
        return _overloaded()
    try:
        tx, created = _refund_create_once(owner_id=owner_id, request=request)
    except RefundRefused as refusal:
        return 422, refusal.body
    if not created:
        return _replay(tx, fingerprint=request.fingerprint)
    return _reserve_and_answer(tx)


def _overloaded() -> Response:
    """Backpressure's answer to a new money movement (a replay is still answered)."""
    return 429, {
        "code": "overloaded",
        "detail": "Too many payments are in progress; retry shortly with the same Idempotency-Key.",
        "retry_after": OVERLOADED_RETRY_AFTER_SECONDS,
    }


def _reserve_and_answer(tx: Transaction) -> Response:
    """The saga's synchronous step for a just-created transaction: reserve at the wallet, record the
    outcome, answer with it."""
    outcome = clients.hold_reserve(
        transaction_id=tx.id, owner_id=tx.owner_id, type=tx.type, from_wallet_id=tx.from_wallet_id,
        to_wallet_id=tx.to_wallet_id, amount=tx.amount,
    )  # fmt: skip
    tx = transaction_reserve_outcome_apply(transaction_id=tx.id, outcome=outcome)
    return tx.response_status, tx.response_body


class RefundRefused(Exception):
    def __init__(self, body: dict[str, Any]):
        super().__init__(body["detail"])
        self.body = body


def _refund_create_once(*, owner_id: int, request: TransactionRequest) -> tuple[Transaction, bool]:
    """As _transaction_create_once: the unique (owner_id, idempotency_key) index decides between two
    requests with one key (the same original or not)."""
    for _ in range(3):
        try:
            return _refund_create(owner_id=owner_id, request=request)
        except IntegrityError:
            existing = Transaction.objects.filter(owner_id=owner_id, idempotency_key=request.idempotency_key).first()
            if existing is not None:
                return existing, False
    raise RuntimeError("idempotency key kept changing hands")


@transaction.atomic
def _refund_create(*, owner_id: int, request: TransactionRequest) -> tuple[Transaction, bool]:
    # The original's row lock serializes every refund of it (and nothing else waits on a final row).
    # Under READ COMMITTED the statements after the lock see every refund committed before we got it.
    original = Transaction.objects.select_for_update(no_key=True).get(id=request.refund_of)
    existing = Transaction.objects.filter(owner_id=owner_id, idempotency_key=request.idempotency_key).first()
    if existing is not None:
        return existing, False  # the same key won the lock first: a replay, not a second refund
    if original.status != TransactionStatus.SUCCESS:
        raise RefundRefused({"code": "not_refundable", "detail": "Only a settled (SUCCESS) transfer can be refunded."})
    refunded = original.refunds.exclude(status=TransactionStatus.FAILED).aggregate(total=Sum("amount"))[
        "total"
    ] or Decimal(0)
    if refunded + request.amount > original.amount:
        raise RefundRefused(
            {
                "code": "refund_exceeds_original",
                "detail": "Refunds of this transfer would add up to more than it.",
                "refundable": amount_format(max(original.amount - refunded, Decimal(0))),
            }
        )
    tx = Transaction.objects.create(
        type=TransactionType.REFUND, amount=request.amount, from_wallet_id=request.from_wallet_id,
        to_wallet_id=request.to_wallet_id, owner_id=owner_id, counterparty_owner_id=original.owner_id,
        refund_of=original, currency=original.currency, idempotency_key=request.idempotency_key,
        request_fingerprint=request.fingerprint,
        next_check_at=timezone.now() + timedelta(seconds=settings.SAGA_DEADLINE),
    )  # fmt: skip
    return tx, True  # no event for INITIATED: see _transaction_create


_open_sagas = {"count": 0, "counted_at": float("-inf")}


def sagas_overloaded() -> bool:
    """Backpressure: refuse NEW sagas (429, nothing created) while SAGAS_IN_FLIGHT_MAX are unfinished.

    Accepting more than the consumers finish only grows the backlog until sagas pass their deadline,
    and then the sweeper adds work to an overloaded system; a client told to come back in a second
    keeps the backlog, and so every user's wait, bounded. The count is this process's, at most
    OPEN_SAGAS_RECOUNT_SECONDS old (one cheap query per period, not per request); a race between
    processes lets the bound be exceeded by a few, which is all it needs to be.
    """
    now = time.monotonic()
    if now - _open_sagas["counted_at"] >= OPEN_SAGAS_RECOUNT_SECONDS:
        _open_sagas.update(count=transaction_open_count(), counted_at=now)
    return _open_sagas["count"] >= settings.SAGAS_IN_FLIGHT_MAX


def _transaction_create_once(*, owner_id: int, request: TransactionRequest) -> tuple[Transaction, bool]:
    """The unique (owner_id, idempotency_key) index decides between concurrent requests: a loser's INSERT
    waits for the winner's commit, then fails, and the loser reads the winner's row."""
    for _ in range(3):
        try:
            return _transaction_create(owner_id=owner_id, request=request), True
        except IntegrityError:
            existing = Transaction.objects.filter(owner_id=owner_id, idempotency_key=request.idempotency_key).first()
            if existing is not None:
                return existing, False
            # The winner released the key (wallet unreachable) between our INSERT and our read: insert again.
    raise RuntimeError("idempotency key kept changing hands")


@transaction.atomic
def _transaction_create(*, owner_id: int, request: TransactionRequest) -> Transaction:
    tx = Transaction.objects.create(
        type=request.type,
        amount=request.amount,
        from_wallet_id=request.from_wallet_id,
        to_wallet_id=request.to_wallet_id,
        owner_id=owner_id,
        idempotency_key=request.idempotency_key,
        request_fingerprint=request.fingerprint,
        next_check_at=timezone.now() + timedelta(seconds=settings.SAGA_DEADLINE),
    )
    # No TransactionStatusChanged for INITIATED: every saga leaves INITIATED for RESERVED or FAILED —
    # within the request, else by the sweeper — and that change is published. An INITIATED event was
    # superseded milliseconds later in almost every saga, yet cost an outbox row, a relay publish and
    # a history batch and push for each (issue 15); the caller already has the status in its answer.
    return tx


def _replay(tx: Transaction, *, fingerprint: str) -> Response:
    if tx.request_fingerprint != fingerprint:
        return 409, {
            "code": "idempotency_conflict",
            "detail": "This idempotency key was already used with a different request.",
        }
    if tx.response_status is None and tx.status != TransactionStatus.INITIATED:
        # The first request died after the wallet answered (its worker was killed): the saga moved on
        # without it, so the state the wallet's answer produced is the response, stored once for all.
        tx = transaction_response_store(transaction_id=tx.id)
    if tx.response_status is None:
        return 409, {
            "code": "idempotency_in_progress",
            "detail": "A request with this idempotency key is still being processed; retry shortly.",
        }
    return tx.response_status, tx.response_body


@transaction.atomic
def transaction_reserve_outcome_apply(*, transaction_id: UUID, outcome: ReserveOutcome) -> Transaction:
    """Record the wallet's answer to a reserve and, if none is stored yet, the response it makes.

    One row lock and one UPDATE for all of it (this is on every payment's request path: no second
    lock, no savepoint, no second write of the row).
    """
    tx = Transaction.objects.select_for_update(no_key=True).get(id=transaction_id)
    verdict = outcome.verdict
    changed, moved = [], False
    if verdict == ReserveVerdict.RESERVED:
        currency, receiver = outcome.body.get("currency"), _counterparty(tx, outcome.body)
        changed, moved = _status_apply(tx, status=TransactionStatus.RESERVED, currency=currency,
                                       counterparty_owner_id=receiver)  # fmt: skip
    elif verdict in (ReserveVerdict.REFUSED, ReserveVerdict.NOT_FOUND):
        changed, moved = _status_apply(tx, status=TransactionStatus.FAILED, reason=outcome.code)
    elif verdict == ReserveVerdict.UNREACHABLE:
        changed, moved = _fail_unreached(tx)
    # UNKNOWN: a hold may exist; the sweeper will find out.
    if changed:
        changed.append("updated_at")
    if tx.response_status is None:  # only the first response is kept (see _response_store)
        tx.response_status, tx.response_body = transaction_response(tx, detail=outcome.detail,
                                                                    extra=outcome.refusal_extra)  # fmt: skip
        changed += ["response_status", "response_body"]
    if changed:
        tx.save(update_fields=changed)
    if moved:
        outbox_events_create([_status_changed_event(tx)])
        _payment_request_follow(tx)
    return tx


def _counterparty(tx: Transaction, body: dict[str, Any]) -> int | None:
    if tx.type not in (TransactionType.TRANSFER, TransactionType.REFUND):
        return None
    value = body.get("to_owner_id")
    return int(value) if value is not None else None


def _fail_unreached(tx: Transaction) -> tuple[list[str], bool]:
    """No try reached the wallet, so no hold exists: fail it (in memory) and free the key for a later
    retry. Returns (fields changed, whether the status moved), as _status_apply.

    Only from INITIATED: if anything moved it meanwhile, a hold exists and failing it would strand money.
    And only if no sweeper round claimed it (``sweep_attempts``, counted before the sweeper calls the
    wallet): that round's reserve may be on its way and land after this FAILED (decision 0008).
    """
    if tx.status != TransactionStatus.INITIATED or tx.sweep_attempts:
        return [], False
    changed, moved = _status_apply(tx, status=TransactionStatus.FAILED, reason="wallet_unavailable")
    tx.idempotency_key = None
    return [*changed, "idempotency_key"], moved


def transaction_response(tx: Transaction, *, detail: str | None = None, extra: dict | None = None) -> Response:
    """What POST /transactions answers for a transaction in this state; ``extra``: what the wallet's refusal
    adds for the client (``available`` with insufficient_funds)."""
    shape = transaction_shape(tx)
    if tx.status != TransactionStatus.FAILED:
        return 202, shape
    reason = tx.failure_reason or "failed"
    if reason == "wallet_unavailable":
        body = {"code": "service_unavailable", "detail": "The wallet service is unavailable; retry later."}
        return 503, {**body, "transaction": shape}
    status_code = 404 if reason == "wallet_not_found" else 422
    body = {"code": reason, "detail": detail or _REASON_DETAIL.get(reason, reason), **(extra or {})}
    return status_code, {**body, "transaction": shape}


_REASON_DETAIL = {
    "wallet_not_found": "Wallet not found.",
    "insufficient_funds": "Insufficient available funds.",
    "currency_mismatch": "The wallets hold different currencies.",
    "expired": "The transaction did not complete in time.",
    "limit_exceeded": "This would exceed the wallet's spending limit.",
}


def _response_store(tx: Transaction, *, detail: str | None = None, extra: dict | None = None) -> Transaction:
    """Only the first response is kept: replays must return exactly what the first request got."""
    if tx.response_status is None:
        tx.response_status, tx.response_body = transaction_response(tx, detail=detail, extra=extra)
        tx.save(update_fields=["response_status", "response_body"])
    return tx


@transaction.atomic
def transaction_response_store(*, transaction_id: UUID) -> Transaction:
    """For a saga whose request never recorded its answer (the web worker died): the current state answers."""
    return _response_store(Transaction.objects.select_for_update(no_key=True).get(id=transaction_id))


# --- status -----------------------------------------------------------------------------------


@transaction.atomic  # a savepoint when nested: callers catch its DoesNotExist and go on
def transaction_status_advance(*, transaction_id: UUID, **news: Any) -> Transaction:
    """The only way a status changes (``news``: status, and optionally reason, currency,
    counterparty_owner_id, posted_at). Monotonic by rank, so duplicates and out-of-order news change
    nothing; a final status never moves, and news contradicting it is recorded as an anomaly.
    Raises DoesNotExist.

    The row lock (select_for_update) serialises the request thread, the ledger consumer and the sweeper.
    """
    tx = Transaction.objects.select_for_update(no_key=True).get(id=transaction_id)
    return _status_advance_locked(tx, **news)


@transaction.atomic(savepoint=False)  # inside a consumer's batch transaction: no savepoint of its own
def transactions_status_advance(*, news: Sequence[StatusNews]) -> None:
    """transaction_status_advance for a consumer's batch, set-based: the rows locked in one statement
    (ascending id: one order for every batch), each piece of news applied in order, the changed rows
    written in one UPDATE and their status changes in one INSERT. News of an unknown transaction
    (another coordinator's, or one this database lost) is logged and skipped."""
    locked = Transaction.objects.select_for_update(no_key=True).filter(id__in={item.transaction_id for item in news})
    rows = {tx.id: tx for tx in locked.order_by("id")}
    changed: dict[UUID, set[str]] = {}
    events = []
    now = timezone.now()
    for item in news:
        tx = rows.get(item.transaction_id)
        if tx is None:
            logger.warning("news of an unknown transaction", extra={"transaction_id": str(item.transaction_id)})
            continue
        fields, moved = _status_apply(tx, **item.fields)
        if fields:
            tx.updated_at = now
            changed.setdefault(tx.id, set()).update(fields)
        if moved:  # the shape as of this change: a later piece of news may move it again
            events.append(_status_changed_event(tx, correlation_id=item.correlation_id))
            _payment_request_follow(tx)
    if changed:
        fields = sorted(set().union(*changed.values()) | {"updated_at"})
        rows_update([rows[tx_id] for tx_id in sorted(changed)], fields)
    if events:
        outbox_events_create(events)


@dataclass(frozen=True)
class StatusNews:
    """What an event says about one transaction: ``fields`` as transaction_status_advance takes them."""

    transaction_id: UUID
    fields: dict[str, Any]
    correlation_id: str | None = None


def _status_advance_locked(tx: Transaction, **news: Any) -> Transaction:
    """transaction_status_advance on a row the caller has locked in its transaction."""
    changed, moved = _status_apply(tx, **news)
    if changed:
        tx.save(update_fields=[*changed, "updated_at"])
    if moved:
        outbox_events_create([_status_changed_event(tx)])
        _payment_request_follow(tx)
    return tx


def _status_apply(
    tx: Transaction,
    *,
    status: str,
    reason: str | None = None,
    currency: str | None = None,
    counterparty_owner_id: int | None = None,
    posted_at: datetime | None = None,
) -> tuple[list[str], bool]:
    """Apply the news to the row in memory; returns (fields changed, whether the status moved)."""
    changed = _details_fill(tx, currency=currency, counterparty_owner_id=counterparty_owner_id)
    if posted_at is not None and tx.posted_at is None:
        tx.posted_at = posted_at
        changed.append("posted_at")
    moves = STATUS_RANK[status] > STATUS_RANK[tx.status]
    contradicts = STATUS_RANK[status] == STATUS_RANK[tx.status] and status != tx.status
    # A hold reported for a FAILED transaction is money held for nothing: reconciliation must see it.
    stranded = status == TransactionStatus.RESERVED and tx.status == TransactionStatus.FAILED
    if tx.is_final and (contradicts or stranded):
        _anomaly_record(tx, status=status, reason=reason)
    if moves:
        tx.status = status
        tx.failure_reason = (reason or "failed") if status == TransactionStatus.FAILED else None
        changed += ["status", "failure_reason"]
        if status == TransactionStatus.RESERVED:
            tx.reserved_at = timezone.now()
            changed.append("reserved_at")
    return changed, moves


def _payment_request_follow(tx: Transaction) -> None:
    # Imported here: paymentrequests pays through this module (transaction_initiate).
    from paymentrequests.services import payment_request_transfer_moved

    payment_request_transfer_moved(tx)


def _details_fill(tx: Transaction, *, currency: str | None, counterparty_owner_id: int | None) -> list[str]:
    """What the wallet tells us later (currency, receiver) fills blanks; it never overwrites."""
    changed = []
    if currency and tx.currency is None:
        try:
            tx.currency = currency_parse(currency)
            changed.append("currency")
        except InvalidCurrency:
            logger.warning("ignoring invalid currency", extra={"transaction_id": str(tx.id), "currency": currency})
    if counterparty_owner_id is not None and tx.counterparty_owner_id is None:
        tx.counterparty_owner_id = counterparty_owner_id
        changed.append("counterparty_owner_id")
    return changed


def _anomaly_record(tx: Transaction, *, status: str, reason: str | None) -> None:
    kind = f"{status.lower()}_after_{tx.status.lower()}"
    detail = f"{status} (reason {reason!r}) reported for a transaction already {tx.status} ({tx.failure_reason!r})"
    _anomaly, created = TransactionAnomaly.objects.get_or_create(transaction=tx, kind=kind, defaults={"detail": detail})
    if created:
        logger.error("transaction anomaly", extra={"transaction_id": str(tx.id), "kind": kind, "detail": detail})


def _status_changed_event(tx: Transaction, *, correlation_id: str | None = None) -> tuple[Topic, str, Envelope]:
    envelope = envelope_build(
        payload=TransactionStatusChanged(transaction=transaction_shape(tx), user_ids=tx.user_ids),
        transaction_id=tx.id,
        correlation_id=correlation_id,
    )
    return Topic.TRANSACTION_EVENTS, str(tx.id), envelope


# --- sweeper bookkeeping ----------------------------------------------------------------------


@transaction.atomic
def transaction_sweep_claim(*, limit: int = 100) -> list[Transaction]:
    """Lease due open sagas to this sweeper. SKIP LOCKED lets concurrent sweepers claim disjoint rows, and
    the pushed-back next_check_at keeps them from re-claiming a row while its holder works on it."""
    now = timezone.now()
    due = list(
        Transaction.objects.select_for_update(skip_locked=True, no_key=True)
        .filter(status__in=OPEN_STATUSES, next_check_at__lte=now)
        .order_by("next_check_at")[:limit]
    )
    Transaction.objects.filter(id__in=[tx.id for tx in due]).update(
        next_check_at=now + timedelta(seconds=SWEEP_LEASE_SECONDS), sweep_attempts=F("sweep_attempts") + 1
    )
    for tx in due:
        tx.sweep_attempts += 1
    return due


def transaction_sweep_reschedule(*, transaction_id: UUID, attempts: int) -> None:
    """Back off exponentially from SWEEPER_INTERVAL; a final row is never due again anyway."""
    seconds = min(settings.SWEEPER_INTERVAL * 2 ** min(max(attempts - 1, 0), 10), SWEEP_BACKOFF_MAX_SECONDS)
    Transaction.objects.filter(id=transaction_id, status__in=OPEN_STATUSES).update(
        next_check_at=timezone.now() + timedelta(seconds=seconds)
    )
