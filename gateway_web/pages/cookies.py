"""Browser sign-in: the JWT pair lives only in HttpOnly cookies, issued and rotated by the same
code the REST API uses (accounts.tokens); pages forward the access token to the services.

``TokenCookieMiddleware`` sets, on every page request (never /api/, which is bearer-only):
``request.access_token`` (a verified access token or None), ``request.refresh_token`` (the
refresh token the browser holds after this request, for logout), ``request.principal``
(walletkit Principal or None) and ``request.user`` (the gateway's user, for templates).
An expired access token is renewed from the refresh cookie transparently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions

from accounts.selectors import user_get_active
from accounts.tokens import refresh_token_live, token_pair_rotate
from walletkit.auth import Principal, user_token_verify

# Two requests of one page (a partial swap, the websocket's status fetch) can present the same
# expired access token at once. Only one may rotate the refresh token (the other would find it
# blacklisted and sign the user out), so the winner leaves the new pair here for a few seconds.
ROTATION_GRACE_SECONDS = 30
SKIPPED_PREFIXES = ("/api/", "/static/", "/healthz", "/readyz", "/metrics", "/internal/")


@dataclass
class _Renewal:
    access: str | None = None
    refresh: str | None = None
    clear: bool = False


def tokens_set(response: HttpResponse, *, access: str, refresh: str) -> None:
    common = {"httponly": True, "samesite": "Lax", "secure": settings.JWT_COOKIE_SECURE, "path": "/"}
    access_age = int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())
    refresh_age = int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds())
    response.set_cookie(settings.JWT_ACCESS_COOKIE, access, max_age=access_age, **common)
    response.set_cookie(settings.JWT_REFRESH_COOKIE, refresh, max_age=refresh_age, **common)


def tokens_clear(response: HttpResponse) -> None:
    for name in (settings.JWT_ACCESS_COOKIE, settings.JWT_REFRESH_COOKIE):
        response.delete_cookie(name, path="/", samesite="Lax")


def _verify(token: str | None) -> Principal | None:
    if not token:
        return None
    try:
        return user_token_verify(token)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None


def _grace_key(refresh: str) -> str:
    return "pages:rotated:" + hashlib.sha256(refresh.encode()).hexdigest()


def _graced(key: str) -> dict | None:
    """The pair a sibling request rotated to, while its refresh token still works: a logout (which
    blacklists it) ends the grace, or the old cookie would sign the browser back in."""
    pair = cache.get(key)
    if pair is None or not refresh_token_live(refresh=pair["refresh"]):
        return None
    return pair


def _rotate(refresh: str) -> dict | None:
    key = _grace_key(refresh)
    if (pair := _graced(key)) is not None:
        return pair
    try:
        pair = token_pair_rotate(refresh=refresh)
    except exceptions.AuthenticationFailed:
        return _graced(key)  # lost the race to a sibling request: use the pair it made
    cache.set(key, pair, timeout=ROTATION_GRACE_SECONDS)
    return pair


class TokenCookieMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(SKIPPED_PREFIXES):
            return self.get_response(request)
        renewal = self._authenticate(request)
        response = self.get_response(request)
        if settings.JWT_ACCESS_COOKIE in response.cookies:
            return response  # the view signed in or out itself
        if renewal.access:
            tokens_set(response, access=renewal.access, refresh=renewal.refresh)
        elif renewal.clear:
            tokens_clear(response)
        return response

    def _authenticate(self, request: HttpRequest) -> _Renewal:
        access = request.COOKIES.get(settings.JWT_ACCESS_COOKIE)
        refresh = request.COOKIES.get(settings.JWT_REFRESH_COOKIE)
        principal, renewal = _verify(access), _Renewal()
        if principal is None and refresh:
            pair = _rotate(refresh)
            if pair is not None:
                access, principal = pair["access"], _verify(pair["access"])
                renewal = _Renewal(access=pair["access"], refresh=pair["refresh"])
        user = user_get_active(user_id=principal.id) if principal is not None else None
        if user is None:
            request.access_token, request.refresh_token, request.principal = None, None, None
            request.user = AnonymousUser()
            return _Renewal(clear=bool(access or refresh))
        request.access_token, request.refresh_token = access, renewal.refresh or refresh
        request.principal, request.user = principal, user
        return renewal
