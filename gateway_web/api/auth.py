"""Who may call the public API: a user presenting the gateway's own RS256 access token, nothing else."""

from __future__ import annotations

import jwt
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from walletkit.auth import user_token_verify


class GatewayBearerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <access token>``, verified with the public key, RS256 only.

    Service tokens are not routed here at all: the public API never acts as another service.
    The verified token is kept as ``request.auth`` so it can be forwarded unchanged.
    """

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.", code="token_not_valid")
        token = header[1].decode(errors="replace")
        try:
            principal = user_token_verify(token)
        except (jwt.PyJWTError, ValueError, TypeError):
            raise exceptions.AuthenticationFailed("Token is invalid or expired.", code="token_not_valid") from None
        return principal, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class IsUser(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(getattr(user, "is_authenticated", False) and user.id is not None and not user.service)


class GatewayBearerScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.GatewayBearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
