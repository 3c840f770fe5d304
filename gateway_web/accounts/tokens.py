"""JWT issuing (simplejwt, RS256): the claims every service reads, rotation that cannot fork, the
session (refresh-token family) each token belongs to, and the login lockouts (django-axes per
username + address, accounts.lockout per username)."""

from __future__ import annotations

from uuid import UUID

import jwt
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions, serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.lockout import LoginLockedOut, username_failure_record, username_locked_out
from accounts.models import Session
from accounts.two_factor import login_second_factor_check

# The claim naming the session a refresh token (and every access token made from it) belongs to.
SESSION_CLAIM = "sid"
USER_AGENT_MAX_LENGTH = 300


def _invalid(detail: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail, code="token_not_valid")


def user_agent_of(request: HttpRequest | None) -> str:
    return (request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:USER_AGENT_MAX_LENGTH]


class TokenObtainSerializer(TokenObtainPairSerializer):
    """Adds ``is_staff`` so services can check staff rights without asking the gateway (a refresh
    re-reads it from the user: token_pair_rotate).

    Raises LoginLockedOut, before any password is checked, for a username locked by either
    lockout; the API and the login page both log in through here. With two-factor sign-in on, the
    right password is not enough: ``otp`` must carry a code (accounts.two_factor).
    """

    otp = serializers.CharField(required=False, allow_blank=True, max_length=64)

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
            # simplejwt's own check of the credentials (it sets self.user); the pair is made below,
            # in a new session, instead of by TokenObtainPairSerializer.validate.
            super(TokenObtainPairSerializer, self).validate(attrs)
        except exceptions.AuthenticationFailed:
            # django-axes flags the Django request when it refused without checking the password:
            # that guess is not counted again, so one address alone cannot lock a stranger out.
            if getattr(self.context.get("request"), "axes_locked_out", False):
                raise LoginLockedOut() from None
            username_failure_record(username=username)
            raise
        login_second_factor_check(user=self.user, code=attrs.get("otp"), request=self.context.get("request"))
        refresh = session_start(user=self.user, user_agent=user_agent_of(self.context.get("request")))
        return {"refresh": str(refresh), "access": str(refresh.access_token)}


def session_start(*, user, user_agent: str = "") -> RefreshToken:
    """A new session and its first refresh token (outstanding, carrying the session's id)."""
    refresh = TokenObtainSerializer.get_token(user)
    session = Session.objects.create(
        user=user, user_agent=user_agent[:USER_AGENT_MAX_LENGTH],
        expires_at=datetime_from_epoch(refresh["exp"]), refresh_jti=refresh["jti"],
    )  # fmt: skip
    refresh[SESSION_CLAIM] = str(session.id)
    return refresh


def session_id_of(access: str | None) -> UUID | None:
    """The session of an access token the caller has ALREADY verified (None: a token from before
    sessions existed)."""
    if not access:
        return None
    sid = jwt.decode(access, options={"verify_signature": False}).get(SESSION_CLAIM)
    return UUID(sid) if sid else None


def _session_locked(token: RefreshToken) -> Session | None:
    sid = token.get(SESSION_CLAIM)
    if sid is None:
        return None  # issued before sessions existed: rotation starts its session
    session = Session.objects.select_for_update().filter(id=sid).first()
    if session is None or session.revoked_at is not None:
        raise _invalid("This session was signed out.")
    return session


@transaction.atomic
def token_pair_rotate(*, refresh: str) -> dict[str, str]:
    """A new access + refresh pair of the same session; the presented refresh token is blacklisted.

    Locks, in this order (every writer of sessions takes them so, accounts.services): the session
    row, then the outstanding-token row. Two concurrent uses of the same refresh token cannot both
    succeed: the second waits, then sees the first one's blacklist entry; a revocation of the
    session waits for a rotation in flight and then blacklists the token it made.
    """
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise _invalid(str(exc)) from None
    session = _session_locked(token)
    outstanding = OutstandingToken.objects.select_for_update().filter(jti=token["jti"]).first()
    if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
        raise _invalid("Token is blacklisted")
    user = get_user_model().objects.filter(id=token.get("user_id"), is_active=True).first()
    if user is None:
        raise _invalid("No active account found for the given token.")
    BlacklistedToken.objects.create(token=outstanding)
    # The staff flag of now, not of the login: a demotion takes effect at the next refresh.
    token["is_staff"] = user.is_staff
    if session is None:
        session = Session.objects.create(user=user, expires_at=timezone.now())
        token[SESSION_CLAIM] = str(session.id)
    access = str(token.access_token)
    token.set_jti()
    token.set_exp()
    token.set_iat()
    token.outstand()
    session.refresh_jti, session.expires_at = token["jti"], datetime_from_epoch(token["exp"])
    session.last_used_at = timezone.now()
    session.save(update_fields=["refresh_jti", "expires_at", "last_used_at"])
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
