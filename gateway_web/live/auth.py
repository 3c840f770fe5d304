"""Who is on the other end of a websocket: the access-token cookie, else the Django session.

A token in the URL is never accepted (URLs end up in logs and browser history); a client
without a cookie sends its token as the first message instead (see consumers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt
from channels.auth import AuthMiddlewareStack
from channels.middleware import BaseMiddleware
from django.conf import settings

from walletkit.auth import user_token_verify


@dataclass(frozen=True)
class LiveIdentity:
    user_id: int
    expires_at: float | None  # the token's exp (epoch seconds); None for a session


class InvalidToken(Exception):
    pass


def identity_from_token(token: object) -> LiveIdentity:
    """Raises InvalidToken for anything but a valid, unexpired access token."""
    if not isinstance(token, str) or not token:
        raise InvalidToken("no token")
    try:
        principal = user_token_verify(token)
        # The signature and exp were just verified; this only reads exp back.
        expires_at = float(jwt.decode(token, options={"verify_signature": False})["exp"])
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    return LiveIdentity(user_id=principal.id, expires_at=expires_at)


class AccessTokenCookieMiddleware(BaseMiddleware):
    """Sets ``scope["live_identity"]``: a LiveIdentity, None (authenticate by first message),
    or ``INVALID`` when the cookie holds a bad or expired token and there is no session."""

    INVALID = "invalid"

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        scope["live_identity"] = self._identity(scope)
        return await super().__call__(scope, receive, send)

    def _identity(self, scope) -> LiveIdentity | str | None:
        token = scope.get("cookies", {}).get(settings.JWT_ACCESS_COOKIE)
        if token:
            try:
                return identity_from_token(token)
            except InvalidToken:
                pass
        user = scope.get("user")
        if user is not None and user.is_authenticated:
            return LiveIdentity(user_id=user.id, expires_at=None)
        return self.INVALID if token else None


def LiveAuthMiddlewareStack(inner):  # noqa: N802 — named like Channels' AuthMiddlewareStack
    """Cookies, session and session user (Channels), then the access-token cookie."""
    return AuthMiddlewareStack(AccessTokenCookieMiddleware(inner))
