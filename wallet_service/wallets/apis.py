"""Thin DRF views: validate input, call one service or selector, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from walletkit.auth import IsUser, internal_callers
from walletkit.errors import ApiError
from walletkit.fields import AmountField, CurrencyField
from wallets import selectors, services
from wallets.models import Hold


class WalletOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    owner_id = serializers.IntegerField()
    name = serializers.CharField()
    currency = serializers.CharField()
    balance = AmountField()
    held = AmountField()
    available = AmountField()
    created_at = serializers.DateTimeField()


def _acting_user_id(request) -> int:
    if request.user.id is None:
        raise ApiError(
            "This call needs a user: a user token, or a service token on behalf of one.",
            code="user_required",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    return request.user.id


class WalletListOpenApi(APIView):
    """``GET /wallets``: the caller's wallets. ``POST /wallets``: open one for the caller."""

    # The gateway, on a user's behalf: the sign-up wallet, and a recipient's wallets by username.
    permission_classes = [IsUser | internal_callers("gateway")]

    class OpenInputSerializer(serializers.Serializer):
        currency = CurrencyField()
        name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    @extend_schema(responses=WalletOutputSerializer(many=True))
    def get(self, request):
        wallets = selectors.wallet_list_for_owner(owner_id=_acting_user_id(request))
        return Response(WalletOutputSerializer(wallets, many=True).data)

    @extend_schema(request=OpenInputSerializer, responses={201: WalletOutputSerializer})
    def post(self, request):
        owner_id = _acting_user_id(request)
        data = self.OpenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = services.wallet_open(owner_id=owner_id, **data.validated_data)
        return Response(WalletOutputSerializer(wallet).data, status=status.HTTP_201_CREATED)


class WalletDetailApi(APIView):
    """The owner sees their wallet; an internal service sees any; everyone else gets 404."""

    # The gateway (a recipient by wallet id), history (an owner it has not heard of yet) and transaction
    # (whose wallet a payment request is paid into).
    permission_classes = [IsUser | internal_callers("gateway", "history", "transaction")]

    @extend_schema(responses=WalletOutputSerializer)
    def get(self, request, wallet_id):
        owner_id = None if request.user.service else request.user.id
        wallet = selectors.wallet_get(wallet_id=wallet_id, owner_id=owner_id)
        if wallet is None:
            raise ApiError("Wallet not found.", code="wallet_not_found", status_code=status.HTTP_404_NOT_FOUND)
        return Response(WalletOutputSerializer(wallet).data)


