"""Thin DRF views over paymentrequests.services. Creating one needs both usernames, which only the gateway
knows: that call is the gateway's alone (a service token on behalf of the requester)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from paymentrequests import selectors, services
from paymentrequests.models import RequestStatus
from walletkit.auth import IsUser, internal_callers
from walletkit.cursors import InvalidCursor
from walletkit.errors import ApiError
from walletkit.http import ServiceUnavailable


class PaymentRequestOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    requester = serializers.CharField()
    payer = serializers.CharField()
    to_wallet_id = serializers.UUIDField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    note = serializers.CharField()
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    transaction_id = serializers.UUIDField(allow_null=True)
    failure_reason = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        return selectors.payment_request_shape(instance)


def _user_id(request) -> int:
    if request.user.id is None:
        raise PermissionDenied("A user is required.")
    return request.user.id


def _render(payment_request, code=status.HTTP_200_OK) -> Response:
    return Response(PaymentRequestOutputSerializer(payment_request).data, status=code)


class PaymentRequestListCreateApi(APIView):
    permission_classes = [IsUser | internal_callers("gateway")]

    class CreateInputSerializer(serializers.Serializer):
        to_wallet_id = serializers.UUIDField()
        payer_id = serializers.IntegerField()
        payer_username = serializers.CharField(max_length=150)
        requester_username = serializers.CharField(max_length=150)
        amount = serializers.JSONField()  # raw: amount_parse must see a float to refuse it
        note = serializers.CharField(required=False, allow_blank=True, max_length=140, default="")
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    class ListFilterSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=["payer", "requester"], required=False)
        status = serializers.ChoiceField(choices=RequestStatus.choices, required=False)
        cursor = serializers.CharField(required=False)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)

    @extend_schema(request=CreateInputSerializer, responses={201: PaymentRequestOutputSerializer})
    def post(self, request):
        if request.user.service != "gateway":
            raise PermissionDenied("Payment requests are created through the gateway.")
        data = self.CreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            created = services.payment_request_create(requester_id=_user_id(request), **data.validated_data)
        except ServiceUnavailable:
            raise ApiError(
                "The wallet service is unavailable; retry later.", code="service_unavailable",
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            ) from None  # fmt: skip
        return _render(created, status.HTTP_201_CREATED)

    @extend_schema(parameters=[ListFilterSerializer])
    def get(self, request):
        filters = self.ListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        try:
            page, next_cursor = selectors.payment_request_list_for_user(user_id=_user_id(request), **{
                name: filters.validated_data.get(name) for name in ("role", "status", "cursor", "limit")
            })  # fmt: skip
        except InvalidCursor as exc:
            raise ApiError(str(exc), code="invalid_cursor") from None
        return Response({"results": PaymentRequestOutputSerializer(page, many=True).data, "next": next_cursor})


class PaymentRequestDetailApi(APIView):
    permission_classes = [IsUser | internal_callers("gateway")]

    @extend_schema(responses={200: PaymentRequestOutputSerializer})
    def get(self, request, request_id):
        found = selectors.payment_request_get_for_user(request_id=request_id, user_id=_user_id(request))
        if found is None:
            raise ApiError("Payment request not found.", code="not_found", status_code=status.HTTP_404_NOT_FOUND)
        return _render(found)


class PaymentRequestPayApi(APIView):
    permission_classes = [IsUser | internal_callers("gateway")]

    class InputSerializer(serializers.Serializer):
        from_wallet_id = serializers.UUIDField()
        idempotency_key = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(request=InputSerializer)
    def post(self, request, request_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        status_code, body = services.payment_request_pay(
            request_id=request_id, payer_id=_user_id(request), from_wallet_id=data.validated_data["from_wallet_id"],
            idempotency_key=data.validated_data.get("idempotency_key") or request.headers.get("Idempotency-Key"),
        )  # fmt: skip
        headers = {"Retry-After": str(body["retry_after"])} if "retry_after" in body else None
        return Response(body, status=status_code, headers=headers)


class PaymentRequestDeclineApi(APIView):
    permission_classes = [IsUser | internal_callers("gateway")]

    @extend_schema(request=None, responses={200: PaymentRequestOutputSerializer})
    def post(self, request, request_id):
        return _render(services.payment_request_decline(request_id=request_id, payer_id=_user_id(request)))


class PaymentRequestCancelApi(APIView):
    permission_classes = [IsUser | internal_callers("gateway")]

    @extend_schema(request=None, responses={200: PaymentRequestOutputSerializer})
    def post(self, request, request_id):
        return _render(services.payment_request_cancel(request_id=request_id, requester_id=_user_id(request)))
