"""Every write of payment requests. Paying one is a transfer through transaction_initiate; the request
follows its transfer (payment_request_transfer_moved, called where the transfer's status changes, in
the same database transaction). Every change is published as PaymentRequestChanged for both people
(history_service pushes it to their websockets).

Lock order: a transfer's row, then its request's row (the status hook); everything else here locks the
request row alone, and never holds it across a call to another service.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from paymentrequests import clients
from paymentrequests.models import PaymentRequest, RequestStatus
from paymentrequests.selectors import payment_request_shape
from transactions.models import Transaction, TransactionStatus, TransactionType
from transactions.services import Response, transaction_initiate
from walletkit.errors import DomainError
from walletkit.events import PaymentRequestChanged, Topic, envelope_build
from walletkit.money import InvalidAmount, amount_format, amount_parse
from walletkit.outbox.services import outbox_event_create

TRANSFER_KEY_PREFIX = "payment-request:"
IDEMPOTENCY_KEY_MAX = 255


def _not_found() -> DomainError:
    return DomainError("Payment request not found.", code="not_found")


def _not_pending(request: PaymentRequest) -> DomainError:
    state = "being paid" if request.status == RequestStatus.PENDING else request.status.lower()
    return DomainError(f"This payment request is {state}.", code="request_not_pending")


def _invalid(field: str, message: str) -> DomainError:
    return DomainError("Some fields are invalid.", code="invalid", errors={field: [message]})


def _changed_emit(request: PaymentRequest) -> None:
    envelope = envelope_build(
        payload=PaymentRequestChanged(
            payment_request=payment_request_shape(request), user_ids=[request.requester_id, request.payer_id]
        )
    )
    outbox_event_create(topic=Topic.TRANSACTION_EVENTS, key=str(request.id), envelope=envelope)


def _pay_lease() -> timedelta:
    # As a scheduled run's: after this, a pay whose process died before making its transfer is over.
    return timedelta(seconds=3 * settings.SERVICE_HTTP_TIMEOUT + 5)


def payment_request_create(
    *,
    requester_id: int,
    requester_username: str,
    payer_id: int,
    payer_username: str,
    to_wallet_id: UUID,
    amount: object,
    note: str = "",
    expires_at: datetime | None = None,
) -> PaymentRequest:
    """``to_wallet_id`` must be the requester's (asked of wallet_service); the gateway, which owns users,
    resolved the payer's username."""
    try:
        parsed = amount_parse(amount)
    except InvalidAmount as exc:
        raise _invalid("amount", str(exc)) from None
    if payer_id == requester_id:
        raise DomainError("You cannot ask yourself for money.", code="same_person")
    if expires_at is not None and expires_at <= timezone.now():
        raise _invalid("expires_at", "Must be in the future.")
    wallet = clients.wallet_get(wallet_id=to_wallet_id)
    if wallet is None or int(wallet["owner_id"]) != requester_id:
        raise DomainError("Wallet not found.", code="wallet_not_found")
    with transaction.atomic():
        request = PaymentRequest.objects.create(
            requester_id=requester_id, requester_username=requester_username, payer_id=payer_id,
            payer_username=payer_username, to_wallet_id=to_wallet_id, amount=parsed, currency=wallet["currency"],
            note=note, expires_at=expires_at,
        )  # fmt: skip
        _changed_emit(request)
    return request


def _locked(*, request_id: UUID, user_id: int) -> PaymentRequest:
    request = PaymentRequest.objects.select_for_update().filter(id=request_id).first()
    if request is None or user_id not in (request.requester_id, request.payer_id):
        raise _not_found()
    return request


def _being_paid(request: PaymentRequest) -> bool:
    """A transfer of the current attempt exists and has not FAILED — or may still be made (its pay began
    less than a lease ago and no transfer is there yet)."""
    if not request.transfer_key:
        return False
    tx = (
        request.transaction
        or Transaction.objects.filter(owner_id=request.payer_id, idempotency_key=request.transfer_key).first()
    )
    if tx is not None:
        return tx.status != TransactionStatus.FAILED
    return request.pay_started_at is not None and timezone.now() - request.pay_started_at < _pay_lease()


def _expire_if_due(request: PaymentRequest) -> None:
    due = request.expires_at is not None and request.expires_at <= timezone.now()
    if request.status == RequestStatus.PENDING and due and not _being_paid(request):
        request.status = RequestStatus.EXPIRED
        request.save(update_fields=["status", "updated_at"])
        _changed_emit(request)


