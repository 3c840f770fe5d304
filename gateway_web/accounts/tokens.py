"""JWT issuing (simplejwt, RS256): the claims every service reads, rotation that cannot fork, and
the login lockouts (django-axes per username + address, accounts.lockout per username)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework import exceptions, serializers, status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.lockout import username_failure_record, username_locked_out
from walletkit.errors import ApiError


def _invalid(detail: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail, code="token_not_valid")


class LoginLockedOut(ApiError):
    def __init__(self):
        super().__init__(
            "Too many failed login attempts; try again later.",
            code="locked_out", status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        )  # fmt: skip


class TokenObtainSerializer(TokenObtainPairSerializer):
    """Adds ``is_staff`` so services can check staff rights without asking the gateway (a refresh
    re-reads it from the user: token_pair_rotate).

    Raises LoginLockedOut, before any password is checked, for a username locked by either
    lockout; the API and the login page both log in through here.
    """

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token["is_staff"] = user.is_staff
        return token

    def validate(self, attrs):
        username = attrs[self.username_field]
        if username_locked_out(username=username):
            raise LoginLockedOut()
        try:
            return super().validate(attrs)
        except exceptions.AuthenticationFailed:
            # django-axes flags the Django request when it refused without checking the password:
            # that guess is not counted again, so one address alone cannot lock a stranger out.
            if getattr(self.context.get("request"), "axes_locked_out", False):
                raise LoginLockedOut() from None
            username_failure_record(username=username)
            raise


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
    # The staff flag of now, not of the login: a demotion takes effect at the next refresh.
    token["is_staff"] = user.is_staff
    access = str(token.access_token)
    token.set_jti()
    token.set_exp()
    token.set_iat()
    token.outstand()
    return {"access": access, "refresh": str(token)}


def refresh_token_live(*, refresh: str) -> bool:
    """Valid, issued here, and neither rotated nor revoked (logout blacklists it)."""
    try:
        jti = RefreshToken(refresh)["jti"]
    except TokenError:
        return False
    return OutstandingToken.objects.filter(jti=jti, blacklistedtoken__isnull=True).exists()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
