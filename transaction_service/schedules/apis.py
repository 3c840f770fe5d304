"""Thin DRF views over schedules.services; the caller is the user whose token the gateway forwarded."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from schedules import selectors, services
from schedules.models import Repeat, ScheduleStatus
from walletkit.errors import ApiError
from walletkit.http import ServiceUnavailable


class RunOutputSerializer(serializers.Serializer):
    run_on = serializers.DateField()
    transaction_id = serializers.UUIDField(allow_null=True)
    status = serializers.CharField(help_text="The transaction's status, or PENDING / FAILED / SKIPPED.")
    failure_reason = serializers.CharField(allow_null=True)
    amount = serializers.CharField()


class ScheduleOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    from_wallet_id = serializers.UUIDField()
    to_wallet_id = serializers.UUIDField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    note = serializers.CharField()
    repeat = serializers.ChoiceField(choices=Repeat.choices)
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=ScheduleStatus.choices)
    next_run_on = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField()
    runs = RunOutputSerializer(many=True)

    def to_representation(self, instance):
        return selectors.schedule_shape(instance)


def _user_id(request) -> int:
    if request.user.id is None or request.user.service:
        raise PermissionDenied("A user is required.")
    return request.user.id


def _reload(schedule, owner_id: int):
    return selectors.schedule_get_for_owner(schedule_id=schedule.id, owner_id=owner_id)


class ScheduleListCreateApi(APIView):
    class CreateInputSerializer(serializers.Serializer):
        from_wallet_id = serializers.UUIDField()
        to_wallet_id = serializers.UUIDField()
        amount = serializers.JSONField()  # raw: amount_parse must see a float to refuse it
        start_date = serializers.DateField()
        repeat = serializers.ChoiceField(choices=Repeat.choices)
        end_date = serializers.DateField(required=False, allow_null=True)
        note = serializers.CharField(required=False, allow_blank=True, max_length=140, default="")

    @extend_schema(request=CreateInputSerializer, responses={201: ScheduleOutputSerializer})
    def post(self, request):
        owner_id = _user_id(request)
        data = self.CreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            schedule = services.schedule_create(owner_id=owner_id, user_token=request.auth, **data.validated_data)
        except ServiceUnavailable:
            raise ApiError(
                "The wallet service is unavailable; retry later.", code="service_unavailable",
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            ) from None  # fmt: skip
        return Response(ScheduleOutputSerializer(_reload(schedule, owner_id)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ScheduleOutputSerializer(many=True)})
    def get(self, request):
        schedules = selectors.schedule_list_for_owner(owner_id=_user_id(request))
        return Response(ScheduleOutputSerializer(schedules, many=True).data)


class ScheduleDetailApi(APIView):
    class UpdateInputSerializer(serializers.Serializer):
        amount = serializers.JSONField(required=False)
        end_date = serializers.DateField(required=False, allow_null=True)
        status = serializers.ChoiceField(choices=[ScheduleStatus.ACTIVE, ScheduleStatus.PAUSED], required=False)

    def _get(self, request, schedule_id):
        schedule = selectors.schedule_get_for_owner(schedule_id=schedule_id, owner_id=_user_id(request))
        if schedule is None:
            raise ApiError("Scheduled transfer not found.", code="not_found", status_code=status.HTTP_404_NOT_FOUND)
        return schedule

    @extend_schema(responses={200: ScheduleOutputSerializer})
    def get(self, request, schedule_id):
        return Response(ScheduleOutputSerializer(self._get(request, schedule_id)).data)

    @extend_schema(request=UpdateInputSerializer, responses={200: ScheduleOutputSerializer})
    def patch(self, request, schedule_id):
        owner_id = _user_id(request)
        data = self.UpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        schedule = services.schedule_update(schedule_id=schedule_id, owner_id=owner_id, changes=data.validated_data)
        return Response(ScheduleOutputSerializer(_reload(schedule, owner_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, schedule_id):
        services.schedule_cancel(schedule_id=schedule_id, owner_id=_user_id(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
