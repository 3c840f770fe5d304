"""Scheduled transfers (API.md "Additions"): owned by transaction_service, which runs them (decision 0014).
The gateway validates the shape and forwards as the caller."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api import client
from api.apis import _errors
from api.shapes import SCHEDULE_REPEATS, ErrorSerializer, ScheduledTransferSerializer
from walletkit.errors import ApiError
from walletkit.fields import AmountField
from walletkit.money import amount_format

RUNS = (
    "Each run is one transfer whose idempotency key is derived from the schedule id and the run date (UTC), so "
    "a run is paid once however often the scheduler restarts. A run refused for funds or limits is FAILED with "
    "its reason (pushed to the owner like any transaction) and the schedule goes on. Monthly on the 29th–31st "
    "runs on the month's last day in shorter months."
)


def _json(data: dict) -> dict:
    """Validated fields as JSON for the service: dates ISO, amounts as 4-digit strings."""
    out = {}
    for name, value in data.items():
        if name == "amount":
            value = amount_format(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, UUID):
            value = str(value)
        out[name] = value
    return out


class ScheduledTransferListCreateApi(APIView):
    @extend_schema_serializer(component_name="ScheduledTransferCreate")
    class InputSerializer(serializers.Serializer):
        from_wallet_id = serializers.UUIDField(help_text="One of the caller's wallets.")
        to_wallet_id = serializers.UUIDField()
        amount = AmountField()
        start_date = serializers.DateField(help_text="UTC date, today or later; a run due today starts within seconds.")
        repeat = serializers.ChoiceField(choices=SCHEDULE_REPEATS)
        end_date = serializers.DateField(required=False, allow_null=True, help_text="Last possible run date (UTC).")
        note = serializers.CharField(required=False, allow_blank=True, max_length=140)

    @extend_schema(
        operation_id="scheduled_transfers_create",
        description=RUNS,
        request=InputSerializer,
        responses={
            201: ScheduledTransferSerializer,
            **_errors(400, 401, 503),
            404: OpenApiResponse(
                ErrorSerializer, description="`wallet_not_found`: `from_wallet_id` is not the caller's."
            ),
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["from_wallet_id"] == data.validated_data["to_wallet_id"]:
            raise ApiError("A transfer needs two different wallets.", code="same_wallet")
        return client.forward(
            request, "POST", "transaction", "/scheduled-transfers", output=ScheduledTransferSerializer,
            json=_json(data.validated_data),
        )  # fmt: skip

    @extend_schema(
        operation_id="scheduled_transfers_list",
        description="The caller's schedules, newest first (at most 100), each with its runs.",
        responses={200: ScheduledTransferSerializer(many=True), **_errors(401, 503)},
    )
    def get(self, request):
        return client.forward(
            request, "GET", "transaction", "/scheduled-transfers", output=ScheduledTransferSerializer, many=True
        )


class ScheduledTransferDetailApi(APIView):
    @extend_schema_serializer(component_name="ScheduledTransferUpdate")
    class InputSerializer(serializers.Serializer):
        amount = AmountField(required=False, help_text="For runs not yet started.")
        end_date = serializers.DateField(required=False, allow_null=True)
        status = serializers.ChoiceField(
            choices=["ACTIVE", "PAUSED"], required=False,
            help_text="PAUSED: no run starts. ACTIVE again: the dates missed while paused are skipped, not paid late.",
        )  # fmt: skip

    @extend_schema(
        operation_id="scheduled_transfers_retrieve",
        responses={200: ScheduledTransferSerializer, **_errors(401, 404, 503)},
    )
    def get(self, request, schedule_id: UUID):
        return client.forward(
            request, "GET", "transaction", f"/scheduled-transfers/{schedule_id}", output=ScheduledTransferSerializer
        )

    @extend_schema(
        operation_id="scheduled_transfers_partial_update",
        request=InputSerializer,
        responses={
            200: ScheduledTransferSerializer,
            **_errors(400, 401, 404, 503),
            409: OpenApiResponse(ErrorSerializer, description="`schedule_finished`: it is CANCELLED or COMPLETED."),
        },
    )
    def patch(self, request, schedule_id: UUID):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return client.forward(
            request, "PATCH", "transaction", f"/scheduled-transfers/{schedule_id}", output=ScheduledTransferSerializer,
            json=_json(data.validated_data),
        )  # fmt: skip

    @extend_schema(
        operation_id="scheduled_transfers_destroy",
        description="Status CANCELLED; no run starts after this (one being paid at this instant completes).",
        responses={204: None, **_errors(401, 404, 503)},
    )
    def delete(self, request, schedule_id: UUID):
        try:
            client.service_call("DELETE", "transaction", f"/scheduled-transfers/{schedule_id}", user_token=request.auth)
        except client.DownstreamError as error:
            return Response(error.body, status=error.status_code)
        return Response(status=status.HTTP_204_NO_CONTENT)
