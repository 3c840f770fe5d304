from django.db import models


class InboxEvent(models.Model):
    """An event a consumer has applied; written in the same transaction as the effect."""

    consumer = models.CharField(max_length=100)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "inbox_event"
        constraints = [models.UniqueConstraint(fields=["consumer", "event_id"], name="inbox_once_per_consumer")]


class DeadLetter(models.Model):
    """A copy of what a consumer sent to the dead-letter topic, for staff to see and replay."""

    consumer = models.CharField(max_length=100)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.TextField(blank=True, default="")
    value = models.TextField()
    error = models.TextField()
    attempts = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "inbox_dead_letter"
