"""JWT verification for every service: user tokens from the gateway, service tokens between services.

User access tokens are RS256, issued by the gateway (simplejwt) and verified here with the
public key only. Internal callers acting for no user (the sweeper, reconciliation) present
a short-lived service token signed with the internal service key; it carries ``svc``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from django.conf import settings
from jwt.algorithms import RSAAlgorithm
from rest_framework import authentication, exceptions, permissions

SERVICE_TOKEN_SECONDS = 60


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (id, staff flag) or an internal service (``service`` set)."""

    id: int | None
    is_staff: bool = False
    service: str | None = None
    token: str = ""

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> int | None:
        return self.id


def _read_key(value: str) -> str:
    return value if value.lstrip().startswith("-----BEGIN") else Path(value).read_text()


@lru_cache(maxsize=8)
def _key(setting: str):
    """The key of ``setting``, parsed once per process: PyJWT given a PEM string re-parses it on every
    call, and loading the RSA private key was 38% of transaction_service's CPU (docs/benchmark.md)."""
    return RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(_read_key(getattr(settings, setting)))


def user_token_verify(token: str) -> Principal:
    claims = jwt.decode(
        token, _key("JWT_PUBLIC_KEY"), algorithms=["RS256"], options={"require": ["exp", "user_id", "token_type"]}
    )
    if claims.get("token_type") != "access":
        raise jwt.InvalidTokenError("not an access token")
    return Principal(id=int(claims["user_id"]), is_staff=bool(claims.get("is_staff", False)), token=token)


def service_token_issue(*, on_behalf_of: int | None = None) -> str:
    """A short-lived token for a service-to-service call; ``on_behalf_of`` keeps ownership checks real."""
    now = int(time.time())
    claims = {"svc": settings.SERVICE_NAME, "iat": now, "exp": now + SERVICE_TOKEN_SECONDS, "aud": "internal"}
    if on_behalf_of is not None:
        claims["user_id"] = on_behalf_of
    return jwt.encode(claims, _key("SERVICE_JWT_PRIVATE_KEY"), algorithm="RS256")


def service_token_verify(token: str) -> Principal:
    claims = jwt.decode(
        token, _key("SERVICE_JWT_PUBLIC_KEY"), algorithms=["RS256"], audience="internal",
        options={"require": ["exp", "svc"]},
    )  # fmt: skip
    user_id = claims.get("user_id")
    return Principal(id=int(user_id) if user_id is not None else None, service=claims["svc"], token=token)


class BearerAuthentication(authentication.BaseAuthentication):
    """Accepts a gateway user token or an internal service token. Never trusts an unverified claim."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.", code="invalid_token")
        token = header[1].decode(errors="replace")
        try:
            # Only routes the token to a key; the chosen verify function checks the signature.
            unverified = jwt.decode(token, options={"verify_signature": False})
            principal = service_token_verify(token) if "svc" in unverified else user_token_verify(token)
        except jwt.PyJWTError as exc:
            raise exceptions.AuthenticationFailed(f"Invalid token: {exc}", code="invalid_token") from None
        return principal, token

    def authenticate_header(self, request):
        return "Bearer"


class IsInternalService(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(getattr(request.user, "service", None))


class IsUserOrService(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(getattr(user, "is_authenticated", False) and (user.id is not None or user.service))