@transaction.atomic
def _pay_start(*, request_id: UUID, payer_id: int, idempotency_key: str) -> PaymentRequest:
    """Decide, under the request's row lock, which transfer key this pay uses. The same Idempotency-Key
    gets its first attempt's key again (so the transfer replays its first answer); otherwise only a
    PENDING request nobody is paying starts a new attempt: concurrent pays make one transfer."""
    request = _locked(request_id=request_id, user_id=payer_id)
    if request.payer_id != payer_id:
        raise _not_found()
    if request.pay_key == idempotency_key:
        return request
    _expire_if_due(request)
    if request.status != RequestStatus.PENDING or _being_paid(request):
        raise _not_pending(request)
    request.attempts += 1
    request.pay_key, request.transfer_key = idempotency_key, f"{TRANSFER_KEY_PREFIX}{request.id}:{request.attempts}"
    request.pay_started_at, request.transaction = timezone.now(), None
    request.save()
    return request


def payment_request_pay(
    *, request_id: UUID, payer_id: int, from_wallet_id: object, idempotency_key: object
) -> Response:
    """Returns what POST /transactions would (202 transaction, 422 insufficient_funds, …); a refused
    transfer leaves the request PENDING for another try."""
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise DomainError("Send an Idempotency-Key.", code="idempotency_key_required")
    if len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        raise _invalid("idempotency_key", f"At most {IDEMPOTENCY_KEY_MAX} characters.")
    request = _pay_start(request_id=request_id, payer_id=payer_id, idempotency_key=idempotency_key)
    return transaction_initiate(
        owner_id=payer_id, type=TransactionType.TRANSFER, from_wallet_id=from_wallet_id,
        to_wallet_id=request.to_wallet_id, amount=amount_format(request.amount), idempotency_key=request.transfer_key,
    )  # fmt: skip


def payment_request_transfer_moved(tx: Transaction) -> None:
    """Called in the transaction that moved ``tx``'s status (its row locked): the request follows it —
    SUCCESS → PAID; FAILED → PENDING again (with the reason), so the payer may try again."""
    key = tx.idempotency_key or ""
    if not key.startswith(TRANSFER_KEY_PREFIX):
        return
    request = PaymentRequest.objects.select_for_update().filter(transfer_key=key).first()
    if request is None:
        return
    request.transaction = tx
    if tx.status == TransactionStatus.SUCCESS:
        request.status = RequestStatus.PAID
    elif tx.status == TransactionStatus.FAILED:
        request.last_failure_reason = tx.failure_reason or "failed"
    request.save(update_fields=["transaction", "status", "last_failure_reason", "updated_at"])
    _changed_emit(request)


def _finish(*, request_id: UUID, user_id: int, by: str, to: str) -> PaymentRequest:
    request = _locked(request_id=request_id, user_id=user_id)
    if getattr(request, f"{by}_id") != user_id:  # the other party: it sees the request, so no 404 to keep
        raise DomainError(f"Only the {by} may do this.", code="permission_denied")
    _expire_if_due(request)
    if request.status != RequestStatus.PENDING or _being_paid(request):
        raise _not_pending(request)
    request.status = to
    request.save(update_fields=["status", "updated_at"])
    _changed_emit(request)
    return request


@transaction.atomic
def payment_request_decline(*, request_id: UUID, payer_id: int) -> PaymentRequest:
    return _finish(request_id=request_id, user_id=payer_id, by="payer", to=RequestStatus.DECLINED)


@transaction.atomic
def payment_request_cancel(*, request_id: UUID, requester_id: int) -> PaymentRequest:
    return _finish(request_id=request_id, user_id=requester_id, by="requester", to=RequestStatus.CANCELLED)


@transaction.atomic
def payment_requests_expire(*, limit: int = 100) -> int:
    """The scheduler's round ends requests past expires_at (SKIP LOCKED: a request being decided now is
    left for the next round)."""
    due = PaymentRequest.objects.select_for_update(skip_locked=True).filter(
        status=RequestStatus.PENDING, expires_at__lte=timezone.now()
    )[:limit]
    expired = 0
    for request in due:
        _expire_if_due(request)
        expired += request.status == RequestStatus.EXPIRED
    return expired
