from django.db import models


class Effect(models.Model):
    """One row per applied event: a second row for one event id would be a double effect."""

    event_id = models.UUIDField()
    payload = models.JSONField()
    applied_at = models.DateTimeField(auto_now_add=True)
