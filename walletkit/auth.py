"""JWT verification for every service: user tokens from the gateway, service tokens between services.

User access tokens are RS256, issued by the gateway (simplejwt) and verified here with the
public key only. A service calling another for no user (the sweeper, reconciliation) or on a
user's behalf presents a short-lived service token, scoped by caller and callee (decision 0003):
``svc`` is the caller, proven by the caller's OWN key (the verifier picks the public key by
``svc``); ``aud`` is the one service it is for; each internal view names the callers it serves
with ``internal_callers(...)``.

Key rotation without logging anyone out (decision 0015, docs/production.md): a public-key setting
may hold several PEM keys (a bundle: the current one and, during a rotation, the previous one);
every token names its signing key in the ``kid`` header (a fingerprint of the public key), and a
verifier picks that key from the bundle. Key files are re-read when they change, so a rotation
needs no restart.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from jwt.algorithms import RSAAlgorithm
from rest_framework import authentication, exceptions, permissions

SERVICE_TOKEN_SECONDS = 60
# A token minted for a (callee, user) is reused for this long, so it always has at least
# SERVICE_TOKEN_SECONDS - SERVICE_TOKEN_REUSE_SECONDS left when it is sent.
SERVICE_TOKEN_REUSE_SECONDS = 30


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


logger = logging.getLogger(__name__)
PEM_PUBLIC_KEY = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


def _read_key(value: str) -> str:
    return value if value.lstrip().startswith("-----BEGIN") else Path(value).read_text()


def _version(value: str) -> tuple[int, int] | None:
    """What changes when a key file is replaced (a stat per token: microseconds); PEM text never does."""
    if value.lstrip().startswith("-----BEGIN"):
        return None
    stat = os.stat(value)
    return stat.st_mtime_ns, stat.st_size


def key_id(public_key) -> str:
    """A key's ``kid``: the start of the SHA-256 of its public half, so signer and verifier agree
    without configuring names."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


@lru_cache(maxsize=64)
def _public_keys(value: str, version) -> dict[str, object]:
    """Parsed once per (setting, file version): PyJWT given a PEM string re-parses it on every call
    (loading RSA keys was transaction_service's largest cost in the first profile, docs/benchmark.md)."""
    blocks = PEM_PUBLIC_KEY.findall(_read_key(value))
    if not blocks:
        raise ValueError(f"no PEM public key in {value[:60]!r}")
    keys = [serialization.load_pem_public_key(block.encode()) for block in blocks]
    return {key_id(key): key for key in keys}


@lru_cache(maxsize=16)
def _private_key(value: str, version) -> tuple[str, object]:
    key = RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(_read_key(value))
    return key_id(key.public_key()), key


_last_good: dict[tuple[str, str], object] = {}


def _current(kind: str, value: str, parse):
    """The keys of a setting as its file is now. A file caught half-written (or briefly missing
    while replaced) keeps the last keys that parsed, so a rotation cannot refuse valid tokens."""
    try:
        keys = parse(value, _version(value))
    except (OSError, ValueError) as exc:
        if (kind, value) not in _last_good:
            raise
        logger.warning("key file unreadable; keeping the last good keys", extra={"key": value, "error": str(exc)})
        return _last_good[(kind, value)]
    _last_good[(kind, value)] = keys
    return keys


def public_keys(value: str) -> dict[str, object]:
    """``{kid: public key}`` of a public-key setting (PEM text or a file; one or more keys)."""
    return _current("public", value, _public_keys)


def signing_key(value: str) -> tuple[str, object]:
    """``(kid, private key)`` of a private-key setting."""
    return _current("private", value, _private_key)


def verifying_keys(token: str, value: str) -> list[object]:
    """The keys that may have signed ``token``: the one its ``kid`` names, or — a token from before
    tokens carried one — every key of the bundle. An unknown ``kid`` has none."""
    keys = public_keys(value)
    kid = jwt.get_unverified_header(token).get("kid")
    if kid is None:
        return list(keys.values())
    if kid not in keys:  # (PyJWT has already refused a kid that is not a string)
        raise jwt.InvalidTokenError("signed by a key this service does not trust")
    return [keys[kid]]


