"""Thin DRF views: validate input, call one service or selector, render."""

from __future__ import annotations

import json

from django.db import transaction
from django.http import StreamingHttpResponse
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
from walletkit.money import amount_format


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

    # Staff, and the gateway for a user's "balance at" (the gateway checked the wallet is the user's).
    permission_classes = [IsStaffUser | internal_callers("gateway")]

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


class AccountStatementApi(APIView):
    """A wallet's postings over [from, to) as NDJSON: the first line is the summary
    ``{currency, opening_balance, total_in, total_out, closing_balance}``, then one line per posting
    ``{occurred_at, transaction_id, type, amount (signed), counterparty_wallet_id}``, oldest first, then
    ``{end: true, count}`` — a stream cut short (an error mid-way) has no end line, and the reader refuses it.

    Streamed from a server-side cursor inside ONE repeatable-read transaction, so the summary and
    the lines are the same snapshot: a posting committed meanwhile is in neither or in both."""

    permission_classes = [internal_callers("gateway")]  # the gateway checked the wallet is the user's

    class FilterSerializer(serializers.Serializer):
        def get_fields(self):  # `from` is a Python keyword: the fields are named here
            return {"from": serializers.DateTimeField(), "to": serializers.DateTimeField()}

        def validate(self, attrs):
            start, end = attrs["from"], attrs["to"]
            if end <= start:
                raise serializers.ValidationError({"to": ["Must be after `from`."]})
            if end - start > selectors.STATEMENT_PERIOD_MAX:
                raise ApiError("The period is too long.", code="period_too_long")
            return attrs

    @extend_schema(parameters=[FilterSerializer], responses={(200, "application/x-ndjson"): str})
    def get(self, request, wallet_id):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        start, end = filters.validated_data["from"], filters.validated_data["to"]
        return StreamingHttpResponse(_statement_ndjson(wallet_id, start, end), content_type="application/x-ndjson")


def _statement_ndjson(wallet_id, start, end):
    with transaction.atomic():
        selectors.repeatable_read()
        account = selectors.account_get_for_wallet(wallet_id=wallet_id)
        if account is None:  # no movement yet: an empty statement (the gateway knows the currency)
            yield _ndjson({"currency": None, "opening_balance": "0.0000", "total_in": "0.0000",
                           "total_out": "0.0000", "closing_balance": "0.0000"})  # fmt: skip
            yield _ndjson({"end": True, "count": 0})
            return
        summary = selectors.account_statement_summary(account=account, start=start, end=end)
        yield _ndjson({
            "currency": summary.currency, "opening_balance": amount_format(summary.opening_balance),
            "total_in": amount_format(summary.total_in), "total_out": amount_format(summary.total_out),
            "closing_balance": amount_format(summary.closing_balance),
        })  # fmt: skip
        count = 0
        for line in selectors.account_statement_lines(account=account, start=start, end=end):
            count += 1
            counterparty = line["counterparty_wallet_id"]
            yield _ndjson({
                "occurred_at": line["created_at"].isoformat(), "transaction_id": str(line["transaction_id"]),
                "type": line["type"], "amount": amount_format(line["amount"]),
                "counterparty_wallet_id": str(counterparty) if counterparty else None,
            })  # fmt: skip
        yield _ndjson({"end": True, "count": count})


def _ndjson(item: dict) -> bytes:
    return json.dumps(item).encode() + b"\n"
