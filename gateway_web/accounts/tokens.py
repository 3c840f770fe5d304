"""JWT issuing (simplejwt, RS256): the claims every service reads, and rotation that cannot fork."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework import exceptions, serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken


def _invalid(detail: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail, code="token_not_valid")


class TokenObtainSerializer(TokenObtainPairSerializer):
    """Adds ``is_staff`` so services can check staff rights without asking the gateway.
    Refreshed access tokens copy it from the refresh token."""

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token["is_staff"] = user.is_staff
        return token


@transaction.atomic
def token_pair_rotate(*, refresh: str) -> dict[str, str]:
    """A new access + refresh pair; the presented refresh token is blacklisted.

    The outstanding-token row is locked first, so two concurrent uses of the same refresh token
    cannot both succeed: the second waits, then sees the first one's blacklist entry.
    """
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise _invalid(str(exc)) from None
    outstanding = OutstandingToken.objects.select_for_update().filter(jti=token["jti"]).first()
    if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
        raise _invalid("Token is blacklisted")
    user = get_user_model().objects.filter(id=token.get("user_id"), is_active=True).first()
    if user is None:
        raise _invalid("No active account found for the given token.")
    BlacklistedToken.objects.create(token=outstanding)
    access = str(token.access_token)
    token.set_jti()
    token.set_exp()
    token.set_iat()
    token.outstand()
    return {"access": access, "refresh": str(token)}


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
