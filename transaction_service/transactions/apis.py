"""Thin DRF views: validate the shape, call one service or selector, render. The caller is the user whose
token the gateway forwarded (or a service acting on behalf of one)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from transactions.models import TransactionStatus, TransactionType
from transactions.selectors import (
    transaction_get_for_user,
    transaction_list_for_user,
    transaction_refunds_of,
    transaction_shape,
)
from transactions.services import transaction_initiate, transaction_refund_initiate
from walletkit.cursors import InvalidCursor
from walletkit.errors import ApiError


class TransactionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=TransactionType.choices)
    status = serializers.ChoiceField(choices=TransactionStatus.choices)
    amount = serializers.CharField(help_text='Decimal string with 4 fraction digits, e.g. "12.5000".')
    currency = serializers.CharField(allow_null=True)
    from_wallet_id = serializers.UUIDField(allow_null=True)
    to_wallet_id = serializers.UUIDField(allow_null=True)
    failure_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    reserved_at = serializers.DateTimeField(allow_null=True, help_text="When the wallet reserved the funds.")
    posted_at = serializers.DateTimeField(allow_null=True, help_text="When the ledger posted the entry.")
    refund_of = serializers.UUIDField(allow_null=True, help_text="A REFUND's original transfer.")

    def to_representation(self, instance):
        # One shape for the API, the stored first response and the outbox event.
        return transaction_shape(instance)


def _user_id(request) -> int:
    if request.user.id is None:
        raise PermissionDenied("A user is required.")
    return request.user.id


class TransactionListInitiateApi(APIView):
    class InitiateInputSerializer(serializers.Serializer):
        type = serializers.CharField()
        from_wallet_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        to_wallet_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        # Raw JSON on purpose: amount_parse must see a float as a float to refuse it.
        amount = serializers.JSONField(required=False, allow_null=True)
        idempotency_key = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    class ListFilterSerializer(serializers.Serializer):
        wallet = serializers.UUIDField(required=False)
        status = serializers.ChoiceField(choices=TransactionStatus.choices, required=False)
        cursor = serializers.CharField(required=False)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)

    class ListOutputSerializer(serializers.Serializer):
        results = TransactionOutputSerializer(many=True)
        next = serializers.CharField(allow_null=True)

    @extend_schema(
        request=InitiateInputSerializer,
        responses={202: TransactionOutputSerializer, 400: None, 404: None, 409: None, 422: None, 429: None, 503: None},
    )
    def post(self, request):
        owner_id = _user_id(request)
        data = self.InitiateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        status_code, body = transaction_initiate(
            owner_id=owner_id,
            type=data.validated_data["type"],
            from_wallet_id=data.validated_data.get("from_wallet_id"),
            to_wallet_id=data.validated_data.get("to_wallet_id"),
            amount=data.validated_data.get("amount"),
            idempotency_key=data.validated_data.get("idempotency_key") or request.headers.get("Idempotency-Key"),
        )
        headers = {"Retry-After": str(body["retry_after"])} if "retry_after" in body else None
        return Response(body, status=status_code, headers=headers)

    @extend_schema(parameters=[ListFilterSerializer], responses={200: ListOutputSerializer})
    def get(self, request):
        user_id = _user_id(request)
        filters = self.ListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        try:
            page, next_cursor = transaction_list_for_user(
                user_id=user_id,
                wallet_id=filters.validated_data.get("wallet"),
                status=filters.validated_data.get("status"),
                cursor=filters.validated_data.get("cursor"),
                limit=filters.validated_data["limit"],
            )
        except InvalidCursor as exc:
            raise ApiError(str(exc), code="invalid_cursor") from None
        return Response(self.ListOutputSerializer({"results": page, "next": next_cursor}).data)


class TransactionDetailOutputSerializer(TransactionOutputSerializer):
    refunds = TransactionOutputSerializer(many=True, help_text="A transfer's refunds, oldest first.")

    def to_representation(self, instance):
        return {**transaction_shape(instance), "refunds": [transaction_shape(r) for r in instance.refund_list]}


class TransactionDetailApi(APIView):
    @extend_schema(responses={200: TransactionDetailOutputSerializer, 404: OpenApiResponse(description="Not yours.")})
    def get(self, request, transaction_id):
        tx = transaction_get_for_user(transaction_id=transaction_id, user_id=_user_id(request))
        if tx is None:
            raise NotFound("Transaction not found.")
        tx.refund_list = transaction_refunds_of(transaction_id=tx.id) if tx.type == TransactionType.TRANSFER else []
        return Response(TransactionDetailOutputSerializer(tx).data)


class TransactionRefundApi(APIView):
    """The receiver of a SUCCESS transfer sends (part of) it back: a REFUND transaction, the same saga."""

    class InputSerializer(serializers.Serializer):
        amount = serializers.JSONField(required=False, allow_null=True)  # raw, as for POST /transactions
        idempotency_key = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    @extend_schema(
        request=InputSerializer,
        responses={202: TransactionOutputSerializer, 400: None, 404: None, 409: None, 422: None, 429: None, 503: None},
    )
    def post(self, request, transaction_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        status_code, body = transaction_refund_initiate(
            owner_id=_user_id(request),
            original_id=transaction_id,
            amount=data.validated_data.get("amount"),
            idempotency_key=data.validated_data.get("idempotency_key") or request.headers.get("Idempotency-Key"),
        )
        headers = {"Retry-After": str(body["retry_after"])} if "retry_after" in body else None
        return Response(body, status=status_code, headers=headers)
