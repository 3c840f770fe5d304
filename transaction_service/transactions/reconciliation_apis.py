"""Internal, service-token-only reads for the ledger's reconciliation. Read-only: nothing here writes."""

from datetime import timedelta
from uuid import UUID

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from transactions import selectors
from transactions.models import TransactionStatus
from walletkit.auth import internal_callers
from walletkit.cursors import InvalidCursor
from walletkit.errors import ApiError
from walletkit.money import amount_format


class ReconciliationTransactionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    status = serializers.CharField()
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField(allow_null=True)
    from_wallet_id = serializers.UUIDField(allow_null=True)
    to_wallet_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_amount(self, row) -> str:
        return amount_format(row["amount"])


class ReconciliationTransactionListApi(APIView):
    """``GET``: a keyset page of transactions (optionally of one status), by id; or, with
    ``changed_since``, those of any status whose row changed at or after it, keyset on (updated_at, id)
    with an opaque ``next`` (incremental reconciliation's window; ``status`` is then ignored)."""

    permission_classes = [internal_callers("ledger")]

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=TransactionStatus.choices, required=False, default=None)
        changed_since = serializers.DateTimeField(required=False, default=None)
        after = serializers.CharField(required=False, default=None, help_text="the previous page's next")
        limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=500)

    class ChangedSerializer(ReconciliationTransactionSerializer):
        updated_at = serializers.DateTimeField()

    @extend_schema(parameters=[FilterSerializer])
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        if data["changed_since"] is not None:
            try:
                page, next_after = selectors.reconciliation_transaction_changed_page(
                    changed_since=data["changed_since"], after=data["after"], limit=data["limit"]
                )
            except InvalidCursor as exc:
                raise ApiError(str(exc), code="invalid_cursor") from None
            return Response({"results": self.ChangedSerializer(page, many=True).data, "next": next_after})
        after = self._uuid(data["after"])
        page, next_after = selectors.reconciliation_transaction_page(status=data["status"], after=after,
                                                                     limit=data["limit"])  # fmt: skip
        return Response({"results": ReconciliationTransactionSerializer(page, many=True).data, "next": next_after})

    @staticmethod
    def _uuid(raw: str | None) -> UUID | None:
        try:
            return UUID(raw) if raw is not None else None
        except ValueError:
            raise ApiError("The cursor is not one this API returned.", code="invalid_cursor") from None


class ReconciliationTransactionLookupApi(APIView):
    """``POST {ids}``: these transactions as they are now (the ids not returned do not exist)."""

    permission_classes = [internal_callers("ledger")]

    class InputSerializer(serializers.Serializer):
        ids = serializers.ListField(child=serializers.UUIDField(), max_length=1000)

    @extend_schema(request=InputSerializer)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rows = selectors.reconciliation_transactions_by_id(ids=data.validated_data["ids"])
        return Response({"results": ReconciliationTransactionSerializer(rows, many=True).data})


class StuckSagaListApi(APIView):
    """Open sagas older than ``older_than`` seconds (default HOLD_EXPIRY + SAGA_DEADLINE: by then the
    sweeper has had its deadline AND the hold expiry to end them)."""

    permission_classes = [internal_callers("ledger")]

    class FilterSerializer(serializers.Serializer):
        older_than = serializers.FloatField(required=False, min_value=0, default=None)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=200)

    class OutputSerializer(ReconciliationTransactionSerializer):
        updated_at = serializers.DateTimeField()
        sweep_attempts = serializers.IntegerField()

    @extend_schema(parameters=[FilterSerializer])
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        seconds = filters.validated_data["older_than"]
        if seconds is None:
            seconds = settings.HOLD_EXPIRY + settings.SAGA_DEADLINE
        rows = selectors.saga_stuck_list(older_than=timedelta(seconds=seconds), limit=filters.validated_data["limit"])
        return Response({"results": self.OutputSerializer(rows, many=True).data, "older_than": seconds})


class AnomalyListApi(APIView):
    permission_classes = [internal_callers("ledger")]

    class FilterSerializer(serializers.Serializer):
        after = serializers.IntegerField(required=False, default=None)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=500)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        transaction_id = serializers.UUIDField()
        kind = serializers.CharField()
        detail = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(parameters=[FilterSerializer])
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page, next_after = selectors.anomaly_page(**filters.validated_data)
        return Response({"results": self.OutputSerializer(page, many=True).data, "next": next_after})
