"""Per-username login lockout, on top of django-axes' username + address one.

Axes counts failures per username AND address, so an attacker who changes address every few
guesses never trips it. This counts failures per username alone, in the shared Redis cache (every
gateway process counts together): ``LOGIN_USERNAME_FAILURE_LIMIT`` failures within the axes
cool-off lock the username for everyone until the cool-off has passed without a counted failure.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework import status

from walletkit.errors import ApiError


class LoginLockedOut(ApiError):
    def __init__(self):
        super().__init__(
            "Too many failed login attempts; try again later.",
            code="locked_out", status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        )  # fmt: skip


def _key(username: str) -> str:
    # Case-folded: usernames are unique whatever their case, so "Alice" and "alice" share a count.
    return f"login:failures:{username.casefold()}"


def _cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def username_locked_out(*, username: str) -> bool:
    return (cache.get(_key(username)) or 0) >= settings.LOGIN_USERNAME_FAILURE_LIMIT


def username_failure_record(*, username: str) -> None:
    """One more failed password for ``username``, from wherever. The count lives until a whole
    cool-off passes without a new failure."""
    key = _key(username)
    cache.add(key, 0, timeout=_cooloff_seconds())
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr: start again
        cache.set(key, 1, timeout=_cooloff_seconds())
    cache.touch(key, timeout=_cooloff_seconds())


def login_code_failure_record(*, username: str, request: HttpRequest | None) -> None:
    """A wrong second-factor code after the right password counts as a failed login, as a wrong
    password does: here, and in django-axes' username + address lockout, which listens to Django's
    ``user_login_failed`` (it needs the Django request, not DRF's wrapper)."""
    username_failure_record(username=username)
    if request is not None:
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
