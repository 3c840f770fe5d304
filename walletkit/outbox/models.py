from django.db import models


class OutboxEvent(models.Model):
    """An event committed with the business change that caused it, waiting to be published."""

    event_id = models.UUIDField(unique=True)
    topic = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    envelope = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "outbox_event"
        indexes = [
            models.Index(fields=["id"], name="outbox_unpublished", condition=models.Q(published_at__isnull=True)),
            models.Index(fields=["key"], name="outbox_key"),
        ]

    def __str__(self) -> str:
        return f"{self.envelope.get('event_type')} {self.key}"
