"""Reads on users."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser


def user_get_active(*, user_id: int) -> AbstractUser | None:
    return get_user_model().objects.filter(id=user_id, is_active=True).first()
