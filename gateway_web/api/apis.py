"""The public REST API's forwarding views: validate cheaply, then let the owning service decide."""

from __future__ import annotations

from types import SimpleNamespace
from uuid import UUID

from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api import client, people, statements
from api.shapes import (
    BalanceAtSerializer,
    ErrorSerializer,
    HistoryEntrySerializer,
    HistoryPageSerializer,
    HistoryQuerySerializer,
    StatementSerializer,
    TransactionDetailSerializer,
    TransactionPageSerializer,
    TransactionQuerySerializer,
    TransactionSerializer,
    WalletLimitsSerializer,
    WalletSerializer,
)
from api.throttling import ScopedThrottle
from walletkit.errors import ApiError
from walletkit.fields import AmountField
from walletkit.health import database_ready
from walletkit.money import InvalidCurrency, amount_format, currency_parse


def _errors(*codes: int) -> dict:
    described = {
        400: "Invalid input (`errors` holds field errors).",
        401: "No token, or an invalid or expired one.",
        404: "Not found, or not the caller's.",
        409: "The idempotency key was used with a different body.",
        413: "The request body is too large.",
        415: "The body is not JSON.",
        422: "Refused by a business rule: `insufficient_funds`, `currency_mismatch`.",
        429: "Too many requests.",
        503: "A service behind the gateway is unavailable.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=described[code]) for code in codes}


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Required unless the body has `idempotency_key`. The same key and body replay the first answer.",
)
HISTORY_FILTERS = HistoryQuerySerializer
MONEY_ERRORS = {
    **_errors(400, 401, 413, 415, 429),
    400: OpenApiResponse(
        ErrorSerializer,
        description="Invalid input (`errors` holds field errors). `amount` must be a string matching "
        "`^[0-9]+(\\.[0-9]{1,4})?$` (ASCII digits) or a JSON integer; `1e3`, `+1`, `1_000`, `10.5` as a JSON "
        "number and non-ASCII digits are refused. Nothing moves.",
    ),
    404: OpenApiResponse(
        ErrorSerializer,
        description="`wallet_not_found`: not the caller's wallet, or a wallet the caller cannot pay (missing, or "
        "someone else's in another currency — the same answer). Nothing moves.",
    ),
    409: OpenApiResponse(
        ErrorSerializer,
        description="`idempotency_conflict`: the key was used with a different body. `idempotency_in_progress`: "
        "the first request with this key is still being decided; retry shortly with the same key.",
    ),
    422: OpenApiResponse(
        ErrorSerializer,
        description="Refused by a business rule, nothing moves: `insufficient_funds` (also `available`, the "
        "wallet's available amount as a decimal string), `limit_exceeded` (also `remaining`: what the wallet's "
        "daily and monthly spending limits still allow today), `currency_mismatch` (between the caller's own "
        "wallets), `expired`.",
    ),
    503: OpenApiResponse(
        ErrorSerializer,
        description="Outcome unknown — the money may or may not move. Retry with the same Idempotency-Key (and "
        "body) until a definitive answer (202, 4xx); a lost connection means the same.",
    ),
    429: OpenApiResponse(
        ErrorSerializer,
        description="Nothing was created: `throttled` (the caller's rate limit) or `overloaded` (too many "
        "payments are being settled; `SAGAS_IN_FLIGHT_MAX`). Retry after `Retry-After` seconds with the same key.",
    ),
}


class MovementInputSerializer(serializers.Serializer):
    amount = AmountField()
    idempotency_key = serializers.CharField(required=False, max_length=client.IDEMPOTENCY_KEY_MAX_LENGTH)