class WalletLimitsApi(APIView):
    """The owner's spending limits and what today and this month (UTC) have used; anyone else: 404."""

    permission_classes = [IsUser]

    class InputSerializer(serializers.Serializer):
        daily_out = AmountField(allow_null=True)
        monthly_out = AmountField(allow_null=True)

    class OutputSerializer(serializers.Serializer):
        daily_out = AmountField(allow_null=True)
        monthly_out = AmountField(allow_null=True)
        daily_used = AmountField()
        monthly_used = AmountField()

    def _render(self, wallet) -> Response:
        used = selectors.wallet_outgoing_used(wallet_id=wallet.id)
        return Response(
            self.OutputSerializer(
                {
                    "daily_out": wallet.daily_out_limit,
                    "monthly_out": wallet.monthly_out_limit,
                    "daily_used": used.daily,
                    "monthly_used": used.monthly,
                }
            ).data
        )

    @extend_schema(responses=OutputSerializer)
    def get(self, request, wallet_id):
        wallet = selectors.wallet_get(wallet_id=wallet_id, owner_id=_acting_user_id(request))
        if wallet is None:
            raise ApiError("Wallet not found.", code="wallet_not_found", status_code=status.HTTP_404_NOT_FOUND)
        return self._render(wallet)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def put(self, request, wallet_id):
        owner_id = _acting_user_id(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = services.wallet_limits_set(wallet_id=wallet_id, owner_id=owner_id, **data.validated_data)
        return self._render(wallet)


class HoldOutputSerializer(serializers.Serializer):
    transaction_id = serializers.UUIDField()
    status = serializers.CharField()
    type = serializers.CharField()
    amount = AmountField()
    currency = serializers.CharField()
    reason = serializers.CharField()
    from_wallet_id = serializers.UUIDField(allow_null=True)
    to_wallet_id = serializers.UUIDField(allow_null=True)
    from_owner_id = serializers.SerializerMethodField()
    to_owner_id = serializers.SerializerMethodField()

    def get_from_owner_id(self, hold: Hold) -> int | None:
        return hold.from_wallet.owner_id if hold.from_wallet_id else None

    def get_to_owner_id(self, hold: Hold) -> int | None:
        return hold.to_wallet.owner_id if hold.to_wallet_id else None


class HoldReserveApi(APIView):
    """Internal, on behalf of the acting user: reserve funds (or authorize a deposit) for one transaction."""

    permission_classes = [internal_callers("transaction")]

    class InputSerializer(serializers.Serializer):
        transaction_id = serializers.UUIDField()
        type = serializers.ChoiceField(choices=Hold.Type.choices)
        from_wallet_id = serializers.UUIDField(required=False, allow_null=True, default=None)
        to_wallet_id = serializers.UUIDField(required=False, allow_null=True, default=None)
        amount = AmountField()
        currency = CurrencyField(required=False, allow_null=True, default=None)

    @extend_schema(request=InputSerializer, responses={200: HoldOutputSerializer, 201: HoldOutputSerializer})
    def post(self, request):
        acting_user_id = _acting_user_id(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hold, created = services.hold_reserve(acting_user_id=acting_user_id, **data.validated_data)
        return Response(
            HoldOutputSerializer(hold).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class HoldVoidApi(APIView):
    """Internal (the sweeper), on behalf of the transaction's owner: end a transaction that never reserved.

    200 with the VOIDED tombstone, or with the hold a reserve already made (the sweeper applies that instead).
    """

    permission_classes = [internal_callers("transaction")]

    class InputSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=Hold.Type.choices)
        amount = AmountField()

    @extend_schema(request=InputSerializer, responses={200: HoldOutputSerializer})
    def post(self, request, transaction_id):
        acting_user_id = _acting_user_id(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hold, _voided = services.hold_void(
            transaction_id=transaction_id, acting_user_id=acting_user_id, **data.validated_data
        )
        return Response(HoldOutputSerializer(hold).data)


class HoldDetailApi(APIView):
    permission_classes = [internal_callers("transaction")]

    @extend_schema(responses=HoldOutputSerializer)
    def get(self, request, transaction_id):
        hold = selectors.hold_get(transaction_id=transaction_id)
        if hold is None:
            raise ApiError("Hold not found.", code="hold_not_found", status_code=status.HTTP_404_NOT_FOUND)
        return Response(HoldOutputSerializer(hold).data)


class ReconciliationWalletListApi(APIView):
    """Internal (reconciliation): a keyset page of every wallet with its holds, from one snapshot."""

    permission_classes = [internal_callers("ledger")]

    class FilterSerializer(serializers.Serializer):
        after = serializers.UUIDField(required=False, default=None)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=500)
        captured_since = serializers.DateTimeField()

    class WalletSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        owner_id = serializers.IntegerField()
        currency = serializers.CharField()
        balance = AmountField()
        held = AmountField()
        reserved = AmountField()
        version = serializers.IntegerField()

    class HoldSerializer(serializers.Serializer):
        transaction_id = serializers.UUIDField()
        type = serializers.CharField()
        status = serializers.CharField()
        amount = AmountField()
        currency = serializers.CharField()
        from_wallet_id = serializers.UUIDField(allow_null=True)
        to_wallet_id = serializers.UUIDField(allow_null=True)
        created_at = serializers.DateTimeField()
        updated_at = serializers.DateTimeField()

    class OutputSerializer(serializers.Serializer):
        wallets = serializers.ListField()
        holds = serializers.ListField()
        next = serializers.CharField(allow_null=True)

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer)
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = selectors.reconciliation_wallet_page(**filters.validated_data)
        return Response(
            {
                "wallets": self.WalletSerializer(page.wallets, many=True).data,
                "holds": self.HoldSerializer(page.holds, many=True).data,
                "next": page.next,
            }
        )


class WalletResyncApi(APIView):
    """Internal (reconciliation repair): set the balance to the ledger's figure, audited."""

    permission_classes = [internal_callers("ledger")]

    class InputSerializer(serializers.Serializer):
        balance = serializers.DecimalField(max_digits=19, decimal_places=4, min_value=0)
        expected_version = serializers.IntegerField(min_value=0)
        reason = serializers.CharField(max_length=500)
        actor = serializers.CharField(max_length=100)

    class OutputSerializer(WalletOutputSerializer):
        version = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request, wallet_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = services.wallet_resync(wallet_id=wallet_id, **data.validated_data)
        return Response(self.OutputSerializer(wallet).data)
