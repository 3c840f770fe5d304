"""Signed-in sessions: one per refresh-token family, so a user can see and end them one by one."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Session(models.Model):
    """A login starts one; every rotation of its refresh token continues it (the tokens carry its
    id as the ``sid`` claim, access tokens too); a revocation, a logout, a password reset or change
    ends it. ``refresh_jti`` is the one refresh token of the family still usable: rotation
    blacklists the previous one, so a family never has two."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_sessions")
    created_at = models.DateTimeField(default=timezone.now)
    # When a token of the family was last issued (the login or a refresh), not every request.
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    user_agent = models.CharField(max_length=300, blank=True)
    refresh_jti = models.CharField(max_length=255, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "expires_at"], name="accounts_session_user_live")]

    def __str__(self) -> str:
        return f"session {self.id} of user {self.user_id}"
