"""Writes on users: registration (with the default wallet) and logout."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from live.sessions import user_sockets_close
from rest_framework import exceptions, status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from walletkit.errors import ApiError
from walletkit.http import ServiceUnavailable, service_request

DEFAULT_WALLET_NAME = "Main"


def _taken(username: str, email: str) -> dict[str, list[str]]:
    User = get_user_model()
    errors = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["A user with that username already exists."]
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["A user with that email already exists."]
    return errors


@transaction.atomic
def user_register(*, username: str, email: str, password: str) -> AbstractUser:
    """The user and their default wallet exist together or not at all.

    The wallet is opened while the user's row is still uncommitted: if the wallet service refuses
    or is down, the user rolls back. A wallet opened just before a failed commit stays orphaned
    under a user id PostgreSQL never hands out again, which is harmless.
    """
    User = get_user_model()
    user = User(username=username, email=email)
    errors = _taken(username, email)
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise exceptions.ValidationError(errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Lost a race with a concurrent sign-up that the checks above could not see yet.
        raise exceptions.ValidationError(_taken(username, email) or {"username": ["Already taken."]}) from None
    _default_wallet_open(user_id=user.id)
    return user


def _default_wallet_open(*, user_id: int) -> None:
    unavailable = ApiError(
        "Could not open your wallet right now; nothing was created. Try again shortly.",
        code="service_unavailable",
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    try:
        response = service_request(
            "POST", "wallet", "/wallets", on_behalf_of=user_id,
            json={"currency": settings.DEFAULT_CURRENCY, "name": DEFAULT_WALLET_NAME},
        )  # fmt: skip
    except ServiceUnavailable:
        raise unavailable from None
    if response.status_code != status.HTTP_201_CREATED:
        raise unavailable


def _invalid(detail: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail, code="token_not_valid")


def user_logout(*, user_id: int, refresh: str) -> None:
    """Blacklists the caller's own refresh token (someone else's is refused, never revoked) and
    closes the user's websockets (a socket would otherwise live on until its token expired)."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise _invalid(str(exc)) from None
    if str(token.get("user_id")) != str(user_id):
        raise _invalid("This refresh token belongs to another user.")
    token.blacklist()
    transaction.on_commit(lambda: user_sockets_close(user_id=user_id))