def jwt_decode(token: str, value: str, **options) -> dict:
    """``jwt.decode`` with the right key of the bundle ``value``."""
    *others, last = verifying_keys(token, value)
    for key in others:
        try:
            return jwt.decode(token, key, **options)
        except jwt.InvalidSignatureError:
            continue
    return jwt.decode(token, last, **options)


def user_token_verify(token: str) -> Principal:
    claims = jwt_decode(
        token, settings.JWT_PUBLIC_KEY, algorithms=["RS256"],
        options={"require": ["exp", "user_id", "token_type"]},
    )  # fmt: skip
    if claims.get("token_type") != "access":
        raise jwt.InvalidTokenError("not an access token")
    return Principal(id=int(claims["user_id"]), is_staff=bool(claims.get("is_staff", False)), token=token)


def service_token_issue(*, audience: str, on_behalf_of: int | None = None) -> str:
    """A fresh token from this service to ``audience``; ``on_behalf_of`` keeps ownership checks real."""
    now = int(time.time())
    claims = {"svc": settings.SERVICE_NAME, "aud": audience, "iat": now, "exp": now + SERVICE_TOKEN_SECONDS}
    if on_behalf_of is not None:
        claims["user_id"] = on_behalf_of
    kid, key = signing_key(settings.SERVICE_JWT_PRIVATE_KEY)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def service_token_get(*, audience: str, on_behalf_of: int | None = None) -> str:
    """A token for this call, reused for SERVICE_TOKEN_REUSE_SECONDS per (callee, user): an RSA
    signature per internal request is CPU the hot path (every transfer's reserve) need not pay."""
    window = int(time.time()) // SERVICE_TOKEN_REUSE_SECONDS
    return _service_token_cached(settings.SERVICE_NAME, audience, on_behalf_of, window)


@lru_cache(maxsize=4096)  # entries of past windows are simply evicted
def _service_token_cached(caller: str, audience: str, on_behalf_of: int | None, window: int) -> str:
    return service_token_issue(audience=audience, on_behalf_of=on_behalf_of)


def service_token_verify(token: str, *, caller: str) -> Principal:
    """``caller`` is the token's unverified ``svc``: it only chooses the public key, and only that
    service's key verifies. An unknown caller has no key and is refused."""
    public_key = settings.SERVICE_JWT_PUBLIC_KEYS.get(caller)
    if public_key is None:
        raise jwt.InvalidTokenError(f"unknown service {caller!r}")
    claims = jwt_decode(
        token, public_key, algorithms=["RS256"], audience=settings.SERVICE_NAME,
        options={"require": ["exp", "svc", "aud"]},
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
            caller = jwt.decode(token, options={"verify_signature": False}).get("svc")
            principal = user_token_verify(token) if caller is None else service_token_verify(token, caller=str(caller))
        except jwt.PyJWTError as exc:
            raise exceptions.AuthenticationFailed(f"Invalid token: {exc}", code="invalid_token") from None
        return principal, token

    def authenticate_header(self, request):
        return "Bearer"


class IsUser(permissions.BasePermission):
    """A user's own token (from the gateway): the default for every view. A service token is
    refused unless the view names its caller with ``internal_callers``."""

    def has_permission(self, request, view):
        user = request.user
        return bool(getattr(user, "is_authenticated", False) and user.id is not None and not user.service)


class IsStaffUser(IsUser):
    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.is_staff


def internal_callers(*services: str) -> type[permissions.BasePermission]:
    """Permission: a service token from one of ``services`` (the token's audience is already this
    service). Combine with users as ``[IsUser | internal_callers("gateway")]``."""
    unknown = set(services) - set(settings.SERVICE_JWT_PUBLIC_KEYS)
    if unknown or not services:
        known = sorted(settings.SERVICE_JWT_PUBLIC_KEYS)
        raise ValueError(f"internal_callers: no such service {sorted(unknown)}; known: {known}")
    callers = frozenset(services)

    class InternalCallers(permissions.BasePermission):
        def has_permission(self, request, view):
            return getattr(request.user, "service", None) in callers

    InternalCallers.__name__ = InternalCallers.__qualname__ = f"InternalCallers({', '.join(sorted(callers))})"
    return InternalCallers
