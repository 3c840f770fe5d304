from django.urls import path

from schedules.apis import ScheduleDetailApi, ScheduleListCreateApi

urlpatterns = [
    path("scheduled-transfers", ScheduleListCreateApi.as_view(), name="schedules"),
    path("scheduled-transfers/<uuid:schedule_id>", ScheduleDetailApi.as_view(), name="schedule-detail"),
]
