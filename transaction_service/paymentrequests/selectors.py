"""Reads. A payment request is seen by its two people only."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Q

from paymentrequests.models import PaymentRequest
from walletkit.cursors import cursor_decode, cursor_encode
from walletkit.money import amount_format


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def payment_request_shape(request: PaymentRequest) -> dict[str, Any]:
    """API.md's payment request, plus ``failure_reason``: why the last try to pay it was refused."""
    return {
        "id": str(request.id),
        "requester": request.requester_username,
        "payer": request.payer_username,
        "to_wallet_id": str(request.to_wallet_id),
        "amount": amount_format(request.amount),
        "currency": request.currency,
        "note": request.note,
        "status": request.status,
        "transaction_id": str(request.transaction_id) if request.transaction_id else None,
        "failure_reason": request.last_failure_reason or None,
        "created_at": _iso(request.created_at),
        "expires_at": _iso(request.expires_at),
    }


def payment_request_get_for_user(*, request_id: UUID, user_id: int) -> PaymentRequest | None:
    return PaymentRequest.objects.filter(Q(requester_id=user_id) | Q(payer_id=user_id), id=request_id).first()


def payment_request_list_for_user(
    *, user_id: int, role: str | None, status: str | None, cursor: str | None, limit: int
) -> tuple[list[PaymentRequest], str | None]:
    """Newest first; ``role`` payer (incoming), requester (outgoing) or both. Raises InvalidCursor."""
    by_role = {"payer": Q(payer_id=user_id), "requester": Q(requester_id=user_id)}
    queryset = PaymentRequest.objects.filter(by_role.get(role, by_role["payer"] | by_role["requester"]))
    if status:
        queryset = queryset.filter(status=status)
    if cursor:
        created_at, request_id = cursor_decode(cursor)
        queryset = queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=request_id))
    page = list(queryset.order_by("-created_at", "-id")[: limit + 1])
    last = page[limit - 1] if len(page) > limit else None
    return page[:limit], cursor_encode(last.created_at, last.id) if last else None