class WalletListCreateApi(APIView):
    @extend_schema_serializer(component_name="WalletOpen")
    class InputSerializer(serializers.Serializer):
        currency = serializers.CharField(max_length=3)
        name = serializers.CharField(required=False, allow_blank=True, max_length=100)

        def validate_currency(self, value):
            try:
                return currency_parse(value)
            except InvalidCurrency as exc:
                raise serializers.ValidationError(str(exc)) from None

    @extend_schema(operation_id="wallets_list", responses={200: WalletSerializer(many=True), **_errors(401, 503)})
    def get(self, request):
        return client.forward(request, "GET", "wallet", "/wallets", output=WalletSerializer, many=True)

    @extend_schema(
        operation_id="wallets_create",
        request=InputSerializer,
        responses={201: WalletSerializer, **_errors(400, 401, 413, 415, 503)},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return client.forward(request, "POST", "wallet", "/wallets", output=WalletSerializer, json=data.validated_data)


class WalletDetailApi(APIView):
    @extend_schema(operation_id="wallets_retrieve", responses={200: WalletSerializer, **_errors(401, 404, 503)})
    def get(self, request, wallet_id: UUID):
        return client.forward(request, "GET", "wallet", f"/wallets/{wallet_id}", output=WalletSerializer)


class WalletLimitsApi(APIView):
    """Spending limits on what leaves the wallet (withdrawals, transfers, refunds), per UTC day and month."""

    @extend_schema_serializer(component_name="WalletLimitsSet")
    class InputSerializer(serializers.Serializer):
        daily_out = AmountField(allow_null=True, help_text="Decimal string, or null for no daily limit.")
        monthly_out = AmountField(allow_null=True, help_text="Decimal string, or null for no monthly limit.")

    @extend_schema(
        operation_id="wallets_limits_retrieve", responses={200: WalletLimitsSerializer, **_errors(401, 404, 503)}
    )
    def get(self, request, wallet_id: UUID):
        return client.forward(request, "GET", "wallet", f"/wallets/{wallet_id}/limits", output=WalletLimitsSerializer)

    @extend_schema(
        operation_id="wallets_limits_update",
        description="Set both limits (null removes one). Outgoing movements count from their reservation; a "
        "refused or failed one stops counting. A movement that would pass a limit is refused "
        "`422 limit_exceeded` with `remaining`; concurrent movements cannot together pass it.",
        request=InputSerializer,
        responses={200: WalletLimitsSerializer, **_errors(400, 401, 404, 413, 415, 503)},
    )
    def put(self, request, wallet_id: UUID):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = {
            name: amount_format(value) if value is not None else None for name, value in data.validated_data.items()
        }
        return client.forward(
            request, "PUT", "wallet", f"/wallets/{wallet_id}/limits", output=WalletLimitsSerializer, json=body
        )


class WalletHistoryApi(APIView):
    @extend_schema(
        operation_id="wallets_history",
        parameters=[HISTORY_FILTERS],
        responses={200: HistoryPageSerializer, **_errors(400, 401, 404, 503)},
    )
    def get(self, request, wallet_id: UUID):
        params = client.query_params(request, HISTORY_FILTERS)
        return client.forward_page(
            request,
            "history",
            f"/wallets/{wallet_id}/history",
            item=HistoryEntrySerializer,
            params=params,
            named=people.history_name_counterparties,
        )


def _transactions_named(request) -> client.Named:
    return lambda transactions: people.transactions_name_counterparties(transactions, user_id=request.user.id)


class IgnoreFormatParameter(DefaultContentNegotiation):
    """``?format=`` here picks the statement's format (json, csv, pdf), not DRF's renderer."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


class WalletBalanceApi(APIView):
    class FilterSerializer(serializers.Serializer):
        at = serializers.DateTimeField(required=False, help_text="ISO-8601 instant; default now.")

    @extend_schema(
        operation_id="wallets_balance_at",
        parameters=[FilterSerializer],
        responses={200: BalanceAtSerializer, **_errors(400, 401, 404, 503)},
        description="The settled balance at an instant, summed from the ledger's postings up to and including it.",
    )
    def get(self, request, wallet_id: UUID):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        try:
            wallet = client.caller_wallet_get(request, wallet_id)
        except client.DownstreamError as error:
            return Response(error.body, status=error.status_code, headers=error.headers)
        at = filters.validated_data.get("at") or timezone.now()
        balance = statements.balance_at(wallet=wallet, at=at, user_id=request.user.id)
        body = {"wallet_id": wallet_id, "currency": wallet["currency"], "at": at, "balance": balance}
        return Response(BalanceAtSerializer(body).data)


class WalletStatementApi(APIView):
    content_negotiation_class = IgnoreFormatParameter

    class FilterSerializer(serializers.Serializer):
        def get_fields(self):  # `from` is a Python keyword: the fields are named here
            return {
                "from": serializers.DateField(required=False, help_text="First day (UTC); default: this month's."),
                "to": serializers.DateField(required=False, help_text="Last day, inclusive; default: this month's."),
                "format": serializers.ChoiceField(choices=["json", "csv", "pdf"], default="json"),
            }

    @extend_schema(
        operation_id="wallets_statement",
        parameters=[FilterSerializer],
        responses={
            (200, "application/json"): StatementSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/pdf"): OpenApiTypes.BINARY,
            **_errors(401, 404, 503),
            400: OpenApiResponse(
                ErrorSerializer,
                description="`invalid`: a bad date or `to` before `from` (`errors`); `period_too_long`: more than "
                f"{statements.STATEMENT_DAYS_MAX} days.",
            ),
        },
        description="Settled movements of the period from the ledger, oldest first, each with the balance after "
        "it: `opening_balance` + signed lines = `closing_balance` = `GET …/balance?at=` the end of `to`. JSON and "
        "CSV are streamed; CSV is UTF-8 (with BOM) with a header row, PDF a printable statement.",
    )
    def get(self, request, wallet_id: UUID):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        query = filters.validated_data
        period = statements.period_get(first=query.get("from"), last=query.get("to"), today=timezone.now().date())
        try:
            wallet = client.caller_wallet_get(request, wallet_id)
        except client.DownstreamError as error:
            return Response(error.body, status=error.status_code, headers=error.headers)
        return statements.statement_response(
            wallet=wallet, period=period, user_id=request.user.id, kind=query["format"]
        )


class WalletDepositApi(APIView):
    throttle_classes = [ScopedThrottle]
    throttle_scope = "money"

    @extend_schema(
        operation_id="wallets_deposit",
        parameters=[IDEMPOTENCY_KEY],
        request=MovementInputSerializer,
        responses={202: TransactionSerializer, **MONEY_ERRORS},
    )
    def post(self, request, wallet_id: UUID):
        key = client.idempotency_key_get(request)
        data = MovementInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return client.transaction_submit(
            request, kind="DEPOSIT", from_wallet_id=None, to_wallet_id=wallet_id,
            amount=data.validated_data["amount"], idempotency_key=key, output=TransactionSerializer,
            named=_transactions_named(request),
        )  # fmt: skip


class WalletWithdrawalApi(APIView):
    throttle_classes = [ScopedThrottle]
    throttle_scope = "money"

    @extend_schema(
        operation_id="wallets_withdraw",
        parameters=[IDEMPOTENCY_KEY],
        request=MovementInputSerializer,
        responses={202: TransactionSerializer, **MONEY_ERRORS},
    )
    def post(self, request, wallet_id: UUID):
        key = client.idempotency_key_get(request)
        data = MovementInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return client.transaction_submit(
            request, kind="WITHDRAWAL", from_wallet_id=wallet_id, to_wallet_id=None,
            amount=data.validated_data["amount"], idempotency_key=key, output=TransactionSerializer,
            named=_transactions_named(request),
        )  # fmt: skip


class TransferCreateApi(APIView):
    throttle_classes = [ScopedThrottle]
    throttle_scope = "money"

    @extend_schema_serializer(component_name="Transfer")
    class InputSerializer(MovementInputSerializer):
        from_wallet_id = serializers.UUIDField()
        to_wallet_id = serializers.UUIDField()

    @extend_schema(
        operation_id="transfers_create",
        parameters=[IDEMPOTENCY_KEY],
        request=InputSerializer,
        responses={202: TransactionSerializer, **MONEY_ERRORS},
    )
    def post(self, request):
        key = client.idempotency_key_get(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        source, target = data.validated_data["from_wallet_id"], data.validated_data["to_wallet_id"]
        if source == target:
            raise ApiError("A transfer needs two different wallets.", code="same_wallet")
        return client.transaction_submit(
            request, kind="TRANSFER", from_wallet_id=source, to_wallet_id=target,
            amount=data.validated_data["amount"], idempotency_key=key, output=TransactionSerializer,
            named=_transactions_named(request),
        )  # fmt: skip


class TransactionListApi(APIView):
    @extend_schema(
        operation_id="transactions_list",
        parameters=[TransactionQuerySerializer],
        responses={200: TransactionPageSerializer, **_errors(400, 401, 503)},
    )
    def get(self, request):
        params = client.query_params(request, TransactionQuerySerializer)
        return client.forward_page(
            request,
            "transaction",
            "/transactions",
            item=TransactionSerializer,
            params=params,
            named=_transactions_named(request),
        )


class TransactionDetailApi(APIView):
    @extend_schema(
        operation_id="transactions_retrieve", responses={200: TransactionDetailSerializer, **_errors(401, 404, 503)}
    )
    def get(self, request, transaction_id: UUID):
        return client.forward(
            request,
            "GET",
            "transaction",
            f"/transactions/{transaction_id}",
            output=TransactionDetailSerializer,
            named=_transactions_named(request),
        )


class TransactionRefundApi(APIView):
    throttle_classes = [ScopedThrottle]
    throttle_scope = "money"

    @extend_schema(
        operation_id="transactions_refund",
        description="Send (part of) a received SUCCESS transfer back to its sender's wallet: a `REFUND` "
        "transaction with `refund_of`, through the same saga as a transfer (and counted by the spending limits "
        "of the wallet it leaves). Only the transfer's receiver may; anyone else gets `404`. Refunds not "
        "`FAILED` add up to at most the original: `422 refund_exceeds_original` (with `refundable`), also for "
        "concurrent requests. `422 not_refundable`: the transfer is not SUCCESS.",
        parameters=[IDEMPOTENCY_KEY],
        request=MovementInputSerializer,
        responses={202: TransactionSerializer, **MONEY_ERRORS},
    )
    def post(self, request, transaction_id: UUID):
        key = client.idempotency_key_get(request)
        data = MovementInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payload = {"amount": amount_format(data.validated_data["amount"]), "idempotency_key": key}
        return client.forward(
            request, "POST", "transaction", f"/transactions/{transaction_id}/refunds", output=TransactionSerializer,
            json=payload, timeout=client.movement_timeout(), named=_transactions_named(request),
        )  # fmt: skip


class ActivityListApi(APIView):
    @extend_schema(
        operation_id="activity_list",
        parameters=[HISTORY_FILTERS],
        responses={200: HistoryPageSerializer, **_errors(400, 401, 503)},
    )
    def get(self, request):
        params = client.query_params(request, HISTORY_FILTERS)
        return client.forward_page(
            request,
            "history",
            "/activity",
            item=HistoryEntrySerializer,
            params=params,
            named=people.history_name_counterparties,
        )


PROBE = inline_serializer("Probe", {"status": serializers.CharField(), "checks": serializers.DictField(required=False)})


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="healthz", responses={200: PROBE})
    def get(self, request):
        return Response({"status": "ok"})


class ReadyApi(APIView):
    """Ready when the gateway's own database and the shared cache (rate limits, lockouts) answer."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="readyz", responses={200: PROBE, 503: PROBE})
    def get(self, request):
        checks = {"database": database_ready(), "cache": _cache_ready()}
        ready = all(checks.values())
        return Response(
            {"status": "ready" if ready else "unavailable", "checks": checks},
            status=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE,
        )


def _cache_ready() -> bool:
    try:
        cache.set("readyz", "1", timeout=5)
        return cache.get("readyz") == "1"
    except Exception:
        return False
