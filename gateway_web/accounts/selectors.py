"""Reads on users and their signed-in sessions."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.utils import timezone

from accounts.models import Session


def user_get_active(*, user_id: int) -> AbstractUser | None:
    return get_user_model().objects.filter(id=user_id, is_active=True).first()


def session_list_live(*, user_id: int) -> list[Session]:
    """The user's sessions whose refresh token still works, most recently used first."""
    return list(
        Session.objects.filter(user_id=user_id, revoked_at__isnull=True, expires_at__gt=timezone.now()).order_by(
            "-last_used_at"
        )
    )
