"""URLs every service serves: health, readiness, metrics and the internal outbox controls."""

from django.urls import path

from walletkit import health, metrics
from walletkit.inbox.apis import DeadLetterListApi
from walletkit.outbox.apis import OutboxRepublishApi

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("internal/outbox/republish", OutboxRepublishApi.as_view(), name="outbox-republish"),
    path("internal/dead-letters", DeadLetterListApi.as_view(), name="dead-letters"),
]
