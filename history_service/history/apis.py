"""Thin views: validate the query, call one selector, render. The caller is the gateway with a user token."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from history.models import Direction, EntryType, Status
from history.selectors import HistoryFilters, history_entry_page, wallet_is_known, wallet_is_owned_by
from history.services import wallet_owner_learn
from walletkit.cursors import InvalidCursor
from walletkit.errors import ApiError
from walletkit.http import ServiceUnavailable

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


class HistoryQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, max_length=500)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    status = serializers.ChoiceField(required=False, choices=Status.values)
    type = serializers.ChoiceField(required=False, choices=EntryType.values)
    since = serializers.DateTimeField(required=False, help_text="occurred_at >= since")
    until = serializers.DateTimeField(required=False, help_text="occurred_at < until")
    changed_since = serializers.DateTimeField(
        required=False, help_text="updated_at >= changed_since: what changed while a websocket was away"
    )

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["until must be later than since."]})
        return attrs


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    transaction_id = serializers.UUIDField()
    wallet_id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=EntryType.values)
    direction = serializers.ChoiceField(choices=Direction.values)
    amount = serializers.DecimalField(max_digits=19, decimal_places=4)
    currency = serializers.CharField()
    counterparty_wallet_id = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(choices=Status.values)
    failure_reason = serializers.SerializerMethodField()
    occurred_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_failure_reason(self, entry) -> str | None:
        return entry.failure_reason or None


class HistoryPageSerializer(serializers.Serializer):
    results = HistoryEntrySerializer(many=True)
    next = serializers.CharField(allow_null=True)


def _page_response(request, *, wallet_id: UUID | None = None) -> Response:
    query = HistoryQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    params = dict(query.validated_data)
    cursor, limit = params.pop("cursor", None), params.pop("limit")
    try:
        entries, next_cursor = history_entry_page(
            owner_id=_user_id(request), wallet_id=wallet_id, filters=HistoryFilters(**params),
            cursor=cursor, limit=limit,
        )  # fmt: skip
    except InvalidCursor:
        raise ApiError("The cursor is not valid; start again without one.", code="invalid_cursor") from None
    return Response(HistoryPageSerializer({"results": entries, "next": next_cursor}).data)


def _user_id(request) -> int:
    if request.user.id is None:
        raise ApiError("A user token is required.", code="user_required", status_code=status.HTTP_403_FORBIDDEN)
    return request.user.id


def _owned(wallet_id: UUID, user_id: int) -> bool:
    if wallet_is_owned_by(wallet_id=wallet_id, owner_id=user_id):
        return True
    if wallet_is_known(wallet_id=wallet_id):
        return False
    try:  # a wallet this service has not heard of yet: a brand-new one, whose WalletOpened is on its way
        return wallet_owner_learn(wallet_id=wallet_id) == user_id
    except ServiceUnavailable:
        raise ApiError(
            "The wallet service is unavailable.",
            code="service_unavailable",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        ) from None


_WHOSE = (
    " A movement shows in a wallet owner's history once the wallet service accepted it; a refused attempt"
    " shows only in its actor's history, and only when the wallet is the actor's."
)


class WalletHistoryListApi(APIView):
    @extend_schema(
        parameters=[HistoryQuerySerializer], responses=HistoryPageSerializer,
        description="The caller's own wallet's entries, newest first; 404 if the wallet is not the caller's." + _WHOSE,
    )  # fmt: skip
    def get(self, request, wallet_id: UUID):
        # Another user's wallet and an unknown one answer the same: never reveal that it exists.
        if not _owned(wallet_id, _user_id(request)):
            raise ApiError("Wallet not found.", code="wallet_not_found", status_code=status.HTTP_404_NOT_FOUND)
        return _page_response(request, wallet_id=wallet_id)


class ActivityListApi(APIView):
    @extend_schema(
        parameters=[HistoryQuerySerializer], responses=HistoryPageSerializer,
        description="Every entry of the caller's, newest first." + _WHOSE,
    )  # fmt: skip
    def get(self, request):
        return _page_response(request)
