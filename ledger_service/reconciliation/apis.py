"""Staff APIs behind the gateway's reconciliation page. Staff user tokens only (``is_staff`` claim):
anyone else — a user, a service — gets 403, an anonymous caller 401."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from reconciliation import clients, selectors, services
from reconciliation.models import Finding, ReconciliationRun, RepairAudit
from walletkit.errors import ApiError
from walletkit.http import ServiceUnavailable
from walletkit.money import InvalidAmount, amount_parse


class IsStaffUser(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and getattr(user, "is_staff", False) and not getattr(user, "service", None))


def _actor(request) -> str:
    return f"staff:{request.user.id}"


class FindingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Finding
        fields = [
            "id", "run_id", "kind", "severity", "subject", "subject_ids", "currency", "expected", "actual",
            "detail", "status", "resolved_by", "resolved_at", "resolution",
        ]  # fmt: skip


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReconciliationRun
        fields = [
            "id", "started_at", "finished_at", "status", "trigger", "totals", "counts", "error", "mode", "window_start",
        ]  # fmt: skip


class RunDetailSerializer(RunSerializer):
    findings = FindingSerializer(many=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "findings"]


class RepairSerializer(serializers.ModelSerializer):
    class Meta:
        model = RepairAudit
        fields = [
            "id",
            "kind",
            "actor",
            "reason",
            "finding_id",
            "wallet_id",
            "entry_id",
            "before",
            "after",
            "created_at",
        ]


class StaffApi(APIView):
    permission_classes = [IsStaffUser]


class RunListCreateApi(StaffApi):
    """``GET``: runs, newest first (``before`` = a run id, keyset). ``POST``: run now, 201 with its findings.

    A run's ``mode`` is FULL (all history) or INCREMENTAL (what changed at or after ``window_start``);
    staff's runs are always FULL."""

    class FilterSerializer(serializers.Serializer):
        before = serializers.IntegerField(required=False, default=None)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)

    @extend_schema(parameters=[FilterSerializer], responses=RunSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        runs, next_before = selectors.run_list(**filters.validated_data)
        return Response({"results": RunSerializer(runs, many=True).data, "next": next_before})

    @extend_schema(request=None, responses={201: RunDetailSerializer})
    def post(self, request):
        run = services.run_execute(trigger=_actor(request), full=True)
        return Response(RunDetailSerializer(selectors.run_get(run_id=run.id)).data, status=status.HTTP_201_CREATED)


class RunDetailApi(StaffApi):
    @extend_schema(responses=RunDetailSerializer)
    def get(self, request, run_id):
        run = selectors.run_get(run_id=run_id)
        if run is None:
            raise ApiError("Run not found.", code="run_not_found", status_code=status.HTTP_404_NOT_FOUND)
        return Response(RunDetailSerializer(run).data)


class TotalsApi(StaffApi):
    """Per-currency totals of the latest finished run."""

    def get(self, request):
        run = selectors.run_latest_finished()
        if run is None:
            return Response({"run_id": None, "finished_at": None, "totals": {}})
        return Response({"run_id": run.id, "finished_at": run.finished_at, "totals": run.totals})


class FindingResolveApi(StaffApi):
    """Resolve with a reason: ``resync`` the wallet from the ledger, an ``adjust``ing entry (then a
    resync), or ``acknowledge`` (nothing to move)."""

    class InputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=["resync", "adjust", "acknowledge"])
        reason = serializers.CharField(max_length=2000)
        amount = serializers.CharField(required=False)  # adjust: signed, e.g. "-5.0000"

    @extend_schema(request=InputSerializer, responses=FindingSerializer)
    def post(self, request, finding_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        action, reason, actor = data.validated_data["action"], data.validated_data["reason"], _actor(request)
        finding = Finding.objects.filter(id=finding_id).first()
        if finding is None:
            raise ApiError("Finding not found.", code="finding_not_found", status_code=status.HTTP_404_NOT_FOUND)
        if action == "acknowledge":
            services.finding_acknowledge(finding_id=finding.id, reason=reason, actor=actor)
        else:
            wallet_id = UUID(finding.subject_ids["wallet_id"]) if finding.subject_ids.get("wallet_id") else None
            if wallet_id is None:
                raise ApiError("Only a wallet's finding is repaired by resync or adjustment.", code="not_a_wallet")
            if action == "adjust":
                amount = _signed_amount(data.validated_data.get("amount"))
                services.adjustment_post(
                    wallet_id=wallet_id, amount=amount, reason=reason, actor=actor, finding_id=finding.id
                )
                finding_id_for_resync = None  # closed by the adjustment; the resync is its follow-up
            else:
                finding_id_for_resync = finding.id
            _resync(wallet_id=wallet_id, reason=reason, actor=actor, finding_id=finding_id_for_resync)
        finding.refresh_from_db()
        return Response(FindingSerializer(finding).data)


def _signed_amount(raw) -> object:
    if raw is None:
        raise ApiError("An adjustment needs an amount.", code="invalid")
    negative = isinstance(raw, str) and raw.startswith("-")
    try:
        amount = amount_parse(raw[1:] if negative else raw)
    except InvalidAmount as exc:
        raise ApiError(str(exc), code="invalid_amount") from None
    return -amount if negative else amount


def _resync(**kwargs) -> None:
    try:
        services.wallet_resync_from_ledger(**kwargs)
    except ServiceUnavailable as exc:
        raise ApiError(str(exc), code="service_unavailable", status_code=status.HTTP_503_SERVICE_UNAVAILABLE) from None


class WalletResyncApi(StaffApi):
    """Resync one wallet from the ledger without a finding (e.g. after an adjustment's resync failed)."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)

    def post(self, request, wallet_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _resync(wallet_id=wallet_id, reason=data.validated_data["reason"], actor=_actor(request))
        return Response(RepairSerializer(RepairAudit.objects.filter(wallet_id=wallet_id).latest("id")).data)


class RepairListApi(StaffApi):
    def get(self, request):
        return Response({"results": RepairSerializer(RepairAudit.objects.order_by("-id")[:200], many=True).data})


class StuckSagaListApi(StaffApi):
    def get(self, request):
        return Response(_remote(clients.stuck_sagas))


class DeadLetterListApi(StaffApi):
    def get(self, request):
        return Response(
            {service: _remote(selectors.dead_letters_of, service=service) for service in clients.WORKER_SERVICES}
        )


class OperationsApi(StaffApi):
    """Outbox backlog and consumer lag per service, read from each service's /metrics."""

    def get(self, request):
        result = {}
        for service in clients.WORKER_SERVICES:
            try:
                result[service] = clients.worker_metrics(service=service)
            except ServiceUnavailable as exc:
                result[service] = {"error": str(exc)}
        return Response(result)


def _remote(fn, **kwargs):
    try:
        return fn(**kwargs)
    except ServiceUnavailable as exc:
        raise ApiError(str(exc), code="service_unavailable", status_code=status.HTTP_503_SERVICE_UNAVAILABLE) from None
