"""Payment requests (API.md "Additions"): owned by transaction_service (decision 0014). The gateway owns
users, so it turns the payer's username into an id and names the requester; creating is therefore a call
on behalf of the requester with the gateway's own service token. The rest forwards the caller's token."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api import client
from api.apis import IDEMPOTENCY_KEY, MONEY_ERRORS, _errors
from api.shapes import (
    ErrorSerializer,
    PaymentRequestPageSerializer,
    PaymentRequestQuerySerializer,
    PaymentRequestSerializer,
    TransactionSerializer,
)
from api.throttling import ScopedThrottle
from walletkit.errors import ApiError
from walletkit.fields import AmountField
from walletkit.money import amount_format

NOT_PENDING = OpenApiResponse(
    ErrorSerializer, description="`request_not_pending`: it is paid, being paid, declined, cancelled or expired."
)


def _active_user(username: str):
    return get_user_model().objects.filter(username__iexact=username, is_active=True).first()


def payment_request_create_as(*, requester_id: int, body: dict) -> tuple[int, dict]:
    """Shared by the API and the /requests page. Raises ApiError (404 unknown payer) or DownstreamError."""
    payer = _active_user(body["payer_username"])
    if payer is None:
        raise ApiError("No such user.", code="payer_not_found", status_code=status.HTTP_404_NOT_FOUND)
    requester = get_user_model().objects.get(id=requester_id)
    payload = {
        "to_wallet_id": str(body["to_wallet_id"]), "payer_id": payer.id, "payer_username": payer.username,
        "requester_username": requester.username, "amount": amount_format(body["amount"]),
        "note": body.get("note") or "",
        "expires_at": body["expires_at"].isoformat() if body.get("expires_at") else None,
    }  # fmt: skip
    return client.service_call(
        "POST", "transaction", "/payment-requests", user_token=None, on_behalf_of=requester_id, json=payload
    )


class PaymentRequestListCreateApi(APIView):
    @extend_schema_serializer(component_name="PaymentRequestCreate")
    class InputSerializer(serializers.Serializer):
        to_wallet_id = serializers.UUIDField(help_text="One of the caller's wallets: where the money goes.")
        payer_username = serializers.CharField(max_length=150)
        amount = AmountField()
        note = serializers.CharField(required=False, allow_blank=True, max_length=140)
        expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Then EXPIRED (UTC).")

    @extend_schema(
        operation_id="payment_requests_create",
        request=InputSerializer,
        description='Both people get `{"type": "payment_request", "payment_request": {…}}` on the websocket '
        "at this and every later change.",
        responses={
            201: PaymentRequestSerializer,
            **_errors(400, 401, 503),
            404: OpenApiResponse(
                ErrorSerializer, description="`payer_not_found`: no such user. `wallet_not_found`: not your wallet."
            ),
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            status_code, body = payment_request_create_as(requester_id=request.user.id, body=data.validated_data)
        except client.DownstreamError as error:
            return Response(error.body, status=error.status_code)
        return Response(PaymentRequestSerializer(body).data, status=status_code)

    @extend_schema(
        operation_id="payment_requests_list",
        parameters=[PaymentRequestQuerySerializer],
        responses={200: PaymentRequestPageSerializer, **_errors(400, 401, 503)},
    )
    def get(self, request):
        params = client.query_params(request, PaymentRequestQuerySerializer)
        return client.forward_page(
            request, "transaction", "/payment-requests", item=PaymentRequestSerializer, params=params
        )


class PaymentRequestDetailApi(APIView):
    @extend_schema(
        operation_id="payment_requests_retrieve",
        responses={200: PaymentRequestSerializer, **_errors(401, 404, 503)},
    )
    def get(self, request, request_id: UUID):
        return client.forward(
            request, "GET", "transaction", f"/payment-requests/{request_id}", output=PaymentRequestSerializer
        )


class PaymentRequestPayApi(APIView):
    throttle_classes = [ScopedThrottle]
    throttle_scope = "money"

    @extend_schema_serializer(component_name="PaymentRequestPay")
    class InputSerializer(serializers.Serializer):
        from_wallet_id = serializers.UUIDField(help_text="One of the payer's wallets.")
        idempotency_key = serializers.CharField(required=False, max_length=client.IDEMPOTENCY_KEY_MAX_LENGTH)

    @extend_schema(
        operation_id="payment_requests_pay",
        parameters=[IDEMPOTENCY_KEY],
        request=InputSerializer,
        description="The payer pays it: one transfer of the requested amount to `to_wallet_id`. Concurrent pays "
        "make one transfer. The request becomes PAID when the transfer succeeds; a refused transfer (422) leaves "
        "it PENDING with `failure_reason`, to be paid again with a new key.",
        responses={
            202: TransactionSerializer,
            **MONEY_ERRORS,
            409: OpenApiResponse(
                ErrorSerializer,
                description="`request_not_pending`: paid, being paid, declined, cancelled or expired. "
                "`idempotency_conflict` / `idempotency_in_progress` as for transfers.",
            ),
        },
    )
    def post(self, request, request_id: UUID):
        key = client.idempotency_key_get(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return client.forward(
            request, "POST", "transaction", f"/payment-requests/{request_id}/pay", output=TransactionSerializer,
            json={"from_wallet_id": str(data.validated_data["from_wallet_id"]), "idempotency_key": key},
            timeout=client.movement_timeout(),
        )  # fmt: skip


def _finish_schema(operation_id: str, who: str, to: str):
    return extend_schema(
        operation_id=operation_id,
        request=None,
        description=f"By the {who} only (the other party gets 403): the request becomes {to}.",
        responses={
            200: PaymentRequestSerializer,
            **_errors(401, 404, 503),
            403: OpenApiResponse(ErrorSerializer, description=f"`permission_denied`: you are not the {who}."),
            409: NOT_PENDING,
        },
    )


class PaymentRequestDeclineApi(APIView):
    @_finish_schema("payment_requests_decline", "payer", "DECLINED")
    def post(self, request, request_id: UUID):
        return client.forward(
            request, "POST", "transaction", f"/payment-requests/{request_id}/decline", output=PaymentRequestSerializer
        )


class PaymentRequestCancelApi(APIView):
    @_finish_schema("payment_requests_cancel", "requester", "CANCELLED")
    def post(self, request, request_id: UUID):
        return client.forward(
            request, "POST", "transaction", f"/payment-requests/{request_id}/cancel", output=PaymentRequestSerializer
        )
