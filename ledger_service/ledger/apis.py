"""Thin DRF views: validate input, call one service or selector, render."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import selectors, services
from ledger.models import MovementType
from walletkit.auth import IsStaffUser, internal_callers
from walletkit.errors import ApiError
from walletkit.fields import AmountField, CurrencyField


class DecisionOutputSerializer(serializers.Serializer):
    transaction_id = serializers.UUIDField()
    status = serializers.CharField()
    reason = serializers.CharField()
    entry_id = serializers.UUIDField(allow_null=True)


class EntryDetailApi(APIView):
    permission_classes = [internal_callers("transaction")]  # the sweeper

    @extend_schema(responses=DecisionOutputSerializer)
    def get(self, request, transaction_id):
        decision = selectors.entry_status_get(transaction_id=transaction_id)
        if decision is None:
            raise ApiError("No decision for this transaction.", code="entry_not_found", status_code=404)
        return Response(DecisionOutputSerializer(decision).data)


class EntryExpireApi(APIView):
    """The sweeper's last word: the ledger decides once, and this returns that decision."""

    permission_classes = [internal_callers("transaction")]  # the sweeper

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=100)
        type = serializers.ChoiceField(choices=MovementType.choices)
        amount = AmountField()
        currency = CurrencyField()
        from_wallet_id = serializers.UUIDField(required=False, allow_null=True, default=None)
        to_wallet_id = serializers.UUIDField(required=False, allow_null=True, default=None)

    @extend_schema(request=InputSerializer, responses=DecisionOutputSerializer)
    def post(self, request, transaction_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = services.entry_expire(transaction_id=transaction_id, **data.validated_data)
        return Response(DecisionOutputSerializer(decision).data)


class AccountBalanceApi(APIView):
    """A wallet's balance computed from its postings, now or as of a past instant."""

    permission_classes = [IsStaffUser]  # no service calls it (docs/internal-api.md)

    class FilterSerializer(serializers.Serializer):
        as_of = serializers.DateTimeField(required=False, default=None)

    class OutputSerializer(serializers.Serializer):
        wallet_id = serializers.UUIDField()
        currency = serializers.CharField()
        balance = AmountField()
        as_of = serializers.DateTimeField()

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer)
    def get(self, request, wallet_id):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        account = selectors.account_get_for_wallet(wallet_id=wallet_id)
        if account is None:
            raise ApiError("No ledger account for this wallet.", code="account_not_found", status_code=404)
        as_of = filters.validated_data["as_of"] or timezone.now()
        balance = selectors.account_balance(account=account, as_of=as_of)
        body = {"wallet_id": wallet_id, "currency": account.currency, "balance": balance, "as_of": as_of}
        return Response(self.OutputSerializer(body).data, status=status.HTTP_200_OK)
